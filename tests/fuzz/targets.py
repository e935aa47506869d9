"""What the fuzzer throws, at what, and the property each time: a clear error, no crash, still serving,
nothing stored lost.

Servers are real OS processes (a node and a gate in their default mode, and
the embedded Toxiproxy server), started once by :class:`Servers` and shared
by every example. Each target is a Hypothesis strategy and a check that
returns the outcome's label (``OK``, a gRPC code, ``http 404``, …); a check
that finds the property broken raises ``AssertionError`` and Hypothesis
shrinks the input to a minimal one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import requests
import yaml
from google.protobuf import any_pb2
from hypothesis import strategies as st

from chaos.infra.links import Links
from chaos.scenario.files import ScenarioError, read_scenario
from system.pb import chat_pb2, gate_pb2, gate_pb2_grpc, goverse_pb2, goverse_pb2_grpc

# A refusal a caller can act on; anything else (INTERNAL, UNKNOWN, a dropped connection) is a crash.
CLEAR = frozenset({"OK", "INVALID_ARGUMENT", "NOT_FOUND", "UNIMPLEMENTED", "PERMISSION_DENIED", "UNAUTHENTICATED",
                   "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ALREADY_EXISTS", "OUT_OF_RANGE"})
CANARY = [f"canary {i}" for i in range(3)]
CHAT_TYPES = [m for m in dir(chat_pb2) if m[:1].isupper() and hasattr(getattr(chat_pb2, m), "DESCRIPTOR")]
TIMEOUT = 5.0


# A fuzzer on a busy machine may not answer the servers' 1 s keepalive pings in time; that is not what is tested.
PATIENT = ("--keepalive-ms", "10000", "--keepalive-timeout-ms", "20000", "--ping-timeout-ms", "20000")


def _start(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen([sys.executable, "-m", "chaos.cli", *args, *PATIENT], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"pushchat {' '.join(args)} exited with {proc.wait()} before listening")
    return proc, json.loads(line)


@dataclass
class Servers:
    """A node, a gate and a Toxiproxy server for the whole fuzz run; canary messages stored first."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pushchat-fuzz-")))
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    read_up_to: dict[Path, int] = field(default_factory=dict)  # log file -> bytes already checked

    def start(self) -> "Servers":
        node, ann = _start("node", "--listen", "127.0.0.1:0", "--data-dir", str(self.folder / "node"),
                           "--log-file", str(self.folder / "node.log"), "--max-message-bytes", "512",
                           "--history-limit", "1000000")
        self.procs.append(node)
        self.node = ann["addr"]
        gate, ann = _start("gate", "--listen", "127.0.0.1:0", "--nodes", self.node, "--log-file",
                           str(self.folder / "gate.log"), "--call-rate", "0")
        self.procs.append(gate)
        self.gate = ann["addr"]
        self.gate_channel = grpc.insecure_channel(self.gate)
        self.node_channel = grpc.insecure_channel(self.node)
        self.gate_stub = gate_pb2_grpc.GateServiceStub(self.gate_channel)
        self.node_stub = goverse_pb2_grpc.GoverseStub(self.node_channel)
        self.links = Links.embedded(log_file=self.folder / "toxiproxy.log")
        self.canary_proxy = self.links.create("canary", self.gate)
        for text in CANARY:  # wait for the gate's node stream, then store what must never be lost
            self._retry(lambda text=text: self.gate_stub.CallObject(call("SendMessage", send("keeper", text)),
                                                                    timeout=TIMEOUT))
        return self

    @staticmethod
    def _retry(fn: Callable[[], Any], tries: int = 100) -> Any:
        import time
        for attempt in range(tries):
            try:
                return fn()
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == tries - 1:  # type: ignore[attr-defined]
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        self.gate_channel.close()
        self.node_channel.close()
        self.links.close()
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=20)
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- the properties that hold after every example --------------------------------------
    def still_serving(self) -> None:
        listed = self.gate_stub.CallObject(gate_pb2.CallObjectRequest(
            type="ChatRoomMgr", id="ChatRoomMgr0", method="ListChatRooms", request=pack(chat_pb2.ChatRoom_ListRequest())),
            timeout=TIMEOUT)
        assert listed.response.Is(chat_pb2.ChatRoom_ListResponse.DESCRIPTOR)
        self.node_stub.Status(goverse_pb2.Empty(), timeout=TIMEOUT)
        assert self.links.version()

    def nothing_lost(self) -> None:
        reply = self.gate_stub.CallObject(call("GetRecentMessages",
                                               chat_pb2.ChatRoom_GetRecentMessagesRequest(limit=len(CANARY))),
                                          timeout=TIMEOUT)
        page = chat_pb2.ChatRoom_GetRecentMessagesResponse()
        reply.response.Unpack(page)
        assert [m.message for m in page.messages] == CANARY, "stored messages were lost"
        assert "canary" in requests.get(self.links.url + "/proxies", timeout=TIMEOUT).json()
        self.no_errors_logged()

    def no_errors_logged(self) -> None:
        """A caller's garbage is the caller's mistake: no server logs it as an ERROR (its own fault)."""
        for path in sorted(self.folder.glob("*.log")):  # only what was written since the last check
            with path.open("rb") as f:
                f.seek(self.read_up_to.get(path, 0))
                new = f.read()
            complete = new[:new.rfind(b"\n") + 1]  # a line still being written is read next time
            self.read_up_to[path] = self.read_up_to.get(path, 0) + len(complete)
            for line in complete.decode("utf-8", errors="replace").splitlines():
                if '"level":"ERROR"' in line.replace(" ", ""):
                    raise AssertionError(f"{path.name} logged an ERROR: {line[:300]}")


