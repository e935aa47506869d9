"""Who a caller is: signed tokens, the shared secret, and the headers that carry an identity (sans-I/O).

A token is a JWT signed with HS256 (PyJWT) by the operator's secret: ``sub``
is the user name, ``exp`` the expiry, ``adm`` an admin claim (create and
delete objects through the gate), ``role`` ``user`` or ``gate``. Gates sign
their own short-lived ``gate`` tokens with the same secret to call nodes, each
bound to one node by ``aud`` (the node's advertise address): a node that checks
tokens trusts the user name a gate forwards (:data:`USER_HEADER`) only from a
caller holding such a token made for it. Clients send
``authorization: Bearer <token>`` on ``Register`` and on every call.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from system.names import canonical_user_name

if TYPE_CHECKING:
    import jwt  # imported on first use: a server without tokens starts without it (and cryptography)

ALGORITHM = "HS256"
ISSUER = "pushchat"
AUTH_MODES = ("none", "token")
MIN_SECRET_BYTES = 32
AUTH_HEADER = "authorization"
#: The verified user name a gate forwards to a node, UTF-8 (a ``-bin`` header: names need not be ASCII);
#: a gate never passes on a client's own copy.
USER_HEADER = "x-pushchat-user-bin"
#: A random value a client makes once and sends on every call: its reconnections are the same client.
SESSION_HEADER = "x-pushchat-session"
ROLE_USER, ROLE_GATE = "user", "gate"


class TokenRejected(Exception):
    """A missing, malformed, forged or expired token; ``reason`` is a stable word, ``str()`` is for a person."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """What a verified token says: the user, whether an admin, whether a gate, and until when."""

    user: str
    admin: bool = False
    role: str = ROLE_USER
    expires: float = 0.0
    audience: str = ""     # the one node a gate's token was made for ("": none named)

    @property
    def gate(self) -> bool:
        return self.role == ROLE_GATE


def check_user(user: str) -> str:
    """The canonical form of a token's user name (:func:`system.names.canonical_user_name`); ValueError why not."""
    return canonical_user_name(user)


def issue(secret: bytes, user: str, ttl: float, *, admin: bool = False, role: str = ROLE_USER,
          now: float | None = None, audience: str | None = None) -> str:
    """A token for ``user`` valid ``ttl`` seconds from ``now`` (a negative ttl makes an expired one, for tests);
    ``audience``: the one node it is good for (a gate's token)."""
    import jwt

    user = check_user(user)
    issued = time.time() if now is None else now
    claims: dict[str, object] = {"iss": ISSUER, "sub": user, "iat": int(issued), "exp": int(issued + ttl),
                                 "role": role}
    if admin:
        claims["adm"] = True
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(secret: bytes, token: str, *, now: float | None = None, leeway: float = 0.0) -> Identity:
    """The identity a token proves; :class:`TokenRejected` saying why not."""
    import jwt

    # The audience is the caller's to check (a node against its own address): PyJWT only reads it here.
    options = {"require": ["exp", "sub", "iss"], "verify_aud": False}
    try:
        if now is None:
            claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options=options, leeway=leeway)
        else:  # PyJWT reads the clock itself: check expiry here against the given time
            claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                                options={**options, "verify_exp": False})
            if float(claims["exp"]) + leeway <= now:
                raise jwt.ExpiredSignatureError("Signature has expired")
    except jwt.ExpiredSignatureError:
        raise TokenRejected("expired", "token expired") from None
    except jwt.InvalidSignatureError:
        raise TokenRejected("invalid", "token signature does not verify (signed with another secret?)") from None
    except jwt.PyJWTError as exc:
        raise TokenRejected("invalid", f"token rejected: {exc}") from None
    user, role = claims.get("sub"), claims.get("role", ROLE_USER)
    try:
        user = check_user(user)
    except ValueError as exc:
        raise TokenRejected("invalid", f"token rejected: {exc}") from None
    if role not in (ROLE_USER, ROLE_GATE):
        raise TokenRejected("invalid", f"token rejected: unknown role {str(role)[:20]!r}")
    audience = claims.get("aud", "")
    if not isinstance(audience, str):
        raise TokenRejected("invalid", "token rejected: its audience is not one name")
    return Identity(user=user, admin=claims.get("adm") is True, role=role, expires=float(claims["exp"]),
                    audience=audience)


def bearer(metadata: Iterable[tuple[str, object]] | None) -> str | None:
    """The token of an ``authorization: Bearer …`` header; None when there is none; TokenRejected if malformed."""
    for key, value in metadata or ():
        if key.lower() == AUTH_HEADER:
            text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
            scheme, _, token = text.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise TokenRejected("invalid", "authorization header is not 'Bearer <token>'")
            return token.strip()
    return None


def header(metadata: Iterable[tuple[str, object]] | None, name: str) -> str | None:
    """A text header's value (the first), or None."""
    for key, value in metadata or ():
        if key.lower() == name:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return None


def new_secret() -> str:
    """A fresh secret, as written to a secret file: 64 hex digits (32 random bytes)."""
    return secrets.token_hex(MIN_SECRET_BYTES)


def write_secret(path: str | Path) -> None:
    """Create a secret file readable by its owner only; an existing file is never overwritten."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(new_secret() + "\n")


def read_secret(path: str | Path) -> bytes:
    """The secret in a file (surrounding whitespace ignored); ValueError saying what is wrong with it."""
    try:
        data = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ValueError(f"cannot read the secret file {path}: {exc.strerror or exc}") from None
    if len(data) < MIN_SECRET_BYTES:
        raise ValueError(f"the secret in {path} is {len(data)} bytes; want at least {MIN_SECRET_BYTES} "
                         "('pushchat token --new-secret --secret-file F' makes one)")
    return data
