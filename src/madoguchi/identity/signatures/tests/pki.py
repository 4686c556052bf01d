"""A JPKI-like PKI built with the ``openssl`` command line (not with the project's code).

One root CA with the J-LIS signing CA's name, a CA with the same name and another key (a
wrong issuer), signing certificates with the 基本4情報 and the signing policy, and variants:
expired, not yet valid, revoked, wrong key usage, wrong policy, hostile extensions, a chain
that loops. Built once per test session (RSA key generation is the slow part).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

JLIS_DN = "/C=JP/O=JPKI/OU=JPKI for digital signature/OU=Japan Agency for Local Authority Information Systems"
POLICY = "1.2.392.200149.8.5.1.1.20"
AUTH_POLICY = "1.2.392.200149.8.5.1.1.10"

NAME = "鎌倉　花子"
ADDRESS = "神奈川県鎌倉市御成町１８番１０号"
SAN = f"""
otherName.1 = 1.2.392.200149.8.5.5.1;FORMAT:UTF8,UTF8:{NAME}
otherName.2 = 1.2.392.200149.8.5.5.3;UTF8:2
otherName.3 = 1.2.392.200149.8.5.5.4;UTF8:19850401
otherName.4 = 1.2.392.200149.8.5.5.5;FORMAT:UTF8,UTF8:{ADDRESS}
"""

EXTENSIONS = f"""
[ jpki ]
keyUsage = critical,digitalSignature,nonRepudiation
certificatePolicies = critical,{POLICY}
subjectAltName = @san
authorityKeyIdentifier = keyid
[ wrong_usage ]
keyUsage = critical,digitalSignature,keyEncipherment
certificatePolicies = critical,{POLICY}
subjectAltName = @san
[ wrong_policy ]
keyUsage = critical,digitalSignature,nonRepudiation
certificatePolicies = critical,{AUTH_POLICY}
subjectAltName = @san
[ unknown_critical ]
keyUsage = critical,digitalSignature,nonRepudiation
certificatePolicies = critical,{POLICY}
subjectAltName = @san
1.2.3.4.5.6 = critical,DER:0500
[ bmp_name ]
keyUsage = critical,digitalSignature,nonRepudiation
certificatePolicies = critical,{POLICY}
subjectAltName = @san_bmp
[ many_names ]
keyUsage = critical,digitalSignature,nonRepudiation
certificatePolicies = critical,{POLICY}
subjectAltName = @san_many
[ huge ]
keyUsage = critical,digitalSignature,nonRepudiation
certificatePolicies = critical,{POLICY}
subjectAltName = @san
1.2.3.4.5.7 = DER:{"00" * 70_000}
[ ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ san ]
{SAN}
[ san_bmp ]
otherName.1 = 1.2.392.200149.8.5.5.1;BMPSTRING:Kamakura Hanako
otherName.3 = 1.2.392.200149.8.5.5.4;UTF8:19850401
[ san_many ]
{SAN}
""" + "".join(f"DNS.{i} = host{i}.example.jp\n" for i in range(1, 1500))

CA_CONFIG = """
[ ca ]
default_ca = ca_default
[ ca_default ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/new
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
default_crl_days = 30
[ policy_any ]
countryName = optional
commonName = supplied
"""


def openssl(*args: str | Path, cwd: Path | None = None) -> bytes:
    result = subprocess.run(["openssl", *map(str, args)], capture_output=True, cwd=cwd, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


@dataclass
class CA:
    dir: Path
    extensions: Path

    @property
    def certificate(self) -> Path:
        return self.dir / "ca.pem"

    def issue(
        self,
        name: str,
        csr: Path,
        *,
        section: str = "jpki",
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Path:
        now = datetime.now(UTC)
        out = self.dir / f"{name}.pem"
        openssl(
            "ca", "-batch", "-config", self.dir / "ca.cnf", "-in", csr, "-out", out,
            "-notext", "-subj", f"/C=JP/CN={name}",
            "-extfile", self.extensions, "-extensions", section,
            "-startdate", stamp(start or now - timedelta(days=1)),
            "-enddate", stamp(end or now + timedelta(days=365 * 4)),
        )  # fmt: skip
        return out

    def revoke(self, certificate: Path) -> None:
        openssl("ca", "-config", self.dir / "ca.cnf", "-revoke", certificate)

    def crl(self, name: str, *, hours: int = 24 * 30) -> bytes:
        out = self.dir / f"{name}.crl.pem"
        openssl(
            "ca", "-config", self.dir / "ca.cnf", "-gencrl", "-crlhours", str(hours), "-out", out
        )
        return openssl("crl", "-in", out, "-outform", "DER")


def make_ca(root: Path, name: str, extensions: Path, subject: str = JLIS_DN) -> CA:
    directory = root / name
    (directory / "new").mkdir(parents=True)
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("1000\n")
    (directory / "crlnumber").write_text("01\n")
    (directory / "ca.cnf").write_text(CA_CONFIG.format(dir=directory))
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory / "ca.key",
        "-out", directory / "ca.pem", "-subj", subject, "-days", "3650",
        "-set_serial", "1", "-config", extensions, "-extensions", "ca",
    )  # fmt: skip
    return CA(directory, extensions)


@dataclass
class Pki:
    root: Path
    jlis: CA
    other: CA
    key: Path
    csr: Path
    certs: dict[str, Path] = field(default_factory=dict)

    def sign(
        self,
        content: bytes,
        cert: str = "valid",
        *,
        attributes: bool = True,
        pem: bool = False,
        extra: tuple[str, ...] = (),
    ) -> bytes:
        source = self.root / "content.bin"
        source.write_bytes(content)
        out = self.root / "sig.p7s"
        openssl(
            "cms", "-sign", "-binary", "-in", source, "-signer", self.certs[cert],
            "-inkey", self.key, "-outform", "PEM" if pem else "DER", "-md", "sha256",
            "-out", out, *(("-noattr",) if not attributes else ()), *extra,
        )  # fmt: skip
        return out.read_bytes()


def build(root: Path) -> Pki:
    extensions = root / "extensions.cnf"
    extensions.write_text(EXTENSIONS, encoding="utf-8")
    jlis = make_ca(root, "jlis", extensions)
    other = make_ca(root, "other", extensions)
    key, csr = root / "card.key", root / "card.csr"
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/C=JP/CN=card")  # fmt: skip
    pki = Pki(root=root, jlis=jlis, other=other, key=key, csr=csr)
    now = datetime.now(UTC)
    pki.certs["valid"] = jlis.issue("valid", csr)
    pki.certs["revoked"] = jlis.issue("revoked", csr)
    jlis.revoke(pki.certs["revoked"])
    pki.certs["expired"] = jlis.issue(
        "expired", csr, start=now - timedelta(days=800), end=now - timedelta(days=400)
    )
    pki.certs["not_yet_valid"] = jlis.issue(
        "not_yet_valid", csr, start=now + timedelta(days=30), end=now + timedelta(days=400)
    )
    pki.certs["short"] = jlis.issue("short", csr, end=now + timedelta(days=10))
    for section in (
        "wrong_usage",
        "wrong_policy",
        "unknown_critical",
        "bmp_name",
        "many_names",
        "huge",
    ):
        pki.certs[section] = jlis.issue(section, csr, section=section)
    pki.certs["other_issuer"] = other.issue("other_issuer", csr)
    pki.certs["loop"] = _loop(root, extensions, csr)
    pki.certs["chained"] = _chained(root, jlis, extensions, csr)
    return pki


def _chained(root: Path, jlis: CA, extensions: Path, csr: Path) -> Path:
    """A card certified by an intermediate CA that the root certified; the intermediate goes
    into the CMS (``chain.pem``), the root is the anchor."""
    inter = make_ca(root, "inter", extensions, "/C=JP/O=JPKI/CN=Intermediate")
    request = inter.dir / "inter.csr"
    openssl("req", "-new", "-key", inter.dir / "ca.key", "-out", request, "-subj", "/C=JP/O=JPKI/CN=Intermediate")  # fmt: skip
    openssl(
        "ca", "-batch", "-config", jlis.dir / "ca.cnf", "-in", request, "-out", inter.certificate,
        "-notext", "-subj", "/C=JP/O=JPKI/CN=Intermediate", "-extfile", extensions, "-extensions", "ca",
        "-days", "1000",
    )  # fmt: skip
    (root / "chain.pem").write_bytes(inter.certificate.read_bytes())
    return inter.issue("chained", csr)


def _loop(root: Path, extensions: Path, csr: Path) -> Path:
    """Two CAs that certify each other (A by B, B by A) and a card certified by A; the CMS
    carries all three. Neither reaches a trust anchor."""
    a, b = (
        make_ca(root, "loop_a", extensions, "/C=JP/O=Loop/CN=A"),
        make_ca(root, "loop_b", extensions, "/C=JP/O=Loop/CN=B"),
    )
    for ca, issuer in ((a, b), (b, a)):
        request = ca.dir / "self.csr"
        openssl("req", "-new", "-key", ca.dir / "ca.key", "-out", request, "-subj", f"/C=JP/O=Loop/CN={ca.dir.name[-1].upper()}")  # fmt: skip
        openssl(
            "x509", "-req", "-in", request, "-CA", issuer.certificate, "-CAkey",
            issuer.dir / "ca.key", "-set_serial", "7", "-days", "365",
            "-extfile", extensions, "-extensions", "ca", "-out", ca.dir / "cross.pem",
        )  # fmt: skip
    card = a.issue("loop_card", csr)
    bundle = root / "loop_bundle.pem"
    bundle.write_bytes((a.dir / "cross.pem").read_bytes() + (b.dir / "cross.pem").read_bytes())
    return card
