"""What a finished run or campaign shows: tables and plots, report.html, JUnit XML and the Chaos Toolkit journal."""