def pack(message: Any) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(message)
    return out


def call(method: str, request: Any, room: str = "General") -> gate_pb2.CallObjectRequest:
    return gate_pb2.CallObjectRequest(type="ChatRoom", id=f"ChatRoom-{room}", method=method, request=pack(request))


def send(user: str, text: str) -> chat_pb2.ChatRoom_SendChatMessageRequest:
    return chat_pb2.ChatRoom_SendChatMessageRequest(user_name=user, message=text)


def code_of(exc: grpc.RpcError) -> str:
    return exc.code().name  # type: ignore[attr-defined]


def grpc_outcome(fn: Callable[[], Any]) -> str:
    """``OK`` or the refusal's code; a code that is no clear refusal, or one without words, fails.

    A connection lost to the transport (UNAVAILABLE) is tried once more: only a second loss counts."""
    try:
        try:
            fn()
        except grpc.RpcError as exc:
            if code_of(exc) != "UNAVAILABLE":
                raise
            fn()
    except grpc.RpcError as exc:
        code = code_of(exc)
        assert code in CLEAR, f"{code}: {exc.details()}"  # type: ignore[attr-defined]
        assert exc.details(), f"{code} without a word of why"  # type: ignore[attr-defined]
        return code
    return "OK"


# -- strategies ------------------------------------------------------------------------------------
texts = st.text(max_size=80)
ids = st.one_of(st.sampled_from(["ChatRoom-General", "ChatRoom-Sports", "ChatRoomMgr0", "ChatRoom-", "", "x" * 300]),
                texts)
methods = st.one_of(st.sampled_from(["Join", "Leave", "SendMessage", "GetRecentMessages", "ListChatRooms",
                                     "Explode", ""]), texts)
types = st.one_of(st.sampled_from(["ChatRoom", "ChatRoomMgr", ""]), texts)
type_urls = st.one_of(st.sampled_from([f"type.googleapis.com/chat.{t}" for t in CHAT_TYPES]),
                      st.builds(lambda t: f"evil.example/chat.{t}", st.sampled_from(CHAT_TYPES)), texts)
client_ids = st.one_of(st.just(""), st.sampled_from(["127.0.0.1:1/abc", "a/b/c", "host:99999/x"]), texts)


