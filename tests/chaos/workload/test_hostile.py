"""The hostile member: in the default mode every attack is refused and honest members lose nothing;
against a gate that lets admin calls through, the attacker sees its attack succeed and says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.history import History, read
from chaos.workload.hostile import ATTACKS, TOKEN_ATTACKS, HostileClient, Victim
from tests.system.system_harness import cluster


@pytest.mark.chaos
def test_in_the_default_mode_every_attack_is_refused_and_the_honest_lose_nothing(chaos) -> None:
    result = chaos.run_yaml("""
        name: hostile-default
        topology: {clients: [alice, bob], hostile: [mallory], rooms: [General], limits: {call_rate: 20, call_burst: 40}}
        workload: {duration: 4, rate: 8}
        expect: {hostile_attempts: ">= 1", hostile_accepted: "== 0", lost: "== 0", duplicates: "== 0",
                 sends_failed: "== 0"}
    """)
    assert result.passed, result.explain()
    results = json.loads((result.run.out / "results.json").read_text())["results"]
    tried = {a["attack"]: a for a in results["hostile_attacks"]}
    assert set(tried) == set(ATTACKS) - set(TOKEN_ATTACKS)  # no tokens to replay in this mode
    assert all(a["accepted"] == 0 and sum(a["refused"].values()) == a["attempts"] for a in tried.values())
    for attack in ("flood", "session_rotation", "member_flood"):  # a fresh session value per call dodges nothing
        assert set(tried[attack]["refused"]) == {"RESOURCE_EXHAUSTED"}, tried[attack]
    for attack in ("nul_poison", "name_games"):  # refused at the door, before any store or claim
        assert set(tried[attack]["refused"]) == {"INVALID_ARGUMENT"}, tried[attack]
    assert set(tried["delete_room"]["refused"]) == {"PERMISSION_DENIED"}
    assert set(tried["cross_site_fault_post"]["refused"]) == {"PERMISSION_DENIED"}  # HTTP 403


async def test_an_attack_that_goes_through_is_recorded_as_accepted(tmp_path: Path) -> None:
    async with cluster(gate={"allow_admin_calls": True}) as c:
        bob, _ = await c.client("bob")
        history = History(tmp_path / "history.jsonl")
        mallory = HostileClient("mallory", c.gates[0].addr, history, ["General"],
                                lambda: [Victim("bob", bob.client_id)])
        try:
            await mallory.attempt("delete_room")
            await mallory.attempt("hijack_call")
        finally:
            await mallory.close()
            history.close()
    outcomes = [(op.type, op.value.get("attack")) for op in read(tmp_path / "history.jsonl") if op.type != "invoke"]
    assert outcomes == [("ok", "delete_room"), ("fail", "hijack_call")]


def test_with_tokens_the_token_attacks_open_the_rotation(tmp_path: Path) -> None:
    """A short run on a busy machine makes a handful of attacks: with tokens, those come first, so that
    the expired and forged token are tried in every run that checks tokens (a CTK run at load 25 made
    10 attacks and never reached them at the end of the rotation)."""
    history = History(tmp_path / "h.jsonl")
    with_tokens = HostileClient("mallory", "127.0.0.1:1", history, ["General"], lambda: [], token="t")
    without = HostileClient("mallory", "127.0.0.1:1", history, ["General"], lambda: [])
    assert with_tokens.attacks[:len(TOKEN_ATTACKS)] == TOKEN_ATTACKS
    assert set(with_tokens.attacks) == set(ATTACKS)
    assert not set(without.attacks) & set(TOKEN_ATTACKS)
