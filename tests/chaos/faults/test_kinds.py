"""Fault kinds: each a registered entry with its parameters; extensions follow from the toxic registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chaos.faults.fault import make_fault
from chaos.faults.kinds import EXTENSION_KINDS, KINDS, FaultError, check_params, register, toxic
from chaos.faults.kinds import STAND_INS
from chaos.naming import CLIENT, LINK, PROCESS, SERVER
from chaos.toxiproxy.toxics import EXTENSIONS


def test_params_get_defaults_and_are_checked():
    assert make_fault("latency", "all links", 0, 1).params == {"latency_ms": 200, "jitter_ms": 50, "stream": "both"}
    assert make_fault("latency", "all links", 0, 1, {"latency_ms": 5}).params["latency_ms"] == 5
    for params, field, message in [({"latency": 5}, "latency", "unknown parameter"),
                                   ({"latency_ms": -1}, "latency_ms", ">= 0"),
                                   ({"latency_ms": "x"}, "latency_ms", "must be a number"),
                                   ({"stream": "sideways"}, "stream", "must be one of")]:
        with pytest.raises(FaultError, match=message) as info:
            make_fault("latency", "all links", 0, 1, params)
        assert info.value.field == field
    with pytest.raises(FaultError) as info:
        make_fault("latency", "all links", 0, 0)
    assert info.value.field == "duration"
    assert EXTENSION_KINDS == set()  # stall has a standard stand-in (chaos.faults.kinds.STAND_INS)
    for params, field, message in [({"percent": 101}, "percent", "<= 100"), ({"room": 3}, "room", "must be a word"),
                                   ({"method": "Send"}, "method", "must be one of any, Join")]:
        with pytest.raises(FaultError, match=message) as info:
            make_fault("rpc_abort", "node 0", 0, 1, params)
        assert info.value.field == field
    assert make_fault("clock", "node 0", 0, 1, {"jump_s": -60}).params == {"jump_s": -60, "rate": 1.0}




def test_an_old_kind_name_gets_the_new_one_as_a_hint():
    with pytest.raises(FaultError, match=r"unknown fault kind 'reset' \(did you mean 'reset_peer'\?\)") as info:
        check_params("reset", None)
    assert info.value.field == "kind"
    with pytest.raises(FaultError, match="did you mean 'reset_peer'"):
        make_fault("reset", "client bob", 0, 1)
    with pytest.raises(FaultError, match=r"unknown fault kind 'smoke' \(known: latency, bandwidth, reset_peer, "):
        check_params("smoke", None)


def test_a_kind_is_an_extension_exactly_when_its_toxic_is_one_with_no_stand_in():
    assert {k.toxic for k in KINDS.values() if k.extension} <= EXTENSIONS
    for kind in KINDS.values():
        assert kind.extension == (kind.toxic in EXTENSIONS and kind.toxic not in STAND_INS), kind.name
    # nothing but the toxic says so: the extension toxic `reset` makes a kind an extension, `reset_peer` does not
    assert toxic("rst", "reset", lambda p: {}).extension is True
    assert toxic("rst", "reset_peer", lambda p: {}).extension is False


def test_server_kinds_take_only_the_targets_they_can_act_on():
    for kind, target in [("store_fail", "gate 0"), ("rpc_delay", "gate 0 -> node 1"), ("clock", "client bob"),
                         ("push_drop", "all clients"), ("push_drop", "all links")]:
        with pytest.raises(FaultError) as info:
            make_fault(kind, target, 0, 1)
        assert info.value.field == "target", (kind, target)
    assert make_fault("push_drop", "client bob", 0, 1).category == SERVER


def test_the_registry_refuses_a_second_entry_of_a_name_and_a_toxic_no_module_registers():
    with pytest.raises(ValueError, match="'latency' is registered twice"):
        register(toxic("latency", "latency", lambda p: {}))
    with pytest.raises(ValueError, match="adds toxic 'smoke', which no toxic module registers"):
        register(toxic("smoke", "smoke", lambda p: {}))
    assert "smoke" not in KINDS


def test_the_users_table_of_kinds_is_the_registry():
    readme = (Path(__file__).resolve().parents[3] / "scenarios" / "README.md").read_text()
    table = readme[readme.index("| kind | target |"):]
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \|", table[:table.index("\n\n")], re.M)
    plural = {LINK: "links", PROCESS: "processes", CLIENT: "clients", SERVER: "servers"}
    assert rows == [(k.name, plural[k.applies_to]) for k in KINDS.values()]
    for kind in KINDS.values():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{kind.name}` |"))
        assert ("**extension**" in row) == kind.extension, row
        for name, param in kind.params.items():
            assert f"`{name}` ({param.default})" in row, row
