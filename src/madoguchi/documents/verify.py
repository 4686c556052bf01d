"""Checking a PDF someone uploads to ``/verify/`` (文書の検証): a selector — it reads, never writes.

:func:`pdf_verify` takes the uploaded bytes and answers, in a typed :class:`UploadReport`:

1. **Is it a PDF we can read?** Refused before any parsing when empty or larger than
   ``MADOGUCHI_VERIFY_MAX_BYTES`` (default 20 MB); then it must start with ``%PDF-``, must
   not be encrypted, and must have at most :data:`MAX_REVISIONS` revisions (an incremental
   update is one revision; a sealed, timestamped and archive-timestamped notice has a few).
   Anything pyHanko cannot parse is "not a readable PDF" — never an exception to the caller.
2. **Its signatures**, each validated by pyHanko (``validate_pdf_signature``, document
   timestamps with ``validate_pdf_timestamp``) against the platform's trust roots
   (:func:`trust_roots`, i.e. ``madoguchi.documents.seal.seal_trust_roots``; timestamps also
   against the timestamp authority's roots, :func:`tsa_trust_roots`): intact, valid, trusted,
   and **what it covers**. A timestamp proves a time only when it is trusted too (an
   untrusted token cannot back-date the re-validation of an expired certificate).
   The parsing runs in a child process (:mod:`madoguchi.documents.verify_worker`) with
   ``RLIMIT_AS`` (``MADOGUCHI_VERIFY_MEMORY_MB``), ``RLIMIT_CPU``
   (``MADOGUCHI_VERIFY_CPU_SECONDS``), a wall-clock timeout
   (``MADOGUCHI_VERIFY_TIMEOUT_SECONDS``) and at most ``MADOGUCHI_VERIFY_CONCURRENCY`` at once
   per server process; a trailer claiming more than :data:`MAX_OBJECTS` objects is refused
   unparsed. A file the child cannot finish is "too large or too complex", never a 500.
3. **Was it issued by this platform?** Each revision of the upload (its bytes up to each
   ``%%EOF``) is hashed; a revision whose SHA-256 is a :class:`Document`'s ``sha256`` (the
   digest in the register) is that document. The report names it (its public facts and
   status, never personal data) and whether bytes were added after it. When bytes follow
   the issued revision, the platform's seal is taken from **the issued revision itself** (its
   /ByteRange ends at the issued length — a later update that empties ``/AcroForm /Fields``
   cannot hide it) and validated over the whole upload: it must be intact and valid, with
   pyHanko's modification level ``NONE`` or ``LTA_UPDATES`` (validation data and document
   timestamps only), and every later signature must be a trusted document timestamp;
   anything else is "issued, then changed".

The answer :attr:`UploadReport.verdict` is one of :class:`Verdict`; each report carries
Japanese sentences (:attr:`UploadReport.findings`) that a bank clerk can read.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.documents.models import Document

log = logging.getLogger(__name__)

#: At most this many revisions (incremental updates) are examined; more is refused.
MAX_REVISIONS: Final = 16
#: At most this many signatures are validated; more is refused.
MAX_SIGNATURES: Final = 8
#: A trailer or xref stream claiming more objects than this is refused before parsing (an
#: issued notice has a few hundred).
MAX_OBJECTS: Final = 100_000
#: The default of ``MADOGUCHI_VERIFY_MAX_BYTES``.
DEFAULT_MAX_BYTES: Final = 20 * 1024 * 1024

_EOF = re.compile(rb"%%EOF[ \t]*(\r\n|\r|\n)?")


class Refusal(enum.StrEnum):
    """Why an upload was not examined at all."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_PDF = "not_pdf"
    ENCRYPTED = "encrypted"
    TOO_MANY_REVISIONS = "too_many_revisions"
    TOO_MANY_SIGNATURES = "too_many_signatures"
    UNREADABLE = "unreadable"
    #: Too large or too complex to examine within the child process's bounds.
    RESOURCES = "resources"
    #: Too many checks at once (``MADOGUCHI_VERIFY_CONCURRENCY``).
    BUSY = "busy"


