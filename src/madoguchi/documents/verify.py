"""Checking a PDF someone uploads to ``/verify/`` (文書の検証): a selector — it reads, never writes.

:func:`pdf_verify` takes the uploaded bytes and answers, in a typed :class:`UploadReport`:

1. **Is it a PDF we can read?** Refused before any parsing when empty or larger than
   ``MADOGUCHI_VERIFY_MAX_BYTES`` (default 20 MB); then it must start with ``%PDF-``, must
   not be encrypted, and must have at most :data:`MAX_REVISIONS` revisions (an incremental
   update is one revision; a sealed, timestamped and archive-timestamped notice has a few).
   Anything pyHanko cannot parse is "not a readable PDF" — never an exception to the caller.
2. **Its signatures**, each validated by pyHanko (``validate_pdf_signature``, document
   timestamps with ``validate_pdf_timestamp``) against the platform's trust roots
   (:func:`trust_roots`, i.e. ``madoguchi.documents.seal.seal_trust_roots``): intact (the
   signed bytes unchanged), valid (the cryptography holds), trusted (a chain to a root we
   trust, the certificate in its validity period at the signing time — a signature
   timestamp proves that time), and **what it covers**: the whole file, or only a part
   followed by an incremental update. After a signature only validation data (DSS) and
   document timestamps may follow (pyHanko's modification level ``LTA_UPDATES``); new
   content after it (``OTHER``, ``FORM_FILLING``, ``ANNOTATIONS``) is reported as a change.
3. **Was it issued by this platform?** Each revision of the upload (its bytes up to each
   ``%%EOF``) is hashed; a revision whose SHA-256 is a :class:`Document`'s ``sha256`` (the
   digest in the register) is that document. The report names it (its public facts and
   status, never personal data) and whether bytes were added after it — and whether those
   additions are only archival timestamps or something else.

The answer :attr:`UploadReport.verdict` is one of :class:`Verdict`; each report carries
Japanese sentences (:attr:`UploadReport.findings`) that a bank clerk can read.
"""

from __future__ import annotations

import contextvars
import enum
import hashlib
import importlib
import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from django.conf import settings

from madoguchi.documents.models import Document

log = logging.getLogger(__name__)

#: At most this many revisions (incremental updates) are examined; more is refused.
MAX_REVISIONS: Final = 16
#: At most this many signatures are validated; more is refused.
MAX_SIGNATURES: Final = 8
#: The default of ``MADOGUCHI_VERIFY_MAX_BYTES``.
DEFAULT_MAX_BYTES: Final = 20 * 1024 * 1024

_EOF = re.compile(rb"%%EOF[ \t]*(\r\n|\r|\n)?")

#: Set while an upload is examined: pyHanko's own log records (tracebacks naming the
#: uploaded certificates' subjects, possibly a person) are dropped then — an upload is not
#: ours to log. The platform's own sealing and validation elsewhere still log.
_EXAMINING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "madoguchi_verify_examining", default=False
)


class _UploadLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _EXAMINING.get()


_FILTER = _UploadLogFilter()


def _quiet_pyhanko_loggers() -> None:
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if (
            name.startswith("pyhanko")
            and isinstance(logger, logging.Logger)
            and _FILTER not in logger.filters
        ):
            logger.addFilter(_FILTER)


