"""Presence converges: after the heal and the final poll, each member's list of the room's members is the room's.

The room's members are those whose join succeeded and who did not leave
(every chaos client joins each of its rooms). Joins and leaves are pushed
best effort (a big room's batched), and every join, poll and heartbeat
reply brings what changed since the version of the list the client holds,
so after the final poll no member may be missing or extra in anyone's view,
whatever pushes were lost. Two checks on each member's final list
(``final_presence``; judged only for runs that record them):

- against the room: a member missing (a delta missed and never made good)
  or one still shown after it left (a stale list) is ``presence_diverged``;
- against the others: a version of the list is one set of members, so two
  members holding the same version (of the same origin) must show the same
  members. One that moved its version on without a change (a delta lost)
  differs from those that got it: ``presence_version_split``, found even
  where the history cannot say who the room's members are.

A big room's list is recorded in full once per distinct list and by its
digest (``chaos.history.names_digest``) otherwise (``chaos/presence.py``).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from chaos.checker.evidence import Evidence
from chaos.checker.rules.base import Finding, rule
from chaos.history import Op, names_digest

SHOWN_NAMES = 5  # names a violation quotes of a list (a big room's is thousands)


def _some(names: set[str] | frozenset[str]) -> str:
    listed = sorted(names)
    more = f" and {len(listed) - SHOWN_NAMES} more" if len(listed) > SHOWN_NAMES else ""
    return ", ".join(listed[:SHOWN_NAMES]) + more


def _lists(records: list[Op]) -> dict[int, frozenset[str] | str]:
    """Each record's list (by index): its names, found in it or in a record of the same digest; else the digest."""
    by_digest = {names_digest(op.value["members"]): frozenset(op.value["members"]) for op in records
                 if isinstance(op.value.get("members"), list)}
    lists: dict[int, frozenset[str] | str] = {}
    for op in records:
        named = op.value.get("members")
        if isinstance(named, list):
            lists[op.index] = frozenset(named)
        else:
            digest = str(op.value.get("digest", ""))
            lists[op.index] = by_digest.get(digest, digest)
    return lists


@rule("presence", owns=("presence_checked", "presence_diverged"),
      kinds=("presence_diverged", "presence_version_split"), requires=("presence",))
def presence(ev: Evidence) -> Finding:
    found = Finding()
    records = ev.presence.get("final_presence", [])
    lists = _lists(records)
    diverged: set[tuple[str, str]] = set()
    members: dict[str, frozenset[str]] = {}
    for op in records:
        room = str(op.value.get("room", ""))
        if room not in members:
            members[room] = frozenset(m for (r, m) in ev.joined if r == room and (r, m) not in ev.left)
        expected, shown = members[room], lists[op.index]
        if isinstance(shown, str):  # only a digest, of a list recorded nowhere in full
            if shown != names_digest(expected):
                diverged.add((room, op.process))
                found.violation("presence_diverged", f"after the final poll {op.process} showed {room}'s members as "
                                f"{op.value.get('count', '?')} names (digest {shown[:12]}), not the room's "
                                f"{len(expected)}", room, op.process)
        elif shown != expected:
            diverged.add((room, op.process))
            parts = [f"missing {_some(expected - shown)}" if expected - shown else "",
                     f"extra {_some(shown - expected)}" if shown - expected else ""]
            found.violation("presence_diverged", f"after the final poll {op.process} showed {len(shown)} of {room}'s "
                            f"members, the room has {len(expected)} ({'; '.join(p for p in parts if p)})",
                            room, op.process)
    for split in _version_splits(records, lists):
        op, common, count = split
        room = str(op.value.get("room", ""))
        diverged.add((room, op.process))
        found.violation("presence_version_split", f"{op.process} holds version {op.value.get('version')} of {room}'s "
                        f"list as {count} other members do, yet shows other members than they do "
                        f"({_difference(lists[op.index], common)})", room, op.process)
    found.values.update(presence_checked=len(records), presence_diverged=len(diverged))
    return found


def _version_splits(records: list[Op], lists: dict[int, frozenset[str] | str]
                    ) -> list[tuple[Op, frozenset[str] | str, int]]:
    """Records whose list differs from the one most members at the same (room, origin, version) show:
    (record, that list, how many show it)."""
    held: dict[tuple[str, int, int], list[Op]] = defaultdict(list)
    for op in records:
        version, origin = op.value.get("version"), op.value.get("origin")
        if isinstance(version, int) and isinstance(origin, int) and version and origin:
            held[(str(op.value.get("room", "")), origin, version)].append(op)
    splits = []
    for ops in held.values():
        tally = Counter(lists[op.index] for op in ops)
        if len(tally) < 2:
            continue
        common, count = tally.most_common(1)[0]
        splits += [(op, common, count) for op in ops if lists[op.index] != common]
    return splits


def _difference(shown: frozenset[str] | str, common: frozenset[str] | str) -> str:
    if isinstance(shown, str) or isinstance(common, str):
        return "their lists differ by digest"
    parts = [f"missing {_some(common - shown)}" if common - shown else "",
             f"extra {_some(shown - common)}" if shown - common else ""]
    return "; ".join(p for p in parts if p)
