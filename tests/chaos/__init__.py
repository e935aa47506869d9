"""The harness's tests, one file per module of chaos/ (the checker's in checker/)."""