REFUSAL_TEXT: Final = {
    Refusal.EMPTY: gettext_lazy(
        "ファイルが空です。検証したいPDFファイルを選んでから送信してください。"
    ),
    Refusal.NOT_PDF: gettext_lazy(
        "このファイルはPDFではありません。交付された通知書などのPDFファイルを選んでください。"
    ),
    Refusal.ENCRYPTED: gettext_lazy(
        "このPDFはパスワードで暗号化されているため検証できません。"
        "交付されたままの（暗号化していない）PDFファイルを選んでください。"
    ),
    Refusal.UNREADABLE: gettext_lazy(
        "このPDFは検証できませんでした。読み取れない部分があり、発行された後で変更されている"
        "おそれがあります。交付されたままのPDFファイルで試すか、文書の発行元"
        "（通知書に書かれている担当課）に確認してください。"
    ),
    Refusal.RESOURCES: gettext_lazy(
        "このファイルは検証できませんでした（大きすぎるか、構造が複雑すぎます）。"
        "交付されたままのPDFファイルを選んでください。続くときは文書の発行元に確認してください。"
    ),
    Refusal.BUSY: gettext_lazy(
        "ただいま検証が混み合っています。しばらく待ってから、もう一度送信してください。"
    ),
}


class Verdict(enum.StrEnum):
    """The one-line answer of an examined upload."""

    #: Issued here, unchanged (or only archival timestamps added), every signature valid.
    ISSUED_INTACT = "issued_intact"
    #: Issued here, but something other than validation data was added after issue.
    ISSUED_CHANGED = "issued_changed"
    #: Not a document issued by this platform (no revision matches the register), or changed
    #: so that no revision matches.
    UNKNOWN = "unknown"
    #: Refused before examination (:class:`Refusal`).
    REFUSED = "refused"


@dataclass(frozen=True)
class SignatureReport:
    """One signature (or document timestamp) of the upload, as pyHanko validated it."""

    field_name: str
    #: "signature" (署名) or "timestamp" (文書タイムスタンプ).
    kind: str
    #: Who signed: the certificate's subject as people read it.
    signer: str
    #: The signed bytes are unchanged.
    intact: bool
    #: The signature's cryptography holds over them.
    valid: bool
    #: A chain to a trust root, the certificate valid at the signing time.
    trusted: bool
    #: The signing certificate was outside its validity period at the time validated.
    expired: bool
    #: The time a valid signature timestamp proves, else the signer's own claim, else None.
    signed_at: datetime | None
    timestamped: bool
    #: The signature covers the whole file (nothing after it).
    covers_whole_file: bool
    #: What was added after it: "" (nothing), "validation" (DSS / document timestamps —
    #: fine), "content" (new content — the document was changed after signing).
    added_after: str
    #: Japanese sentences on what is wrong (empty when nothing is).
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class IssuedMatch:
    """The register document one revision of the upload is, and its public facts."""

    document: Document
    #: 1-based revision of the upload that equals the issued PDF.
    revision: int
    #: Bytes follow the issued PDF in the upload.
    bytes_added: bool


@dataclass(frozen=True)
class UploadReport:
    """What :func:`pdf_verify` found."""

    verdict: Verdict
    size: int
    refusal: Refusal | None = None
    revisions: int = 0
    signatures: tuple[SignatureReport, ...] = ()
    issued: IssuedMatch | None = None
    #: Japanese sentences, most important first.
    findings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def refusal_text(self) -> str:
        if self.refusal is None:
            return ""
        if self.refusal == Refusal.TOO_LARGE:
            return too_large_text()
        if self.refusal == Refusal.TOO_MANY_REVISIONS:
            return _(
                "このPDFは%(count)d回を超えて追記（増分更新）されているため検証できません。"
                "交付されたままのPDFファイルを選んでください。"
            ) % {"count": MAX_REVISIONS}
        if self.refusal == Refusal.TOO_MANY_SIGNATURES:
            return _(
                "このPDFには電子署名が多すぎる（%(count)d個を超えています）ため検証できません。"
                "交付されたままのPDFファイルを選んでください。"
            ) % {"count": MAX_SIGNATURES}
        return str(REFUSAL_TEXT[self.refusal])