@st.composite
def chat_payloads(draw: st.DrawFn) -> bytes:
    """Bytes of a real chat message with random fields, or garbage."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=200))
    cls = getattr(chat_pb2, draw(st.sampled_from(CHAT_TYPES)))
    message = cls()
    for f in cls.DESCRIPTOR.fields:
        if f.type == f.TYPE_STRING and not f.is_repeated:
            setattr(message, f.name, draw(st.text(max_size=600)))
        elif f.type in (f.TYPE_INT64, f.TYPE_INT32) and not f.is_repeated:
            setattr(message, f.name, draw(st.integers(-2**31, 2**31 - 1)))
    return message.SerializeToString()


headers = st.lists(st.tuples(st.sampled_from(["authorization", "x-pushchat-session", "x-pushchat-user-bin",
                                              "x-custom"]),
                             st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)),
                   max_size=3)
anys = st.builds(lambda url, value: any_pb2.Any(type_url=url, value=value), type_urls, chat_payloads())
ROOM_METHODS = {"Join": chat_pb2.ChatRoom_JoinRequest, "Leave": chat_pb2.ChatRoom_LeaveRequest,
                "SendMessage": chat_pb2.ChatRoom_SendChatMessageRequest,
                "GetRecentMessages": chat_pb2.ChatRoom_GetRecentMessagesRequest}


@st.composite
def near_valid_calls(draw: st.DrawFn) -> tuple[Any, ...]:
    """A room method with its own request type, fields random: most are accepted or refused on their merits."""
    method = draw(st.sampled_from(sorted(ROOM_METHODS)))
    cls = ROOM_METHODS[method]
    fields: dict[str, Any] = {}
    for f in cls.DESCRIPTOR.fields:
        if f.type == f.TYPE_STRING:
            fields[f.name] = draw(st.sampled_from(["", "ann", "bob"]) | st.text(max_size=70)
                                  if f.name == "user_name" else st.just("") | st.text(max_size=600))
        elif f.type in (f.TYPE_INT64, f.TYPE_INT32):
            fields[f.name] = draw(st.integers(-3, 5) | st.integers(-2**31, 2**31 - 1))
    room = draw(st.sampled_from(["General", "Sports", "Nowhere"]))
    return ("ChatRoom", f"ChatRoom-{room}", method, pack(cls(**fields)), "", draw(headers))


def _metadata(pairs: list[tuple[str, str]]) -> tuple[tuple[str, Any], ...]:
    return tuple((k, v.encode() if k.endswith("-bin") else v) for k, v in pairs)


# -- the targets -----------------------------------------------------------------------------------
@dataclass
class Target:
    name: str
    what: str
    strategy: st.SearchStrategy[Any]
    check: Callable[[Servers, Any], str]


def gate_call(s: Servers, x: tuple[Any, ...]) -> str:
    type_, object_id, method, payload, client_id, meta = x
    request = gate_pb2.CallObjectRequest(client_id=client_id, type=type_, id=object_id, method=method, request=payload)
    return grpc_outcome(lambda: s.gate_stub.CallObject(request, metadata=_metadata(meta), timeout=TIMEOUT))


def gate_admin(s: Servers, x: tuple[str, str, bool]) -> str:
    type_, object_id, delete = x
    if delete:
        outcome = grpc_outcome(lambda: s.gate_stub.DeleteObject(gate_pb2.DeleteObjectRequest(id=object_id),
                                                                timeout=TIMEOUT))
    else:
        outcome = grpc_outcome(lambda: s.gate_stub.CreateObject(gate_pb2.CreateObjectRequest(type=type_, id=object_id),
                                                                timeout=TIMEOUT))
    assert outcome == "PERMISSION_DENIED", f"an admin call by anyone was {outcome}"
    return outcome


def node_call(s: Servers, x: tuple[Any, ...]) -> str:
    type_, object_id, method, payload, meta = x
    request = goverse_pb2.CallObjectRequest(type=type_, id=object_id, method=method, request=payload)
    return grpc_outcome(lambda: s.node_stub.CallObject(request, metadata=_metadata(meta), timeout=TIMEOUT))


def register(s: Servers, meta: list[tuple[str, str]]) -> str:
    def go() -> None:
        stream = s.gate_stub.Register(gate_pb2.Empty(), metadata=_metadata(meta), timeout=TIMEOUT)
        try:
            first = next(stream)
            assert first.Is(gate_pb2.RegisterResponse.DESCRIPTOR), first.type_url
        finally:
            stream.cancel()
    return grpc_outcome(go)


METHODS = ["GET", "POST", "DELETE", "PATCH", "PUT", "HEAD", "OPTIONS", "BREW"]
SEGMENTS = ["proxies", "toxics", "populate", "reset", "version", "metrics", "fuzz", "latency", "..", ".", "",
            "%2F", "fuzz%2Fx"]
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=4),
                           max_leaves=12)
proxy_bodies = st.fixed_dictionaries({}, optional={
    "name": st.sampled_from(["fuzz", "fuzz2", ""]) | texts.filter(lambda t: t != "canary"),
    "listen": st.sampled_from(["127.0.0.1:0", "localhost:0", "", "nope", "127.0.0.1:99999"]) | texts,
    "upstream": st.sampled_from(["127.0.0.1:1", ""]) | texts,
    "enabled": st.booleans() | json_values,
    "type": st.sampled_from(["latency", "timeout", "slicer", "reset_peer", "stall", "nope"]) | texts,
    "stream": st.sampled_from(["upstream", "downstream", "sideways"]),
    "toxicity": st.floats(-1, 2, allow_nan=False) | json_values,
    "attributes": st.dictionaries(st.sampled_from(["latency", "jitter", "rate", "bytes", "timeout"]) | texts,
                                  st.integers(-10, 10**9) | json_values, max_size=3),
})


def toxiproxy_api(s: Servers, x: tuple[str, list[str], Any]) -> str:
    method, parts, body = x
    path = "/" + "/".join(p for p in parts)
    if "canary" in path or method in ("POST", "DELETE") and path.rstrip("/") in ("/reset", "/populate"):
        return "skipped"  # the canary proxy is the thing that must survive; reset/populate would touch it
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = requests.request(method, s.links.url + path, data=data, timeout=TIMEOUT, allow_redirects=False)
    if resp.status_code >= 500:
        assert resp.status_code == 500 and "error" in resp.json(), f"{resp.status_code}: {resp.text[:200]}"
    if method == "POST" and path.startswith("/proxies") and resp.status_code < 300:
        _forget_fuzz_proxies(s)
    return f"http {resp.status_code}"


def _forget_fuzz_proxies(s: Servers) -> None:
    """Proxies the fuzzer made hold listeners: drop them so a long run does not run out of ports."""
    for name in list(requests.get(s.links.url + "/proxies", timeout=TIMEOUT).json()):
        if name != "canary":
            requests.delete(f"{s.links.url}/proxies/{requests.utils.quote(name, safe='')}", timeout=TIMEOUT)


SCENARIO_KEYS = ["name", "description", "seed", "topology", "workload", "recovery_wait", "faults", "random_faults",
                 "expect", "nodes", "gates", "clients", "rooms", "auth", "tls", "hostile", "limits", "store", "etcd",
                 "kind", "target", "start", "duration", "rate", "senders", "lost", "verdict", "call_rate"]
yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 100) | st.floats(allow_nan=False, allow_infinity=False) | texts
    | st.sampled_from(["client alice", "all links", "node 0", "latency", "kill", "> 0", "token", "valid"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(SCENARIO_KEYS) | texts, inner,
                                                               max_size=5),
    max_leaves=25)


GOOD_SCENARIO = yaml.safe_load((Path(__file__).resolve().parents[2] / "scenarios" / "hostile-client.yaml").read_text())


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A shipped scenario with a few of its values replaced or removed."""
    doc = json.loads(json.dumps(GOOD_SCENARIO))
    doc["name"] = "fuzzed"
    for _ in range(draw(st.integers(0, 3))):
        node: Any = doc
        while True:  # walk down to a random value, then replace or remove it
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            keys = [k for k in keys if k != "name"]
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            if isinstance(node[key], (dict, list)) and node[key] and draw(st.booleans()):
                node = node[key]
                continue
            if isinstance(node, dict) and draw(st.booleans()):
                del node[key]
            else:
                node[key] = draw(yaml_values)
            break
    return doc


