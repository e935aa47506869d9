"""The fault model: fault kinds and their parameters, targets, schedules, and the nemesis that applies them.

Nothing here imports ``chaos.infra`` or gRPC (tests/test_layers.py): the kinds act on
what they are handed, through the Protocols in ``kinds.py``.
"""

# The IP-layer kinds (net_*) build on kinds.py and register into its KINDS when imported. Importing them
# here, the package's first step, gives every ``chaos.faults.*`` import the whole registry without
# kinds.py importing a module that imports it (a cycle).
from chaos.faults import net_kinds  # noqa: F401
