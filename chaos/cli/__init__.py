"""The ``pushchat`` command and its harness sub-commands (``main`` dispatches; one module per sub-command)."""