def max_bytes() -> int:
    """The largest upload examined (``MADOGUCHI_VERIFY_MAX_BYTES``)."""
    return int(getattr(settings, "VERIFY_MAX_BYTES", DEFAULT_MAX_BYTES))


def too_large_text() -> str:
    megabytes = max_bytes() / (1024 * 1024)
    return _(
        "ファイルが大きすぎます（検証できるのは%(megabytes)sMBまでです）。"
        "交付されたままのPDFファイルを選んでください。"
    ) % {"megabytes": f"{megabytes:g}"}


# --- trust roots ------------------------------------------------------------------------------


def trust_roots() -> list[Any]:
    """The certificates a seal must chain to (asn1crypto certificates): those of
    ``madoguchi.documents.seal.seal_trust_roots()``; none while the seal has no such
    function (every signature is then reported as not trusted)."""
    from madoguchi.documents import seal

    provider = getattr(seal, "seal_trust_roots", None)
    if provider is None:
        return []
    return [_as_asn1(root) for root in provider()]


def _as_asn1(root: Any) -> Any:
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    if isinstance(root, asn1_x509.Certificate):
        return root
    if hasattr(root, "public_bytes"):  # cryptography's x509.Certificate
        from cryptography.hazmat.primitives.serialization import Encoding

        return asn1_x509.Certificate.load(root.public_bytes(Encoding.DER))
    data = bytes(root)
    if pem.detect(data):
        _, _, data = pem.unarmor(data)
    return asn1_x509.Certificate.load(data)


# --- revisions --------------------------------------------------------------------------------


def revision_ends(data: bytes) -> list[int]:
    """The offsets just past each ``%%EOF`` marker (and its line end) — where each revision
    of an incrementally updated PDF ends."""
    return [match.end() for match in _EOF.finditer(data)]


def _revision_candidates(data: bytes, ends: Sequence[int]) -> dict[str, int]:
    """SHA-256 of each revision prefix → its 1-based revision number. A marker directly
    followed by a line end counts with and without it (writers differ)."""
    digests: dict[str, int] = {}
    for number, end in enumerate(ends, start=1):
        digests.setdefault(hashlib.sha256(data[:end]).hexdigest(), number)
        stripped = end
        while stripped > 0 and data[stripped - 1 : stripped] in (b"\n", b"\r"):
            stripped -= 1
        if stripped != end:
            digests.setdefault(hashlib.sha256(data[:stripped]).hexdigest(), number)
    return digests


def issued_match(data: bytes, ends: Sequence[int] | None = None) -> IssuedMatch | None:
    """The register document one revision of ``data`` is (the earliest such revision)."""
    ends = revision_ends(data) if ends is None else ends
    candidates = _revision_candidates(data, ends)
    if not candidates:
        return None
    found = (
        Document.objects.select_related("organisation", "superseded_by")
        .filter(sha256__in=list(candidates))
        .order_by("issued_at", "pk")
        .first()
    )
    if found is None:
        return None
    revision = candidates[found.sha256]
    return IssuedMatch(
        document=found,
        revision=revision,
        bytes_added=len(data.rstrip(b"\r\n")) > int(found.issued_length),
    )


# --- signatures -------------------------------------------------------------------------------


