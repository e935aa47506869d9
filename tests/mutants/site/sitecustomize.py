"""Plant the mutant named by ``PUSHCHAT_MUTANT`` in this process, at start (test-only).

This folder is put on ``PYTHONPATH`` by ``python -m tests.mutants`` alone, so
Python imports this module at start-up in the chaos runner and in every node
and gate it spawns (they inherit the environment). Each process that planted
the mutant appends one line to ``PUSHCHAT_MUTANT_LOG``, so the runner can tell
a mutant that was planted from a switch that silently did nothing.
"""

import os

_name = os.environ.get("PUSHCHAT_MUTANT")
if _name:
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # as chaos/cli/main.py sets it before gRPC is imported
    from tests.mutants.registry import apply

    apply(_name)
    _log = os.environ.get("PUSHCHAT_MUTANT_LOG")
    if _log:
        with open(_log, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {_name}\n")
