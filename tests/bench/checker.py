"""``python -m tests.bench.checker``: how long ``check()`` takes on synthetic histories of growing size.

A checker that is linear in the history keeps its time per event flat as
the history grows; this prints that figure for each size (best of
``--repeat`` runs), as wall time and as the process's CPU time (which
other work on a shared machine does not inflate), and the peak memory of
the process that built and judged it (each size in a fresh process).
``--run FOLDER`` judges a real run's folder the same way. The history is a valid run, so every rule does its
whole work: members in several rooms send, the others show each message
by push or (after a logged, counted push failure) by poll, some sends end
indefinite or failed, faults open and heal, clients reconnect, and every
member makes its final poll. Run on demand, never as a test.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import time
from pathlib import Path
from typing import Any

from chaos.checker import check
from chaos.history import Op, read as read_history
from chaos.rundir import RunFolder



def synthetic_run(events: int, rooms: int = 4, members: int = 6, seed: int = 1
                  ) -> tuple[list[Op], dict[str, list[dict[str, Any]]], dict[str, dict[str, float]]]:
    """A valid run of about ``events`` history records, with its node/gate logs and metrics."""
    rng = random.Random(seed)
    ops: list[Op] = []

    def add(process: str, type_: str, f: str, **value: Any) -> None:
        ops.append(Op(len(ops), round(0.001 * (len(ops) + 1), 6), process, type_, f, value))

    room_names = [f"room{r}" for r in range(rooms)]
    people = {room: [f"{room}-u{m}" for m in range(members)] for room in room_names}
    for room, names in people.items():
        for who in names:
            add(who, "invoke", "join", room=room)
            add(who, "ok", "join", room=room, client_id=f"127.0.0.1:1/{who}", last_seq=0)
    add("runner", "info", "phase", name="workload")
    stored: dict[str, list[dict[str, Any]]] = {room: [] for room in room_names}
    node_log: list[dict[str, Any]] = []
    fault, sent = 0, 0
    final = rooms * members + 2
    while len(ops) < events - final:
        room = rng.choice(room_names)
        sender = rng.choice(people[room])
        cmid = f"{sender}-{sent}"
        sent += 1
        if sent % 97 == 0:
            phase = "heal" if fault % 2 else "start"
            add("nemesis", "info", "fault", fault="stop_reading", target=f"client {sender}", phase=phase,
                params={}, id=fault // 2)
            fault += 1
        if sent % 211 == 0:
            add(sender, "ok", "reconnect", attempt=1, client_id=f"127.0.0.1:1/{sender}-{sent}", recovered=0)
        add(sender, "invoke", "send", room=room, client_msg_id=cmid, text="x")
        luck = rng.random()
        if luck < 0.01:
            add(sender, "fail", "send", room=room, client_msg_id=cmid, error="UNAVAILABLE: connection refused")
            continue
        if luck < 0.02:
            add(sender, "info", "send", room=room, client_msg_id=cmid, error="DEADLINE_EXCEEDED")
            if luck < 0.015:
                continue  # never stored
        seq = len(stored[room]) + 1
        stored[room].append({"seq": seq, "client_msg_id": cmid, "sender": sender})
        if luck >= 0.02:
            add(sender, "ok", "send", room=room, client_msg_id=cmid, seq=seq, timestamp=1, duplicate=False)
        for who in people[room]:
            if who == sender:
                continue
            source = "push" if rng.random() < 0.9 else "poll"
            if source == "poll":
                node_log.append({"ts": 1.0, "level": "WARNING", "component": "node", "event": "push_failed",
                                 "room": room, "user": who, "client_id": f"127.0.0.1:1/{who}",
                                 "reason": "gate_buffer_full", "seq": seq, "sender": sender})
            add(who, "ok", "deliver", room=room, seq=seq, client_msg_id=cmid, sender=sender, source=source)
    add("runner", "info", "phase", name="final_poll")
    for room, names in people.items():
        for who in names:
            add(who, "ok", "final_poll", room=room, messages=stored[room])
    add("runner", "info", "phase", name="done")
    logs = {"node0": node_log, "gate0": []}
    metrics = {"node0": {'pushchat_push_failed_total{reason="gate_buffer_full"}': float(len(node_log))},
               "gate0": {'pushchat_push_dropped_total{reason="client_buffer_full"}': 0.0}}
    return ops, logs, metrics


def _measure(job: tuple[str, Any, int, int, int]) -> tuple[int, float, float, float, str]:
    """In a fresh process: build or read the history, then time ``check()``; its peak RSS says what a
    history of that size costs (the history itself included)."""
    what, arg, repeat, rooms, members = job
    started = time.perf_counter()
    if what == "run":
        folder = RunFolder(arg)
        ops = read_history(folder.history)
        logs, metrics = folder.read_server_logs(), folder.read_metrics()
    else:
        ops, logs, metrics = synthetic_run(arg, rooms=rooms, members=members)
    load_s = time.perf_counter() - started
    best, best_cpu, verdict = float("inf"), float("inf"), ""
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        verdict = check(ops, logs, metrics).verdict
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)  # what other work on the machine does not move
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return len(ops), load_s, best, best_cpu, peak_mib, verdict


def time_check(events: int, repeat: int, rooms: int = 4, members: int = 6) -> tuple[int, float, str]:
    """Best wall time of ``check()`` over ``repeat`` runs; the history's size and the verdict."""
    n, _, best, _, _, verdict = _measure(("synthetic", events, repeat, rooms, members))
    return n, best, verdict


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.checker", description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int,
                        help="history sizes (records; default 10000 100000, none with --run)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the best is shown (default 3)")
    parser.add_argument("--rooms", type=int, default=4, help="rooms of the synthetic history (default 4)")
    parser.add_argument("--members", type=int, default=6, help="members per room (default 6)")
    parser.add_argument("--run", action="append", default=[], metavar="FOLDER",
                        help="also judge a finished run's folder (history.jsonl, logs/, metrics.json), "
                             "e.g. of load-baseline; may be given more than once")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([] if args.run else [10_000, 100_000])
    jobs = [("synthetic", size, args.repeat, args.rooms, args.members) for size in sizes]
    jobs += [("run", folder, args.repeat, 0, 0) for folder in args.run]
    print(f"{'history':<28}  {'records':>9}  {'load s':>7}  {'check() s':>9}  {'cpu s':>7}  {'cpu us/rec':>10}  "
          f"{'peak MiB':>8}  verdict")
    spawn = multiprocessing.get_context("spawn")
    for job in jobs:
        with spawn.Pool(1) as pool:  # one process per size: its peak RSS is that size's alone
            n, load_s, seconds, cpu, peak, verdict = pool.apply(_measure, (job,))
        what = (f"synthetic {job[3]}x{job[4]}" if job[0] == "synthetic" else Path(job[1]).name)[:28]
        print(f"{what:<28}  {n:>9}  {load_s:>7.2f}  {seconds:>9.3f}  {cpu:>7.2f}  {cpu / max(n, 1) * 1e6:>10.2f}  "
              f"{peak:>8.0f}  {verdict}", flush=True)


if __name__ == "__main__":
    main()
