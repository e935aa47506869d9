"""``python -m tests.bench.reconnect``: how fast a client notices a broken link and is caught up again.

Same stage as the demos (Toxiproxy, node and gate as OS processes, alice and
bob behind proxies), default client settings (keepalive 1 s, ping timeout
1 s, backoff 0.1 s doubling to a 2 s cap, full jitter). Per fault and round:
the fault is applied, alice sends 5 messages, the fault is healed once bob
has noticed it (a blackhole is healed after 3 s) and we measure

- notice: fault applied → bob's stream ends;
- back: heal → bob re-registered, re-joined and recovered (``on_reconnected``);
- outage: fault applied → every message shown, exactly once.

Prints one table; run on demand (about a minute), never as a test.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from chaos.cli.demo import ROOM, BobsScreen, Narrator, Stage
from system import log
from system.grpcopts import DEFAULT_KEEPALIVE
from system.wait import wait_until
from tests.bench.measure import median

FAULTS = ("reset", "blackhole", "disable_1s", "gate_restart")


class Clock(BobsScreen):
    """Bob's screen that also remembers when the stream ended and when he was back."""

    def __init__(self, narrator: Narrator) -> None:
        super().__init__(narrator, quiet_displays=True)
        self.ended_at: float | None = None
        self.back_at: float | None = None

    def on_stream_end(self, error: BaseException | None) -> None:
        self.ended_at = self.ended_at or time.monotonic()

    def on_reconnected(self, client_id: str, recovered: int) -> None:
        super().on_reconnected(client_id, recovered)
        self.back_at = self.back_at or time.monotonic()


async def one_round(fault: str, out: Path) -> tuple[float, float, float]:
    narrator = Narrator(io.StringIO(), quiet=True)
    clock = Clock(narrator)
    async with Stage(narrator, out, clock) as stage:
        link = stage.topo.client_link("bob")  # type: ignore[union-attr]
        apply: Callable[[], Awaitable[object]]
        heal: Callable[[], Awaitable[object]]
        if fault == "reset":
            apply = lambda: asyncio.to_thread(link.add_toxic, "reset", "downstream", {"timeout": 0}, "rst")  # noqa: E731
            heal = lambda: asyncio.to_thread(link.remove_toxic, "rst")  # noqa: E731
        elif fault == "blackhole":
            async def apply() -> None:
                for stream in ("upstream", "downstream"):
                    await asyncio.to_thread(link.add_toxic, "timeout", stream, {"timeout": 0}, f"hole_{stream}")

            async def heal() -> None:
                for stream in ("upstream", "downstream"):
                    await asyncio.to_thread(link.remove_toxic, f"hole_{stream}")
        elif fault == "disable_1s":
            apply, heal = (lambda: asyncio.to_thread(link.disable)), (lambda: asyncio.to_thread(link.enable))
        else:
            apply, heal = (lambda: stage.topo.kill("gate0")), (lambda: stage.topo.process("gate0").start())  # type: ignore[union-attr]
        began = time.monotonic()
        await apply()
        sends = asyncio.gather(*(stage.alice.send(ROOM, f"during {i}") for i in range(5)))
        await wait_until(lambda: clock.ended_at, 10.0, "the stream to end", interval=0.005)
        if fault == "blackhole":
            await asyncio.sleep(max(0.0, began + 3.0 - time.monotonic()))
        elif fault == "disable_1s":
            await asyncio.sleep(max(0.0, began + 1.0 - time.monotonic()))
        await heal()
        healed = time.monotonic()
        await sends
        await wait_until(lambda: clock.back_at and len(clock.shown) == 5, 20.0, "bob caught up", interval=0.005)
        done = time.monotonic()
        if await stage.check():
            raise AssertionError(f"{fault}: bob did not show the room exactly once, in order")
        assert clock.ended_at and clock.back_at
        return clock.ended_at - began, clock.back_at - healed, done - began


async def main(rounds: int) -> None:
    k = DEFAULT_KEEPALIVE
    print(f"keepalive {k.time_ms} ms, ping timeout {k.ping_timeout_ms} ms; {rounds} rounds per fault")
    rows = []
    with tempfile.TemporaryDirectory(prefix="pushchat-reconnect-bench-") as tmp:
        log.setup("client", path=str(Path(tmp) / "clients.log"))
        for fault in FAULTS:
            samples = []
            for i in range(rounds):
                samples.append(await one_round(fault, Path(tmp) / f"{fault}-{i}"))
                print(f"  {fault} round {i + 1}/{rounds}: notice {samples[-1][0]:.2f}s, back {samples[-1][1]:.2f}s",
                      flush=True)
            rows.append((fault, *(median(s[j] for s in samples) for j in range(3)),
                         max(s[0] for s in samples), max(s[1] for s in samples)))
    print("\n| fault | notice p50 (s) | notice max (s) | back after heal p50 (s) | back max (s) | outage p50 (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for fault, notice, back, outage, notice_max, back_max in rows:
        print(f"| {fault} | {notice:.2f} | {notice_max:.2f} | {back:.2f} | {back_max:.2f} | {outage:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.bench.reconnect", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per fault")
    asyncio.run(main(parser.parse_args().rounds))
