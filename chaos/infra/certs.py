"""A throwaway certificate authority and certificates for TLS runs (the harness's and the tests').

Certificates carry IP SANs for 127.0.0.1 and ::1 and the DNS name
``localhost``, so a channel dialling ``127.0.0.1:PORT`` (a node, a gate, or
the Toxiproxy proxy in front of one: it carries TLS bytes unchanged)
verifies the name it dialled without any override.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOCAL_NAMES = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Pem:
    """A certificate and its key, as PEM, and where they were written (if they were)."""

    cert: bytes
    key: bytes
    cert_path: Path | None = None
    key_path: Path | None = None


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Authority:
    """A CA that signs server and client certificates for one run; ``cert`` is what the other end trusts."""

    def __init__(self, name: str = "pushchat test CA") -> None:
        self._key = _key()
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self._cert = (x509.CertificateBuilder().subject_name(self._name).issuer_name(self._name)
                      .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
                      .not_valid_before(now - datetime.timedelta(minutes=5))
                      .not_valid_after(now + datetime.timedelta(days=2))
                      .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                      .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                   content_commitment=False, key_encipherment=False,
                                                   data_encipherment=False, key_agreement=False,
                                                   encipher_only=False, decipher_only=False), critical=True)
                      .sign(self._key, hashes.SHA256()))
        self.cert = self._cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, common_name: str, names: tuple[str, ...] = LOCAL_NAMES, client: bool = False) -> Pem:
        """A certificate for a server (its ``names`` as SANs) or, with ``client``, for a caller (mutual TLS)."""
        key = _key()
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        now = datetime.datetime.now(datetime.timezone.utc)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
                   .issuer_name(self._name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return Pem(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))

    def write(self, folder: Path, stem: str, pem: Pem | None = None) -> Pem:
        """Write ``pem`` (or the CA's own certificate, ``stem.pem``) into ``folder``; keys readable by the owner only."""
        folder.mkdir(parents=True, exist_ok=True)
        if pem is None:
            path = folder / f"{stem}.pem"
            path.write_bytes(self.cert)
            return Pem(self.cert, b"", path, None)
        cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}-key.pem"
        cert_path.write_bytes(pem.cert)
        key_path.touch(mode=0o600)
        key_path.write_bytes(pem.key)
        return Pem(pem.cert, pem.key, cert_path, key_path)