def _signature(item: dict[str, Any]) -> SignatureReport:
    """A :class:`SignatureReport` of what the worker found, with its problems in Japanese."""
    signed_at = datetime.fromisoformat(item["signed_at"]) if item.get("signed_at") else None
    intact, valid, trusted = bool(item["intact"]), bool(item["valid"]), bool(item["trusted"])
    expired = bool(item["expired"])
    added = str(item["added_after"])
    problems: list[str] = []
    if not intact:
        problems.append(
            _(
                "署名された後にファイルの内容が書き換えられています（署名の対象と内容が一致しません）。"
            )
        )
    elif not valid:
        problems.append(_("署名の値が正しくありません（署名が壊れているか、偽造されています）。"))
    if intact and valid and not trusted:
        if expired:
            problems.append(
                _(
                    "署名に使われた証明書の有効期限が、署名の時点で切れています"
                    "（または署名の時刻を証明する、信頼できるタイムスタンプがありません）。"
                )
            )
        elif item.get("no_roots"):
            problems.append(
                _(
                    "この窓口が信頼する発行元（認証局）が設定されていないため、署名者を確認できません。"
                )
            )
        else:
            problems.append(
                _(
                    "署名した証明書が、この窓口が信頼する認証局につながっていません"
                    "（発行元を確認できない署名です）。"
                )
            )
    if added == "content":
        problems.append(
            _(
                "署名の後に、内容を変える追記（増分更新）があります。署名されたのはファイルの一部だけで、"
                "その後で文書が変更されています。"
            )
        )
    return SignatureReport(
        field_name=str(item["field_name"]),
        kind=str(item["kind"]),
        signer=str(item["signer"]),
        intact=intact,
        valid=valid,
        trusted=trusted,
        expired=expired,
        signed_at=signed_at,
        timestamped=bool(item["timestamped"]),
        covers_whole_file=bool(item["covers_whole_file"]),
        added_after=added,
        problems=tuple(problems),
    )


# --- the child process ------------------------------------------------------------------------

_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _slot() -> threading.BoundedSemaphore:
    """The process-wide limit on concurrent checks (``MADOGUCHI_VERIFY_CONCURRENCY``)."""
    size = int(getattr(settings, "VERIFY_CONCURRENCY", 2))
    with _slots_lock:
        if size not in _slots:
            _slots[size] = threading.BoundedSemaphore(size)
        return _slots[size]


def _der(root: Any) -> str:
    return base64.b64encode(_as_asn1(root).dump()).decode("ascii")


#: Workers started ahead of time, each for ONE check: a check never shares a process (its
#: limits and whatever a hostile file did to the interpreter end with it), but the next one
#: finds pyHanko already imported (about 0.8 s of CPU) and answers in the time of the check.
_warm: list[subprocess.Popen[bytes]] = []
_warm_lock = threading.Lock()


def _worker_spawn() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "madoguchi.documents.verify_worker", "--warm"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _worker_take() -> subprocess.Popen[bytes]:
    """A worker for one check: a warm one when there is one still alive, else a new one;
    a replacement starts at once for the next check."""
    with _warm_lock:
        worker = None
        while _warm and worker is None:
            candidate = _warm.pop()
            if candidate.poll() is None:
                worker = candidate
        _warm.append(_worker_spawn())
    return worker if worker is not None else _worker_spawn()


