"""The checker's rules, one module each; this list of imports is their registration order.

To add a rule: write ``rules/<name>.py`` with a function decorated with
``@rule(name, owns=..., kinds=..., needs=...)`` (see ``base.py``), import it
here, and give it ``tests/chaos/checker/rules/test_<name>.py``.
"""

from __future__ import annotations

# isort: off  (the order below is the order of the violations in the results)
from chaos.checker.rules import send_failed_by_push  # noqa: F401 (registers)
from chaos.checker.rules import sends  # noqa: F401
from chaos.checker.rules import throughput  # noqa: F401
from chaos.checker.rules import durability  # noqa: F401
from chaos.checker.rules import conflicting_seq  # noqa: F401
from chaos.checker.rules import numbering  # noqa: F401
from chaos.checker.rules import stored_once  # noqa: F401
from chaos.checker.rules import timestamps  # noqa: F401
from chaos.checker.rules import failover  # noqa: F401
from chaos.checker.rules import members  # noqa: F401
from chaos.checker.rules import stored_members  # noqa: F401
from chaos.checker.rules import rooms  # noqa: F401
from chaos.checker.rules import latency  # noqa: F401
from chaos.checker.rules import recovery  # noqa: F401
from chaos.checker.rules import push_logs  # noqa: F401
from chaos.checker.rules import accounting  # noqa: F401
from chaos.checker.rules import streams  # noqa: F401
from chaos.checker.rules import echo  # noqa: F401
from chaos.checker.rules import injected  # noqa: F401
from chaos.checker.rules import faults  # noqa: F401
from chaos.checker.rules import reconnects  # noqa: F401
from chaos.checker.rules import reconnected  # noqa: F401
from chaos.checker.rules import hostile  # noqa: F401
from chaos.checker.rules import member_lists  # noqa: F401
from chaos.checker.rules import receipts  # noqa: F401
from chaos.checker.rules import read_replies  # noqa: F401
from chaos.checker.rules import typing_indicators  # noqa: F401
from chaos.checker.rules import detection  # noqa: F401
from chaos.checker.rules import completeness  # noqa: F401
# isort: on
from chaos.checker.rules.base import RULES, Finding, Rule, register, rule, unregister

__all__ = ["RULES", "Finding", "Rule", "register", "rule", "unregister"]
