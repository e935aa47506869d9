"""Soaks: one long-lived topology under a scenario's repeated fault schedule, its servers sampled every
interval (``samples``), each resource's trend fitted and judged against an allowance (``trend``), driven by
``runner``. The command is ``chaos.cli.soak``; the report ``chaos.reports.soak``."""