class Refusal(enum.StrEnum):
    """Why an upload was not examined at all."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_PDF = "not_pdf"
    ENCRYPTED = "encrypted"
    TOO_MANY_REVISIONS = "too_many_revisions"
    UNREADABLE = "unreadable"


REFUSAL_TEXT: Final = {
    Refusal.EMPTY: "ファイルが空です。検証したいPDFファイルを選んでから送信してください。",
    Refusal.NOT_PDF: (
        "このファイルはPDFではありません。交付された通知書などのPDFファイルを選んでください。"
    ),
    Refusal.ENCRYPTED: (
        "このPDFはパスワードで暗号化されているため検証できません。"
        "交付されたままの（暗号化していない）PDFファイルを選んでください。"
    ),
    Refusal.UNREADABLE: (
        "このファイルはPDFとして読み取れませんでした（壊れているか、形式が正しくありません）。"
        "交付されたままのPDFファイルを選んでください。"
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
            return (
                f"このPDFは{MAX_REVISIONS}回を超えて追記（増分更新）されているため検証できません。"
                "交付されたままのPDFファイルを選んでください。"
            )
        return REFUSAL_TEXT[self.refusal]


def max_bytes() -> int:
    """The largest upload examined (``MADOGUCHI_VERIFY_MAX_BYTES``)."""
    return int(getattr(settings, "VERIFY_MAX_BYTES", DEFAULT_MAX_BYTES))


def too_large_text() -> str:
    megabytes = max_bytes() / (1024 * 1024)
    return (
        f"ファイルが大きすぎます（検証できるのは{megabytes:g}MBまでです）。"
        "交付されたままのPDFファイルを選んでください。"
    )


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


def _subject(cert: Any) -> str:
    """The subject as a person reads it: its common name, then its organisation."""
    try:
        names = cert.subject.native
        common = str(names.get("common_name", "") or "")
        organisation = str(names.get("organization_name", "") or "")
        if common and organisation and organisation not in common:
            return f"{common}（{organisation}）"
        return common or organisation or str(cert.subject.human_friendly)
    except Exception:
        return "（読み取れません）"


def _context(roots: list[Any], moment: datetime | None = None) -> Any:
    from pyhanko_certvalidator import ValidationContext

    extra: dict[str, Any] = {} if moment is None else {"moment": moment}
    return ValidationContext(
        trust_roots=roots,
        allow_fetching=False,
        revocation_mode="soft-fail",
        **extra,
    )


def _added_after(status: Any) -> tuple[bool, str]:
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import SignatureCoverageLevel

    coverage = getattr(status, "coverage", None)
    whole = coverage == SignatureCoverageLevel.ENTIRE_FILE
    if whole:
        return True, ""
    level = getattr(status, "modification_level", None)
    if level in (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES) and coverage in (
        SignatureCoverageLevel.ENTIRE_REVISION,
    ):
        return False, "validation"
    return False, "content"


def _expired(cert: Any, at: datetime) -> bool:
    try:
        return bool(cert.not_valid_after < at or cert.not_valid_before > at)
    except Exception:
        return False


def _signature_report(embedded: Any, roots: list[Any], now: datetime) -> SignatureReport:
    from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp

    is_timestamp = str(getattr(embedded, "sig_object_type", "")) == "/DocTimeStamp"
    problems: list[str] = []
    if is_timestamp:
        status: Any = validate_pdf_timestamp(embedded, validation_context=_context(roots))
        signed_at = getattr(status, "timestamp", None)
        timestamped = True
    else:
        status = validate_pdf_signature(
            embedded,
            signer_validation_context=_context(roots),
            ts_validation_context=_context(roots),
        )
        ts: Any = getattr(status, "timestamp_validity", None)
        timestamped = ts is not None and bool(ts.intact and ts.valid)
        signed_at = ts.timestamp if ts is not None and timestamped else None
        signed_at = signed_at or getattr(status, "signer_reported_dt", None)
        if (
            status.intact
            and status.valid
            and not status.trusted
            and timestamped
            and signed_at is not None
        ):
            # A seal whose certificate expired since: valid when it was valid at the time
            # its (valid) signature timestamp proves.
            again = validate_pdf_signature(
                embedded,
                signer_validation_context=_context(roots, moment=signed_at),
                ts_validation_context=_context(roots),
                skip_diff=True,
            )
            if again.trusted:
                status = _with_trust(status, again)
    cert = getattr(status, "signing_cert", None) or getattr(embedded, "signer_cert", None)
    trusted = bool(status.trusted)
    expired = cert is not None and _expired(cert, signed_at if timestamped and signed_at else now)
    whole, added = _added_after(status)
    if not status.intact:
        problems.append(
            "署名された後にファイルの内容が書き換えられています（署名の対象と内容が一致しません）。"
        )
    elif not status.valid:
        problems.append("署名の値が正しくありません（署名が壊れているか、偽造されています）。")
    if status.intact and status.valid and not trusted:
        if expired:
            problems.append(
                "署名に使われた証明書の有効期限が、署名の時点で切れています"
                "（または署名の時刻を証明するタイムスタンプがありません）。"
            )
        elif not roots:
            problems.append(
                "この窓口が信頼する発行元（認証局）が設定されていないため、署名者を確認できません。"
            )
        else:
            problems.append(
                "署名した証明書が、この窓口が信頼する認証局につながっていません"
                "（発行元を確認できない署名です）。"
            )
    if added == "content":
        problems.append(
            "署名の後に、内容を変える追記（増分更新）があります。署名されたのはファイルの一部だけで、"
            "その後で文書が変更されています。"
        )
    return SignatureReport(
        field_name=str(getattr(embedded, "field_name", "") or ""),
        kind="timestamp" if is_timestamp else "signature",
        signer=_subject(cert) if cert is not None else "（不明）",
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=trusted,
        expired=expired,
        signed_at=signed_at,
        timestamped=timestamped,
        covers_whole_file=whole,
        added_after=added,
        problems=tuple(problems),
    )


def _with_trust(status: Any, again: Any) -> Any:
    import dataclasses

    # ``trusted`` is derived from the validation path; take the revalidated one.
    return dataclasses.replace(
        status,
        validation_path=again.validation_path,
        trust_problem_indic=again.trust_problem_indic,
        validation_time=again.validation_time,
    )


# --- the whole check --------------------------------------------------------------------------


def pdf_verify(data: bytes, *, now: datetime, roots: Iterable[Any] | None = None) -> UploadReport:
    """Examine an uploaded PDF (see the module text). Reads only; never raises for any
    input. ``roots`` replaces :func:`trust_roots` (tests, benchmarks)."""
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
    for module in (
        "pyhanko.sign.validation",
        "pyhanko.sign.diff_analysis",
        "pyhanko_certvalidator",
    ):
        importlib.import_module(module)  # their loggers exist before they are quietened
    _quiet_pyhanko_loggers()
    # The register look-up and the trust roots stay outside the parser's safety net: a
    # database or configuration failure is the platform's error, never "your file is
    # unreadable".
    match = issued_match(data, ends)
    trust = list(roots) if roots is not None else trust_roots()
    token = _EXAMINING.set(True)
    try:
        return _examine(data, match, now=now, trust=trust)
    except Exception as error:  # hostile input: any parser failure is "unreadable"
        # The exception's text may quote the upload: only its type is logged.
        log.info("uploaded PDF could not be read (%s)", type(error).__name__)
        return UploadReport(Verdict.REFUSED, size, refusal=Refusal.UNREADABLE)
    finally:
        _EXAMINING.reset(token)


def _examine(
    data: bytes, match: IssuedMatch | None, *, now: datetime, trust: list[Any]
) -> UploadReport:
    from pyhanko.pdf_utils.reader import PdfFileReader

    size = len(data)
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    if reader.encrypted:
        return UploadReport(Verdict.REFUSED, size, refusal=Refusal.ENCRYPTED)
    revisions = int(reader.total_revisions)
    if revisions > MAX_REVISIONS:
        return UploadReport(Verdict.REFUSED, size, refusal=Refusal.TOO_MANY_REVISIONS)
    embedded = list(reader.embedded_signatures)
    if len(embedded) > MAX_SIGNATURES:
        return UploadReport(
            Verdict.REFUSED, size, refusal=Refusal.TOO_MANY_REVISIONS, revisions=revisions
        )
    signatures = tuple(_signature_report(sig, trust, now) for sig in embedded)
    findings: list[str] = []
    changed = False
    if match is not None:
        # After issue only validation data and archival timestamps may be appended: the
        # seal then reports them as such. Anything appended to an unsealed document, or new
        # content after the seal, is a change.
        changed = match.bytes_added and (
            not signatures or any(s.added_after == "content" for s in signatures)
        )
        verdict = Verdict.ISSUED_CHANGED if changed else Verdict.ISSUED_INTACT
        if changed:
            findings.append(
                "この窓口が発行した文書に、発行した後で内容を変える追記がされています。"
                "このファイルの内容は、発行された文書と同じではありません。"
            )
        else:
            findings.append("この窓口が発行した文書と同じ内容です（発行後に変更されていません）。")
    else:
        verdict = Verdict.UNKNOWN
        findings.append(
            "この窓口が発行した文書の記録（台帳）に、このファイルと一致するものはありません。"
            "この窓口が発行した文書ではないか、発行された後で変更されています。"
        )
    if not signatures:
        findings.append("このPDFには電子署名（電子公印）がありません。")
    for report in signatures:
        findings.extend(report.problems)
    return UploadReport(
        verdict=verdict,
        size=size,
        revisions=revisions,
        signatures=signatures,
        issued=match,
        findings=tuple(dict.fromkeys(findings)),
    )


__all__ = [
    "MAX_REVISIONS",
    "IssuedMatch",
    "Refusal",
    "SignatureReport",
    "UploadReport",
    "Verdict",
    "max_bytes",
    "pdf_verify",
    "revision_ends",
    "trust_roots",
]
