"""``pushchat client``: the interactive chat, as in Goverse's sample.

Lines are read by a daemon thread (so a blocked read never holds up exit)
and handed to the event loop. On a terminal, a pushed message clears the
prompt line, prints ``[HH:MM:SS] user: text`` and redraws the prompt with
what the user had typed so far; with piped stdin it just prints lines.
When the link breaks the client says ``reconnecting…``, and once it is back
``reconnected, recovered N messages``; what was typed meanwhile waits.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
import signal
import sys
import threading
from typing import TextIO

import grpc

from system import log, service
from system.client import ChatClient, Observer, SendFailed, describe
from system.pb import chat_pb2

PROMPT = "> "
HELP = """commands:
  /list          list chat rooms
  /join ROOM     join a room (leaving the current one)
  /messages      show messages you missed in the current room
  /leave         leave the current room
  /quit          exit
  /help          this text
anything else is sent to the current room"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", default="127.0.0.1:49000", metavar="HOST:PORT", help="gate address")
    parser.add_argument("--user", required=True, help="your user name")
    parser.add_argument("--call-timeout", type=float, default=5.0, help="seconds a call may take")
    parser.add_argument("--outage-wait", type=float, default=10.0,
                        help="seconds a command waits for a lost link to come back before it fails")
    parser.add_argument("--no-reconnect", dest="reconnect", action="store_false",
                        help="do not reconnect when the push stream breaks (the seed's behaviour)")
    parser.add_argument("--log-file", metavar="PATH", help="write the client's JSON log lines here")
    service.add_keepalive_flags(parser)


def format_message(msg: chat_pb2.ChatMessage) -> str:
    when = datetime.datetime.fromtimestamp(msg.timestamp / 1e6).strftime("%H:%M:%S")
    return f"[{when}] {msg.user_name}: {msg.message}"


class Console(Observer):
    """Prints lines without garbling the prompt; shows every message the client displays."""

    def __init__(self, out: TextIO, interactive: bool, reconnect: bool = True) -> None:
        self.out = out
        self.interactive = interactive
        self.reconnect = reconnect
        self.lock = threading.Lock()

    def show(self, line: str) -> None:
        with self.lock:
            if self.interactive:
                typed = _typed_so_far()
                self.out.write(f"\r\x1b[K{line}\n{PROMPT}{typed}")
            else:
                self.out.write(line + "\n")
            self.out.flush()

    def on_display(self, room: str, message: chat_pb2.ChatMessage, source: str) -> None:
        self.show(format_message(message))

    def on_stream_end(self, error: BaseException | None) -> None:
        why = describe(error)
        if self.reconnect:
            self.show(f"* connection lost ({why}); reconnecting…")
        else:
            self.show(f"* push stream ended ({why}); new messages will not appear, /messages still works")

    def on_reconnecting(self, attempt: int, error: BaseException | None, wait: float) -> None:
        self.show(f"* reconnecting… (attempt {attempt} in {wait:.1f}s: {describe(error)})")

    def on_reconnected(self, client_id: str, recovered: int) -> None:
        noun = "message" if recovered == 1 else "messages"
        self.show(f"* reconnected, recovered {recovered} {noun}")

    def on_recovery_incomplete(self, room: str, first_available_seq: int, cursor: int) -> None:
        self.show(f"* could not recover everything in {room}: messages #{cursor + 1}-#{first_available_seq - 1} "
                  "are no longer available")

    def on_history_reset(self, room: str) -> None:
        self.show(f"* the server lost {room}'s history (it restarted); showing the new history")


def _typed_so_far() -> str:
    try:
        import readline
        return readline.get_line_buffer()
    except ImportError:  # no GNU readline on this platform
        return ""


def _read_lines(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str | None], interactive: bool) -> None:
    while True:
        try:
            line: str | None = input(PROMPT) if interactive else sys.stdin.readline()
        except (EOFError, OSError, ValueError):
            line = None
        if line == "" and not interactive:
            line = None
        loop.call_soon_threadsafe(lines.put_nowait, None if line is None else line.rstrip("\n"))
        if line is None:
            return


class Session:
    """One user's commands against a :class:`ChatClient`."""

    def __init__(self, client: ChatClient, console: Console) -> None:
        self.client = client
        self.console = console
        self.room: str | None = None

    async def handle(self, line: str) -> bool:
        """Run one input line; False to quit."""
        line = line.strip()
        if not line:
            return True
        word, _, rest = line.partition(" ")
        try:
            if word == "/quit":
                return False
            if word == "/help":
                self.console.show(HELP)
            elif word == "/list":
                rooms = await self.client.list_rooms()
                self.console.show("rooms: " + ", ".join(rooms))
            elif word == "/join":
                await self.join(rest.strip())
            elif word == "/leave":
                await self.leave()
            elif word == "/messages":
                await self.messages()
            elif word.startswith("/"):
                self.console.show(f"unknown command {word}; /help lists commands")
            elif self.room is None:
                self.console.show("join a room first: /join ROOM (/list shows rooms)")
            else:
                await self.client.send(self.room, line)
        except SendFailed as exc:
            self.console.show(f"error: {'not sent' if exc.definite else 'maybe not sent'}: {exc.details()}")
        except grpc.aio.AioRpcError as exc:
            self.console.show(f"error: {exc.code().name}: {exc.details()}")
        return True

    async def join(self, room: str) -> None:
        if not room:
            self.console.show("usage: /join ROOM")
            return
        if self.room and self.room != room:
            await self.leave()
        result = await self.client.join(room)
        self.room = room
        self.console.show(f"* joined {room} ({len(result.recent)} recent messages)")

    async def leave(self) -> None:
        if self.room is None:
            self.console.show("you are not in a room")
            return
        await self.client.leave(self.room)
        self.console.show(f"* left {self.room}")
        self.room = None

    async def messages(self) -> None:
        if self.room is None:
            self.console.show("join a room first: /join ROOM")
            return
        result = await self.client.poll(self.room)  # a gap in the history is told by on_recovery_incomplete
        if not result.messages:
            self.console.show("* no new messages")


async def _main(args: argparse.Namespace) -> int:
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    console = Console(sys.stdout, interactive, args.reconnect)
    client = ChatClient(args.server, args.user, observers=[console], keepalive=service.keepalive(args),
                        call_timeout=args.call_timeout, outage_wait=args.outage_wait, reconnect=args.reconnect)
    try:
        client_id = await client.connect()
    except (grpc.aio.AioRpcError, asyncio.TimeoutError) as exc:
        detail = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else "timed out"
        print(f"pushchat client: cannot register with {args.server}: {detail}", file=sys.stderr)
        await client.close()
        return 1
    console.show(f"* connected to {args.server} as {args.user} (client id {client_id}); /help lists commands")
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lines.put_nowait, None)
    threading.Thread(target=_read_lines, args=(loop, lines, interactive), daemon=True, name="stdin").start()
    session = Session(client, console)
    while (line := await lines.get()) is not None and await session.handle(line):
        pass
    await client.close()
    if interactive:
        sys.stdout.write("\n")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.log_file:
        log.setup("client", path=args.log_file)
    else:
        log.setup("client", level=logging.ERROR)  # errors only on stderr: the terminal is for chat
    return asyncio.run(_main(args))
