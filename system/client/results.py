"""What the client's calls return."""

from __future__ import annotations

from dataclasses import dataclass

from system.pb import chat_pb2


@dataclass(frozen=True)
class JoinResult:
    room: str
    last_seq: int
    recent: list[chat_pb2.ChatMessage]


@dataclass(frozen=True)
class SendResult:
    room: str
    client_msg_id: str
    seq: int
    timestamp: int
    duplicate: bool


@dataclass(frozen=True)
class PollResult:
    room: str
    messages: list[chat_pb2.ChatMessage]  # newly shown
    truncated: bool
    first_available_seq: int
    last_seq: int
