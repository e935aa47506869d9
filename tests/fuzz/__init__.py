"""Property-based fuzzing (Hypothesis) of the gate, the node, the Toxiproxy API and scenario files.

``tests/fuzz/test_fuzz.py`` runs each target briefly with the suite;
``python -m tests.fuzz --examples 100000`` runs them long and prints a table
of outcomes per target (figures in docs/security.md).
"""
