"""How a node or a gate reaches etcd: TLS (with a client certificate) and etcd's user/password login.

Whoever may write under the membership prefix decides where gates send
rooms' calls (docs/security.md), so a production etcd has TLS with client
certificates (``--client-cert-auth``) and auth enabled, and so do we:
``--etcd-ca`` (trust), ``--etcd-cert``/``--etcd-key`` (our certificate) and
``--etcd-user``/``--etcd-password-file`` (a login; etcd's ``Authenticate``
gives a token sent as the ``token`` header on every call, fetched again
when etcd says it is no longer valid, as after an etcd restart).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from aetcd import rpc

from system import tls

_NO_LONGER_VALID = ("invalid auth token", "auth token is expired", "auth token is not provided")


@dataclass(frozen=True)
class EtcdAccess:
    """What we present to etcd: TLS (``tls.ca`` trusted, ``tls.cert``/``tls.key`` ours) and a login."""

    tls: tls.ClientTls | None = None
    user: str | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        if bool(self.user) != (self.password is not None):
            raise ValueError("an etcd login needs both --etcd-user and --etcd-password-file")

    def channel(self, target: str, options: list[tuple[str, object]]) -> grpc.aio.Channel:
        return tls.channel(target, self.tls, options)

    @classmethod
    def from_files(cls, ca: str | None = None, cert: str | None = None, key: str | None = None,
                   user: str | None = None, password_file: str | None = None) -> "EtcdAccess":
        """From the flags' files; ValueError naming the flag and what is wrong."""
        if not ca and (cert or key):
            raise ValueError("an etcd client certificate needs TLS: give --etcd-ca, the CA that signed etcd's")
        if bool(cert) != bool(key):
            raise ValueError("an etcd client certificate needs both --etcd-cert and --etcd-key")
        client_tls = (tls.ClientTls(tls.read_pem(ca, "--etcd-ca"), tls.read_pem(cert, "--etcd-cert") if cert else None,
                                    tls.read_pem(key, "--etcd-key") if key else None) if ca else None)
        password = None
        if password_file:
            try:
                password = Path(password_file).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"cannot read --etcd-password-file {password_file}: {exc}") from None
            if not password:
                raise ValueError(f"--etcd-password-file {password_file} is empty")
        return cls(client_tls, user or None, password)


class EtcdLogin:
    """The login token for one channel: got on first use, dropped when etcd refuses it (then got again)."""

    def __init__(self, channel: grpc.aio.Channel, access: EtcdAccess, timeout: float) -> None:
        self.access = access
        self.timeout = timeout
        self._auth = rpc.AuthStub(channel)
        self._token: str | None = None

    async def metadata(self) -> tuple[tuple[str, str], ...]:
        """Headers for an etcd call: ``token`` when we log in, else none (etcd may go by our certificate)."""
        if not self.access.user:
            return ()
        if self._token is None:
            reply = await self._auth.Authenticate(rpc.AuthenticateRequest(name=self.access.user,
                                                                          password=self.access.password or ""),
                                                  timeout=self.timeout)
            self._token = reply.token
        return (("token", self._token),)

    def failed(self, exc: BaseException) -> None:
        """An etcd call failed: if etcd no longer takes our token, log in again on the next call."""
        said = (exc.details() or "") if isinstance(exc, grpc.aio.AioRpcError) else str(exc)  # a watch's cancel too
        if any(words in said for words in _NO_LONGER_VALID):
            self._token = None
