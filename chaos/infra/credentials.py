"""A run's secrets: the token secret and a CA with certificates, made in the run folder when a scenario asks.

``topology.auth: token`` makes a secret (``security/secret``) that nodes
and gates check tokens with, and a token per honest member; hostile members
get tokens of their own, an expired one and a forged one to try.
``topology.tls: true`` makes a CA and certificates: clients reach gates
over TLS, and gates reach nodes over mutual TLS (nodes admit only a
certificate the CA signed). The proxies carry the TLS bytes unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chaos.infra.certs import Authority, Pem
from system import auth
from system.tls import ClientTls

MEMBER_TTL = 3600.0  # a member's token outlives any run


@dataclass
class Credentials:
    folder: Path
    auth: str = "none"
    secret: bytes | None = None
    secret_file: Path | None = None
    ca_file: Path | None = None
    ca: bytes | None = None
    node_pem: Pem | None = None
    gate_pem: Pem | None = None
    gate_client_pem: Pem | None = None

    @classmethod
    def make(cls, folder: Path, auth_mode: str = "none", tls: bool = False) -> "Credentials":
        creds = cls(folder, auth_mode)
        if auth_mode == "token" or tls:
            folder.mkdir(parents=True, exist_ok=True)
        if auth_mode == "token":
            creds.secret_file = folder / "secret"
            if not creds.secret_file.exists():
                auth.write_secret(creds.secret_file)
            creds.secret = auth.read_secret(creds.secret_file)
        if tls:
            ca = Authority("pushchat chaos run CA")
            creds.ca_file = ca.write(folder, "ca").cert_path
            creds.ca = ca.cert
            creds.node_pem = ca.write(folder, "node", ca.issue("node"))
            creds.gate_pem = ca.write(folder, "gate", ca.issue("gate"))
            creds.gate_client_pem = ca.write(folder, "gate-client", ca.issue("gate", client=True))
        return creds

    @property
    def tls(self) -> bool:
        return self.ca is not None

    def node_args(self) -> list[str]:
        out = ["--auth", self.auth] + (["--secret-file", str(self.secret_file)] if self.secret_file else [])
        if self.node_pem is not None:
            out += ["--tls-cert", str(self.node_pem.cert_path), "--tls-key", str(self.node_pem.key_path),
                    "--tls-ca", str(self.ca_file), "--tls-require-client-cert"]
        return out

    def gate_args(self) -> list[str]:
        out = ["--auth", self.auth] + (["--secret-file", str(self.secret_file)] if self.secret_file else [])
        if self.gate_pem is not None and self.gate_client_pem is not None:
            out += ["--tls-cert", str(self.gate_pem.cert_path), "--tls-key", str(self.gate_pem.key_path),
                    "--tls-ca", str(self.ca_file), "--tls-client-cert", str(self.gate_client_pem.cert_path),
                    "--tls-client-key", str(self.gate_client_pem.key_path)]
        return out

    def token(self, user: str, ttl: float = MEMBER_TTL, admin: bool = False) -> str | None:
        """A token for ``user`` (None when the run needs none); a negative ``ttl`` gives an expired one."""
        if self.secret is None:
            return None
        return auth.issue(self.secret, user, ttl, admin=admin)

    def forged_token(self, user: str) -> str | None:
        """A well-formed token signed with some other secret."""
        if self.secret is None:
            return None
        return auth.issue(auth.new_secret().encode(), user, MEMBER_TTL)

    def client_tls(self) -> ClientTls | None:
        return ClientTls(self.ca) if self.ca is not None else None
