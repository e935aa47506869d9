"""``pushchat client``: the interactive chat, as in Goverse's sample.

Lines are read by a daemon thread (so a blocked read never holds up exit)
and handed to the event loop, which runs each as a command (:class:`Session`)
against a :class:`~system.client.ChatClient`; what the user sees is drawn by
:class:`~system.console.Console`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import textwrap
import threading

import grpc

from system import log, service
from system.client import DEFINITE, ChatClient, SendFailed, cause
from system.console import PROMPT, Console, duration, plural, terminal_kept
from system.names import canonical_user_name
from system.pb import chat_pb2
from system.tls import ClientTls
from system.visible import visible

HELP = """commands:
  /list          list chat rooms
  /join ROOM     join a room (then leave the current one)
  /messages      show messages you missed in the current room
  /who           who is in the current room: away or not, and how far each has read
  /read          mark the current room read up to the last message shown (others see it in /who)
  /leave         leave the current room
  /quit          leave your rooms and exit
  /help          this text
anything else is sent to the current room"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", default="127.0.0.1:49000", metavar="HOST:PORT", help="gate address")
    parser.add_argument("--user", required=True, help="your user name")
    parser.add_argument("--call-timeout", type=float, default=5.0, help="seconds a call may take")
    parser.add_argument("--outage-wait", type=float, default=10.0,
                        help="seconds a command waits for a lost link to come back before it fails")
    parser.add_argument("--no-reconnect", dest="reconnect", action="store_false",
                        help="when the connection to the server breaks, do not reconnect: new messages stop "
                             "appearing until you restart the client (/messages still fetches them)")
    parser.add_argument("--log-file", metavar="PATH", help="write the client's JSON log lines here")
    parser.add_argument("--token", metavar="TOKEN",
                        help="a token from 'pushchat token', for a gate run with --auth token (or $PUSHCHAT_TOKEN)")
    parser.add_argument("--tls-ca", metavar="PEM", help="connect over TLS, trusting the gate's certificate through this CA")
    parser.add_argument("--tls-server-name", metavar="NAME", help="the name the gate's certificate must carry "
                        "(default: the host of --server)")
    service.add_keepalive_flags(parser)


Line = tuple[str, int]  # an entered line, and the console's outage mark when it was entered


def _read_lines(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[Line | None], console: Console) -> None:
    while True:
        try:
            line: str | None = input(PROMPT) if console.interactive else sys.stdin.readline()
        except (EOFError, OSError, ValueError):
            line = None
        if line == "" and not console.interactive:
            line = None
        if line is not None and console.interactive:
            console.line_entered(line)
        loop.call_soon_threadsafe(_enter, lines, None if line is None else line.rstrip("\n"), console)
        if line is None:
            return


def _enter(lines: asyncio.Queue[Line | None], line: str | None, console: Console) -> None:
    """On the event loop: queue an entered line with the outage mark of the moment (None: input ended)."""
    lines.put_nowait(None if line is None else (line, console.outage_mark()))


def who_entry(member: chat_pb2.Member, me: str, last_seq: int) -> str:
    """``bob (away, read #12 ✓✓)``: ✓✓ when the member has read everything this client knows of."""
    notes = ["you"] if member.user_name == me else []
    if member.away:
        notes.append("away")
    if member.read_seq:
        notes.append(f"read #{member.read_seq}" + (" ✓✓" if member.read_seq >= last_seq else ""))
    return member.user_name + (f" ({', '.join(notes)})" if notes else "")


async def _watch_typing(session: "Session", console: Console, every: float = 0.3) -> None:
    """On a terminal: a change to the line being typed is typing (readline holds it)."""
    last = ""
    while True:
        await asyncio.sleep(every)
        text = console.editor.line()[0] if console.reading else ""
        if text != last and text:
            await session.typed(text)
        last = text


def _error(exc: grpc.aio.AioRpcError) -> str:
    """A failed command, for the user: the server's words for a refusal, else what happened in a few words."""
    if isinstance(exc, SendFailed) or exc.code() in DEFINITE:
        return f"error: {exc.details()}"
    return f"error: {cause(exc)}"


