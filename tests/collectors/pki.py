"""A throw-away PKI for the TLS tests: root, intermediate, and leaves good, expired and odd.

The root expires first (in 30 days), the good leaf in 90 days and the intermediate in 400: a
probe that counted the root would report 30 days, the right answer is the leaf's 90.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def not_after(self) -> float:
        return self.cert.not_valid_after_utc.timestamp()


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fellesdrift test"),
        ]
    )


def issue(
    cn: str, issuer: Issued | None, *, days: tuple[int, int], ca: bool, sans: tuple[str, ...] = ()
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    signer_key = issuer.key if issuer else key
    issuer_name = issuer.cert.subject if issuer else _name(cn)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + dt.timedelta(days=days[0]))
        .not_valid_after(NOW + dt.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        usage = x509.KeyUsage(
            digital_signature=True,
            key_cert_sign=True,
            crl_sign=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
        )
        builder = builder.add_extension(usage, critical=True)
    else:
        names: list[x509.GeneralName] = []
        for san in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                names.append(x509.DNSName(san))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)


def pem(*certs: Issued) -> bytes:
    return b"".join(c.cert.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(issued: Issued) -> bytes:
    return issued.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class PKI:
    dir: Path
    root: Issued
    intermediate: Issued
    leaf: Issued
    expired: Issued
    self_signed: Issued

    @property
    def ca_file(self) -> str:
        return str(self.dir / "ca.pem")

    def server_files(self, name: str, *chain: Issued) -> tuple[str, str]:
        """(certificate chain file, key file) for a server presenting ``chain``."""
        cert_path, key_path = self.dir / f"{name}.pem", self.dir / f"{name}.key"
        cert_path.write_bytes(pem(*chain))
        key_path.write_bytes(key_pem(chain[0]))
        return str(cert_path), str(key_path)


def make_pki(directory: Path) -> PKI:
    hosts = ("localhost", "127.0.0.1")
    root = issue("fellesdrift test root", None, days=(-1, 30), ca=True)
    intermediate = issue("fellesdrift test intermediate", root, days=(-1, 400), ca=True)
    leaf = issue("localhost", intermediate, days=(-1, 90), ca=False, sans=hosts)
    expired = issue("localhost", intermediate, days=(-20, -1), ca=False, sans=hosts)
    self_signed = issue("localhost", None, days=(-1, 200), ca=False, sans=hosts)
    (directory / "ca.pem").write_bytes(pem(root))
    return PKI(directory, root, intermediate, leaf, expired, self_signed)