def _run_worker(
    data: bytes, *, roots: list[Any], ts_roots: list[Any], now: datetime, issued_length: int | None
) -> dict[str, Any]:
    """Run :mod:`madoguchi.documents.verify_worker` on ``data`` with bounded memory, CPU and
    wall-clock time; ``{"refusal": ...}`` when it could not finish."""
    timeout = int(getattr(settings, "VERIFY_TIMEOUT_SECONDS", 30))
    job = {
        "roots": [_der(root) for root in roots],
        "ts_roots": [_der(root) for root in ts_roots],
        "now": now.isoformat(),
        "issued_length": issued_length,
        "max_revisions": MAX_REVISIONS,
        "max_signatures": MAX_SIGNATURES,
        "memory_bytes": int(getattr(settings, "VERIFY_MEMORY_MB", 768)) * 1024 * 1024,
        "cpu_seconds": int(getattr(settings, "VERIFY_CPU_SECONDS", 20)),
    }
    slot = _slot()
    if not slot.acquire(timeout=timeout):
        return {"refusal": "busy"}
    try:
        worker = _worker_take()
        try:
            stdout, _ = worker.communicate(
                input=json.dumps(job).encode("ascii") + b"\n" + data, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.communicate()
            log.info("uploaded PDF: the check took too long and was stopped")
            return {"refusal": "resources"}
    finally:
        slot.release()
    if worker.returncode != 0:
        # Out of memory (MemoryError, or killed by RLIMIT_CPU's SIGXCPU / the kernel).
        log.info("uploaded PDF: the check stopped (exit %s)", worker.returncode)
        return {"refusal": "resources"}
    try:
        result = json.loads(stdout)
    except ValueError:
        return {"refusal": "resources"}
    if not isinstance(result, dict):
        return {"refusal": "resources"}
    if result.get("refusal") == "unreadable":
        # Only the exception's type: its text may quote the upload.
        log.info("uploaded PDF could not be read (%s)", result.get("error", ""))
    return result


# --- the whole check --------------------------------------------------------------------------

_SIZE = re.compile(rb"/Size\s+(\d{1,20})")


def _too_many_objects(data: bytes) -> bool:
    """A cheap pre-scan: any trailer or xref stream claiming more than :data:`MAX_OBJECTS`."""
    return any(int(found.group(1)) > MAX_OBJECTS for found in _SIZE.finditer(data))


def tsa_trust_roots() -> list[Any]:
    """The roots a timestamp authority's certificate may chain to besides the seal's
    (``MADOGUCHI_TSA_TRUST_ROOTS``; the test CA's while the test TSA is in use)."""
    from madoguchi.documents import seal

    provider = getattr(seal, "tsa_trust_roots", None)
    if provider is None:
        return []
    return [_as_asn1(root) for root in provider()]


def pdf_verify(
    data: bytes,
    *,
    now: datetime,
    roots: Iterable[Any] | None = None,
    tsa_roots: Iterable[Any] | None = None,
) -> UploadReport:
    """Examine an uploaded PDF (see the module text). Reads only; never raises for any
    input. ``roots`` replaces :func:`trust_roots` and ``tsa_roots`` :func:`tsa_trust_roots`
    (tests, benchmarks)."""
    size = len(data)
    if size == 0:
        return UploadReport(Verdict.REFUSED, size, refusal=Refusal.EMPTY)
    if size > max_bytes():
        return UploadReport(Verdict.REFUSED, size, refusal=Refusal.TOO_LARGE)
    if b"%PDF-" not in data[:1024]:
        return UploadReport(Verdict.REFUSED, size, refusal=Refusal.NOT_PDF)
    ends = revision_ends(data)
    if len(ends) > MAX_REVISIONS:
        return UploadReport(Verdict.REFUSED, size, refusal=Refusal.TOO_MANY_REVISIONS)
    if _too_many_objects(data):
        return UploadReport(Verdict.REFUSED, size, refusal=Refusal.RESOURCES)
    # The register look-up and the trust roots stay outside the parser's safety net: a
    # database or configuration failure is the platform's error, never "your file is
    # unreadable".
    match = issued_match(data, ends)
    trust = [_as_asn1(root) for root in roots] if roots is not None else trust_roots()
    ts_trust = (
        [_as_asn1(root) for root in tsa_roots] if tsa_roots is not None else tsa_trust_roots()
    )
    issued_length = None
    if match is not None and match.bytes_added:
        issued_length = _issued_prefix_length(data, match)
    result = _run_worker(
        data,
        roots=trust,
        ts_roots=_unique([*trust, *ts_trust]),
        now=now,
        issued_length=issued_length,
    )
    refusal = result.get("refusal")
    if refusal:
        try:
            reason = Refusal(str(refusal))
        except ValueError:
            reason = Refusal.UNREADABLE
        return UploadReport(
            Verdict.REFUSED, size, refusal=reason, revisions=int(result.get("revisions", 0))
        )
    return _report(data, match, result)


def _unique(roots: list[Any]) -> list[Any]:
    seen: dict[bytes, Any] = {}
    for root in roots:
        seen.setdefault(root.sha256, root)
    return list(seen.values())


def _issued_prefix_length(data: bytes, match: IssuedMatch) -> int:
    """The length of the upload's prefix that is the issued PDF (its digest is the
    register's): the issued length, or the revision end with or without its line end."""
    length = int(match.document.issued_length)
    if hashlib.sha256(data[:length]).hexdigest() == match.document.sha256:
        return length
    for end in revision_ends(data):
        for cut in (end, len(data[:end].rstrip(b"\r\n"))):
            if hashlib.sha256(data[:cut]).hexdigest() == match.document.sha256:
                return cut
    return length


def _kept_as_issued(seal: dict[str, Any] | None, later: list[SignatureReport]) -> bool:
    """After issue only validation data and trusted document timestamps were added: the
    platform's seal (found in the issued revision) is intact and valid over the whole upload
    with modification level NONE or LTA_UPDATES, and every later signature is a trusted
    document timestamp."""
    if seal is None:
        return False
    if not (seal["intact"] and seal["valid"]):
        return False
    if seal["coverage"] not in ("ENTIRE_REVISION", "ENTIRE_FILE"):
        return False
    if seal["modification_level"] not in ("NONE", "LTA_UPDATES"):
        return False
    return all(s.kind == "timestamp" and s.intact and s.valid and s.trusted for s in later)


def _report(data: bytes, match: IssuedMatch | None, result: dict[str, Any]) -> UploadReport:
    size = len(data)
    items = list(result.get("signatures", []))
    signatures = tuple(_signature(item) for item in items)
    findings: list[str] = []
    if match is not None:
        changed = False
        if match.bytes_added:
            seal = result.get("seal")
            seal_range = seal.get("byte_range") if seal else None
            later = [
                report
                for item, report in zip(items, signatures, strict=True)
                if not (
                    seal_range
                    and item.get("signed_end") == seal_range[2] + seal_range[3]
                    and report.kind == "signature"
                )
            ]
            changed = not _kept_as_issued(seal, later)
        verdict = Verdict.ISSUED_CHANGED if changed else Verdict.ISSUED_INTACT
        if changed:
            findings.append(
                _(
                    "この窓口が発行した文書に、発行した後で内容を変える追記がされています。"
                    "このファイルの内容は、発行された文書と同じではありません。"
                )
            )
        else:
            findings.append(
                _("この窓口が発行した文書と同じ内容です（発行後に変更されていません）。")
            )
    else:
        verdict = Verdict.UNKNOWN
        findings.append(
            _(
                "この窓口が発行した文書の記録（台帳）に、このファイルと一致するものはありません。"
                "この窓口が発行した文書ではないか、発行された後で変更されています。"
            )
        )
    if not signatures:
        findings.append(_("このPDFには電子署名（電子公印）がありません。"))
    for report in signatures:
        findings.extend(report.problems)
    return UploadReport(
        verdict=verdict,
        size=size,
        revisions=int(result.get("revisions", 0)),
        signatures=signatures,
        issued=match,
        findings=tuple(dict.fromkeys(findings)),
    )


__all__ = [
    "MAX_REVISIONS",
    "MAX_SIGNATURES",
    "IssuedMatch",
    "Refusal",
    "SignatureReport",
    "UploadReport",
    "Verdict",
    "max_bytes",
    "pdf_verify",
    "revision_ends",
    "trust_roots",
    "tsa_trust_roots",
]
