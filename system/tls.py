"""TLS for both hops: what a server presents, what a dialling end trusts, read from PEM files.

A node and a gate serve TLS with ``--tls-cert``/``--tls-key``; a node that
also has ``--tls-ca`` and ``--tls-require-client-cert`` admits only
callers with a certificate that CA signed (mutual TLS: gates and
operators). A gate dials its nodes over TLS when given ``--tls-ca`` (and
presents ``--tls-client-cert``/``--tls-client-key`` for mutual TLS); a
client when given ``--tls-ca``. The hostname checked is the one dialled
(an IP address needs an IP SAN), unless ``server_name`` overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


def read_pem(path: str | Path, what: str) -> bytes:
    """A PEM file's bytes; ValueError naming the flag and the reason."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in data:
        raise ValueError(f"{what} {path} is not a PEM file")
    return data


@dataclass(frozen=True)
class ServerTls:
    """What a TLS server presents, and the CA its callers' certificates must chain to (mutual TLS)."""

    cert: bytes
    key: bytes
    client_ca: bytes | None = None
    require_client_cert: bool = False

    def __post_init__(self) -> None:
        if self.require_client_cert and not self.client_ca:
            raise ValueError("--tls-require-client-cert needs --tls-ca, the CA that signs the callers' certificates")

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials([(self.key, self.cert)], root_certificates=self.client_ca,
                                           require_client_auth=self.require_client_cert)

    @classmethod
    def from_files(cls, cert: str | None, key: str | None, ca: str | None = None,
                   require_client_cert: bool = False) -> "ServerTls | None":
        if not cert and not key:
            if require_client_cert:
                raise ValueError("--tls-require-client-cert needs TLS: give --tls-cert and --tls-key")
            return None
        if not (cert and key):
            raise ValueError("TLS needs both --tls-cert and --tls-key")
        return cls(read_pem(cert, "--tls-cert"), read_pem(key, "--tls-key"),
                   read_pem(ca, "--tls-ca") if ca else None, require_client_cert)


@dataclass(frozen=True)
class ClientTls:
    """What a dialling end trusts (``ca``), what it presents for mutual TLS, and the name it checks."""

    ca: bytes
    cert: bytes | None = None
    key: bytes | None = None
    server_name: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(root_certificates=self.ca, private_key=self.key,
                                            certificate_chain=self.cert)

    def options(self) -> list[tuple[str, str]]:
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []

    @classmethod
    def from_files(cls, ca: str | None, cert: str | None = None, key: str | None = None,
                   server_name: str | None = None) -> "ClientTls | None":
        if not ca:
            if cert or key:
                raise ValueError("a client certificate needs TLS: give --tls-ca, the CA that signed the server's")
            return None
        if bool(cert) != bool(key):
            raise ValueError("mutual TLS needs both --tls-client-cert and --tls-client-key")
        return cls(read_pem(ca, "--tls-ca"), read_pem(cert, "--tls-client-cert") if cert else None,
                   read_pem(key, "--tls-client-key") if key else None, server_name)


def channel(target: str, tls: ClientTls | None, options: list[tuple[str, object]]) -> grpc.aio.Channel:
    """An asyncio channel to ``target``: TLS when ``tls`` is given, else plaintext."""
    if tls is None:
        return grpc.aio.insecure_channel(target, options=options)
    return grpc.aio.secure_channel(target, tls.credentials(), options=options + tls.options())