class Session:
    """One user's commands against a :class:`ChatClient`; ``failed`` counts those that failed or were refused
    (a piped client's exit code says whether any did, as a shell script's would)."""

    def __init__(self, client: ChatClient, console: Console) -> None:
        self.client = client
        self.console = console
        self.room: str | None = None
        self.failed = 0

    def refuse(self, text: str) -> None:
        """Show why a command did not do what was asked, and count it."""
        self.failed += 1
        self.console.show(text)

    async def handle(self, line: str, mark: int | None = None) -> bool:
        """Run one input line (``mark``: the console's outage mark when it was entered); False to quit."""
        line = line.strip()
        if not line:
            return True
        word, _, rest = line.partition(" ")
        try:
            if word == "/quit":
                return False
            if word == "/help":
                self.console.show(*HELP.splitlines())
            elif word == "/list":
                rooms = await self.client.list_rooms()
                self.console.show("rooms: " + ", ".join(rooms))
            elif word == "/join":
                await self.join(rest.strip())
            elif word == "/leave":
                await self.leave()
            elif word == "/messages":
                await self.messages()
            elif word == "/who":
                await self.who()
            elif word == "/read":
                await self.read()
            elif word.startswith("/"):
                self.refuse(f"unknown command {word}; /help lists commands")
            elif self.room is None:
                self.refuse("join a room first: /join ROOM (/list shows rooms)")
            else:
                await self.send(line, self.console.outage_mark() if mark is None else mark)
        except grpc.aio.AioRpcError as exc:
            self.refuse(_error(exc))
        return True

    async def send(self, text: str, mark: int) -> None:
        """Send to the current room. A message that went through an outage (the link was down at some moment
        between its entry and its acknowledgement) is confirmed: the sender saw it wait, and nothing else
        would tell them it finally went (their own messages are not pushed back)."""
        assert self.room is not None
        room, entered = self.room, self.console.clock()
        sent = await self.client.send(room, text)
        if self.console.down_since(mark):
            self.console.show(f"* sent to {room} after the outage: {textwrap.shorten(text, 40, placeholder='…')!r} "
                              f"is #{sent.seq} (waited {duration(self.console.clock() - entered)})")

    async def join(self, room: str) -> None:
        """Join ``room``, then leave the current one: a join that fails leaves the user where they were."""
        if not room:
            self.refuse("usage: /join ROOM")
            return
        before = self.console.shown[room]
        await self.client.join(room)
        old, self.room = self.room, room
        self.console.room = room
        self.console.show(f"* joined {room} ({plural(self.console.shown[room] - before, 'new message')})")
        if old is not None and old != room:
            try:
                await self.client.leave(old)
            except grpc.aio.AioRpcError as exc:
                self.refuse(f"could not leave {old}: {_error(exc)}")
                return
            self.console.show(f"* left {old}")

    async def leave(self) -> None:
        if self.room is None:
            self.refuse("you are not in a room")
            return
        await self.client.leave(self.room)
        self.console.show(f"* left {self.room}")
        self.room = self.console.room = None

    async def quit(self, budget: float = 5.0) -> None:
        """Leave every room joined, so that nobody sees a user who has gone still listed; an error is shown,
        and after ``budget`` seconds (an outage) the client exits anyway: the node drops it in time."""
        rooms = [name for name, view in self.client.rooms.items() if view.joined]
        try:
            async with asyncio.timeout(budget):
                for room in rooms:
                    try:
                        await self.client.leave(room)
                    except grpc.aio.AioRpcError as exc:
                        self.console.show(f"could not leave {room}: {_error(exc)}")
        except TimeoutError:
            self.console.show(f"could not leave {', '.join(rooms)} in {budget:g} s; exiting anyway")

    async def who(self) -> None:
        if self.room is None:
            self.refuse("join a room first: /join ROOM")
            return
        members = await self.client.members(self.room)
        last = self.client.rooms[self.room].cursor if self.room in self.client.rooms else 0
        self.console.show(f"* in {self.room}: " + ", ".join(who_entry(m, self.client.user, last) for m in members))

    async def read(self) -> None:
        if self.room is None:
            self.refuse("join a room first: /join ROOM")
            return
        seq = await self.client.mark_read(self.room)
        self.console.show(f"* marked {self.room} read up to #{seq}")

    async def typed(self, text: str) -> None:
        """The user is typing ``text`` in the current room: tell the others (the client rate-limits it)."""
        if self.room is not None and text.strip() and not text.startswith("/"):
            try:
                await self.client.typing(self.room)
            except grpc.aio.AioRpcError:  # typing is best effort: never an error line
                pass

    async def messages(self) -> None:
        if self.room is None:
            self.refuse("join a room first: /join ROOM")
            return
        result = await self.client.poll(self.room)  # a gap in the history is told by on_recovery_incomplete
        if not result.messages:
            self.console.show("* no new messages")


async def _main(args: argparse.Namespace) -> int:
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    console = Console(sys.stdout, interactive, args.reconnect)
    try:
        tls = ClientTls.from_files(args.tls_ca, server_name=args.tls_server_name)
    except ValueError as exc:
        print(f"pushchat client: {exc}", file=sys.stderr)
        return 1
    try:
        user = canonical_user_name(args.user)  # the gate's rule: refused here in the same words, before any call
    except ValueError as exc:
        print(f"pushchat client: --user: {exc}", file=sys.stderr)
        return 64
    token = args.token or os.environ.get("PUSHCHAT_TOKEN") or None
    client = ChatClient(args.server, user, observers=[console], keepalive=service.keepalive(args),
                        call_timeout=args.call_timeout, outage_wait=args.outage_wait, reconnect=args.reconnect,
                        token=token, tls=tls)
    try:
        client_id = await client.connect()
    except (grpc.aio.AioRpcError, asyncio.TimeoutError) as exc:
        refused = isinstance(exc, grpc.aio.AioRpcError) and exc.code() in (grpc.StatusCode.UNAUTHENTICATED,
                                                                           grpc.StatusCode.PERMISSION_DENIED)
        why = exc.details() if refused else cause(exc)
        print(f"pushchat client: cannot register with {args.server}: {visible(why)}", file=sys.stderr)
        await client.close()
        return 1
    console.show(f"* connected to {args.server} as {user} (client id {client_id}); /help lists commands")
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[Line | None] = asyncio.Queue()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lines.put_nowait, None)
    if interactive:
        console.editor.install(console)
    threading.Thread(target=_read_lines, args=(loop, lines, console), daemon=True, name="stdin").start()
    session = Session(client, console)
    typing = asyncio.create_task(_watch_typing(session, console)) if interactive else None
    while (entry := await lines.get()) is not None and await session.handle(*entry):
        pass
    if typing is not None:
        typing.cancel()
    await session.quit()
    console.close()
    await client.close()
    return 1 if session.failed and not interactive else 0  # piped: did every command do what it was asked?


def run(args: argparse.Namespace) -> int:
    if args.log_file:
        log.setup("client", path=args.log_file)
    else:
        log.setup("client", level=logging.ERROR)  # errors only on stderr: the terminal is for chat
    with terminal_kept(sys.stdin):
        return asyncio.run(_main(args))