def scenario_yaml(s: Servers | None, x: tuple[Any, bool]) -> str:
    doc, raw = x
    folder = Path(tempfile.mkdtemp(prefix="fuzz-scenario-"))
    path = folder / "fuzzed.yaml"
    if raw:
        path.write_bytes(doc if isinstance(doc, bytes) else str(doc).encode())
    else:
        if isinstance(doc, dict):
            doc = {"name": "fuzzed", **doc}
        path.write_text(yaml.safe_dump(doc))
    try:
        read_scenario(path)
    except ScenarioError as exc:
        assert str(exc).startswith(str(path)), str(exc)  # every problem names the file
        return "refused"
    finally:
        path.unlink(missing_ok=True)
        folder.rmdir()
    return "loaded"


TARGETS = [
    Target("gate CallObject", "random type, id, method, Any (type URL and bytes), client id, headers; and room "
           "calls with random fields",
           st.tuples(types, ids, methods, anys, client_ids, headers) | near_valid_calls(), gate_call),
    Target("gate Create/DeleteObject", "random types and ids, no admin",
           st.tuples(types, ids, st.booleans()), gate_admin),
    Target("gate Register", "random headers (tokens, sessions, user headers)", headers, register),
    Target("node CallObject", "random type, id, method, Any and headers on the node's own port",
           st.tuples(types, ids, methods, anys, headers), node_call),
    Target("Toxiproxy HTTP API", "random methods, paths and bodies",
           st.tuples(st.sampled_from(METHODS) | st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1,
                                                        max_size=8),
                     st.lists(st.sampled_from(SEGMENTS) | texts.filter(lambda t: "/" not in t and "?" not in t
                                                                       and "#" not in t), max_size=4),
                     proxy_bodies | json_values | st.binary(max_size=100)),
           toxiproxy_api),
    Target("scenario YAML", "random documents of scenario keys, and raw bytes",
           st.tuples(yaml_values | mutated_scenarios(), st.just(False))
           | st.tuples(st.binary(max_size=200) | texts, st.just(True)),
           scenario_yaml),
]
BY_NAME = {t.name: t for t in TARGETS}


@dataclass
class Tally:
    """Outcomes per target, for the long run's table."""

    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, target: str, outcome: str) -> None:
        self.counts[target][outcome] += 1
