"""``python -m tests.bench.checker_scale``: the streaming checker's wall time and peak memory, 10^4 to 10^7 records.

For each size it writes a run folder as a run leaves it (``history.jsonl``,
``logs/node0.1.log``, ``logs/gate0.1.log``, ``metrics.json``) with a
synthetic history of a real run's shape: several rooms of members who
send (some sends fail, some end indefinite), the node pushes each message
to the others (a ``push`` record, then a ``deliver``), a push that failed
(logged and counted) is repaired by a poll, faults open and heal, clients
lose their stream and reconnect, and every member makes its final poll;
the store is durable, so the durable-store rules judge too. Then, in a
fresh process, it judges that folder as ``pushchat chaos check`` does
(the history streamed from its file) and prints records, wall time, CPU
time and that process's peak RSS. The verdict must be ``valid``.
Run on demand, never as a test: 10^7 records take a few minutes to write.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

import orjson

SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
LIMIT_S, LIMIT_MIB = 60.0, 2048.0  # issue 27's goal at 10^7 records


class _Writer:
    """Writes history lines as ``chaos.history.History`` does, with times 0.5 ms apart."""

    def __init__(self, out: TextIO) -> None:
        self.out, self.index = out, 0

    def add(self, process: str, type_: str, f: str, **value: Any) -> None:
        self.out.write(orjson.dumps({"index": self.index, "time": round(0.0005 * (self.index + 1), 6),
                                     "process": process, "type": type_, "f": f, "value": value}).decode() + "\n")
        self.index += 1


def write_run(folder: Path, records: int, rooms: int = 4, members: int = 6, seed: int = 1) -> int:
    """A valid run folder with about ``records`` history records; returns how many it has."""
    rng = random.Random(seed)
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    names = [f"room{r}" for r in range(rooms)]
    people = {room: [f"{room}-u{m}" for m in range(members)] for room in names}
    cid = {who: f"127.0.0.1:1/{who}-0" for room in names for who in people[room]}
    pushed_to: dict[str, int] = {}   # client id -> pushes its gate wrote to it
    gate_log: list[dict[str, Any]] = []
    node_failed = 0
    stored: dict[str, list[dict[str, Any]]] = {room: [] for room in names}
    ts = 1_800_000_000_000_000
    with open(folder / "history.jsonl", "w", encoding="utf-8") as out, \
            open(folder / "logs" / "node0.1.log", "w", encoding="utf-8") as node_log:
        w = _Writer(out)
        w.add("runner", "info", "phase", name="setup", store="sqlite", started_at=1_800_000_000.0)
        for room in names:
            for who in people[room]:
                w.add(who, "invoke", "connect")
                w.add(who, "ok", "connect", client_id=cid[who])
                gate_log.append({"event": "client_registered", "client_id": cid[who]})
                w.add(who, "invoke", "join", room=room)
                w.add(who, "ok", "join", room=room, client_id=cid[who], last_seq=0)
        w.add("runner", "info", "phase", name="workload")
        final = rooms * members + 2
        sent = faults = 0
        while w.index < records - final:
            room = rng.choice(names)
            sender = rng.choice(people[room])
            cmid = f"{sender}-{sent}"
            sent += 1
            if sent % 499 == 0:
                target = rng.choice(people[room])
                w.add("nemesis", "info", "fault", fault="stop_reading", target=f"client {target}",
                      phase="heal" if faults % 2 else "start", params={}, id=faults // 2)
                faults += 1
            if sent % 997 == 0:  # a member loses its stream and comes back with a new client id
                who = rng.choice(people[room])
                gate_log.append({"event": "client_unregistered", "client_id": cid[who], "sent": pushed_to.pop(cid[who], 0)})
                w.add(who, "info", "stream_end", error="UNAVAILABLE")
                w.add(who, "invoke", "reconnect", attempt=1)
                cid[who] = f"127.0.0.1:1/{who}-{sent}"
                gate_log.append({"event": "client_registered", "client_id": cid[who]})
                w.add(who, "ok", "reconnect", attempt=1, client_id=cid[who], recovered=0)
            w.add(sender, "invoke", "send", room=room, client_msg_id=cmid, text="hello there")
            luck = rng.random()
            if luck < 0.01:
                w.add(sender, "fail", "send", room=room, client_msg_id=cmid, error="UNAVAILABLE: connection refused")
                continue
            if luck < 0.02:
                w.add(sender, "info", "send", room=room, client_msg_id=cmid, error="DEADLINE_EXCEEDED")
                if luck < 0.015:
                    continue  # never stored
            seq = len(stored[room]) + 1
            ts += 1000
            stored[room].append({"seq": seq, "client_msg_id": cmid, "sender": sender, "text": "hello there",
                                 "timestamp": ts})
            if luck >= 0.02:
                w.add(sender, "ok", "send", room=room, client_msg_id=cmid, seq=seq, timestamp=ts, duplicate=False)
            for who in people[room]:
                if who == sender:
                    continue
                if rng.random() < 0.02:  # the push failed on the node: logged, counted, and a poll repairs it
                    node_failed += 1
                    node_log.write(json.dumps({"ts": "2027-01-15T08:00:00Z", "level": "WARNING", "component": "node",
                                               "event": "push_failed", "room": room, "user": who,
                                               "client_id": cid[who], "reason": "gate_buffer_full", "seq": seq,
                                               "sender": sender}) + "\n")
                    w.add(who, "ok", "poll", room=room, after=seq - 1, count=1)
                    source = "poll"
                else:
                    pushed_to[cid[who]] = pushed_to.get(cid[who], 0) + 1
                    w.add(who, "ok", "push", room=room, seq=seq, client_msg_id=cmid, sender=sender)
                    source = "push"
                w.add(who, "ok", "deliver", room=room, seq=seq, client_msg_id=cmid, sender=sender, source=source)
        w.add("runner", "info", "phase", name="final_poll")
        for room in names:
            for who in people[room]:
                w.add(who, "ok", "final_poll", room=room, messages=stored[room])
        w.add("runner", "info", "phase", name="done")
        n = w.index
    for client_id, count in pushed_to.items():
        gate_log.append({"event": "client_unregistered", "client_id": client_id, "sent": count})
    with open(folder / "logs" / "gate0.1.log", "w", encoding="utf-8") as gate:
        for line in gate_log:
            gate.write(json.dumps({"ts": "2027-01-15T08:00:00Z", "level": "INFO", "component": "gate", **line}) + "\n")
    attempted = sum(len(people[r]) - 1 for r in names for _ in stored[r])
    pushes = sum(line.get("sent", 0) for line in gate_log)  # every client's count is in its unregistered line
    (folder / "metrics.json").write_text(json.dumps({
        "node0": {"pushchat_push_attempted_total": attempted, "pushchat_push_delivered_total": attempted - node_failed,
                  'pushchat_push_failed_total{reason="gate_buffer_full"}': node_failed},
        "gate0": {"pushchat_push_attempted_total": pushes, "pushchat_push_delivered_total": pushes},
    }))
    return n


def judge_folder(folder: Path) -> dict[str, Any]:
    """In this process: judge a run folder as ``pushchat chaos check`` does; what it cost."""
    from chaos.checker import check
    from chaos.history import records
    from chaos.rundir import RunFolder

    run = RunFolder(folder)
    wall, cpu = time.perf_counter(), time.process_time()
    results = check(records(run.history), run.read_server_logs(), run.read_metrics())
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "verdict": results.verdict,
            "violations": [v.reason for v in results.violations[:3]], "incomplete": results.incomplete[:3]}


def measure(folder: Path) -> dict[str, Any]:
    """Judge ``folder`` in a fresh interpreter, so that its peak RSS is that judgement's alone."""
    done = subprocess.run([sys.executable, "-m", "tests.bench.checker_scale", "--judge", str(folder)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.checker_scale", description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, help=f"history sizes in records (default {' '.join(map(str, SIZES))})")
    parser.add_argument("--rooms", type=int, default=4, help="rooms (default 4)")
    parser.add_argument("--members", type=int, default=6, help="members per room (default 6)")
    parser.add_argument("--keep", metavar="DIR", help="write the run folders here and keep them; a folder kept "
                        "by an earlier run of the same size and shape is judged again, not written again")
    parser.add_argument("--judge", metavar="FOLDER", help=argparse.SUPPRESS)  # the measuring child
    args = parser.parse_args(argv)
    if args.judge:
        print(json.dumps(judge_folder(Path(args.judge))))
        return 0
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="checker-scale-"))
    print("| records | history MiB | write s | check wall s | check cpu s | cpu µs/record | peak MiB | verdict |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|", flush=True)
    worst = 0
    try:
        for size in args.sizes or SIZES:
            folder = root / f"synthetic-{size}-{args.rooms}x{args.members}"
            shape = {"records": size, "rooms": args.rooms, "members": args.members}
            started = time.perf_counter()
            made = folder / "synthetic.json"
            if args.keep and made.exists() and json.loads(made.read_text())["shape"] == shape:
                n, wrote = json.loads(made.read_text())["written"], 0.0
            else:
                n = write_run(folder, size, args.rooms, args.members)
                wrote = time.perf_counter() - started
                made.write_text(json.dumps({"shape": shape, "written": n}))
            got = measure(folder)
            mib = (folder / "history.jsonl").stat().st_size / 2**20
            print(f"| {n:,} | {mib:,.0f} | {wrote:.0f} | {got['wall_s']:.1f} | {got['cpu_s']:.1f} | "
                  f"{got['cpu_s'] / n * 1e6:.1f} | {got['peak_mib']:,.0f} | {got['verdict']} |", flush=True)
            if got["verdict"] != "valid":
                print(f"  not valid: {got['violations']} {got['incomplete']}", file=sys.stderr)
                worst = 1
            if not args.keep:
                shutil.rmtree(folder)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return worst


if __name__ == "__main__":
    sys.exit(main())
