"""The part of the upload check that parses the uploaded PDF (pyHanko), run in a child process
with bounded memory and CPU (:func:`madoguchi.documents.verify.pdf_verify` starts it).

A hostile PDF can make a parser allocate gigabytes (a 20 KB xref stream that inflates to
20 MB with ``/Size 20000000``) or spin for minutes; in a child process with ``RLIMIT_AS`` and
``RLIMIT_CPU`` (and the parent's wall-clock timeout) that costs the child its life, never the
server. This module imports no Django: the parent passes everything it needs (trust roots as
DER, the issued length of the matching register document, the time) and reads back JSON.

Protocol: ``python -m madoguchi.documents.verify_worker`` reads one JSON line (the job), then
the PDF bytes, from stdin; writes one JSON object to stdout. Nothing of the upload is logged
(stderr is discarded by the parent).
"""

from __future__ import annotations

import io
import json
import resource
import sys
from datetime import datetime
from typing import Any

#: Exit code of a child that ran out of memory (the parent answers "too large or complex").
EXIT_RESOURCES = 3


def _limit(memory_bytes: int, cpu_seconds: int) -> None:
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    if cpu_seconds > 0:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


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
        trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail", **extra
    )


def _level(status: Any) -> str:
    level = getattr(status, "modification_level", None)
    return "" if level is None else str(level.name)


def _coverage(status: Any) -> str:
    coverage = getattr(status, "coverage", None)
    return "" if coverage is None else str(coverage.name)


def _added_after(coverage: str, level: str) -> tuple[bool, str]:
    if coverage == "ENTIRE_FILE":
        return True, ""
    if coverage == "ENTIRE_REVISION" and level in ("NONE", "LTA_UPDATES"):
        return False, "validation"
    return False, "content"


def _expired(cert: Any, at: datetime) -> bool:
    try:
        return bool(cert.not_valid_after < at or cert.not_valid_before > at)
    except Exception:
        return False


def _with_trust(status: Any, again: Any) -> Any:
    import dataclasses

    # ``trusted`` is derived from the validation path; take the revalidated one.
    return dataclasses.replace(
        status,
        validation_path=again.validation_path,
        trust_problem_indic=again.trust_problem_indic,
        validation_time=again.validation_time,
    )


def signature_examine(
    embedded: Any, roots: list[Any], ts_roots: list[Any], now: datetime
) -> dict[str, Any]:
    """Validate one embedded signature or document timestamp: a JSON-able dict. A
    timestamp counts (proves a time) only when it is intact, valid AND trusted (a chain to
    the seal's or the timestamp authority's roots): an untrusted token cannot back-date the
    re-validation of an expired certificate."""
    from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp

    is_timestamp = str(getattr(embedded, "sig_object_type", "")) == "/DocTimeStamp"
    if is_timestamp:
        status: Any = validate_pdf_timestamp(embedded, validation_context=_context(ts_roots))
        signed_at = getattr(status, "timestamp", None)
        timestamped = bool(status.intact and status.valid and status.trusted)
    else:
        status = validate_pdf_signature(
            embedded,
            signer_validation_context=_context(roots),
            ts_validation_context=_context(ts_roots),
        )
        ts: Any = getattr(status, "timestamp_validity", None)
        timestamped = ts is not None and bool(ts.intact and ts.valid and ts.trusted)
        signed_at = ts.timestamp if ts is not None and timestamped else None
        signed_at = signed_at or getattr(status, "signer_reported_dt", None)
        if status.intact and status.valid and not status.trusted and timestamped:
            # A seal whose certificate expired since: valid when it was valid at the time
            # its trusted signature timestamp proves.
            again = validate_pdf_signature(
                embedded,
                signer_validation_context=_context(roots, moment=signed_at),
                ts_validation_context=_context(ts_roots),
                skip_diff=True,
            )
            if again.trusted:
                status = _with_trust(status, again)
    cert = getattr(status, "signing_cert", None) or getattr(embedded, "signer_cert", None)
    expired = cert is not None and _expired(cert, signed_at if timestamped and signed_at else now)
    coverage, level = _coverage(status), _level(status)
    whole, added = _added_after(coverage, level)
    byte_range = [int(x) for x in getattr(embedded, "byte_range", ()) or ()]
    return {
        "field_name": str(getattr(embedded, "field_name", "") or ""),
        "kind": "timestamp" if is_timestamp else "signature",
        "signer": _subject(cert) if cert is not None else "（不明）",
        "intact": bool(status.intact),
        "valid": bool(status.valid),
        "trusted": bool(status.trusted),
        "expired": bool(expired),
        "signed_at": signed_at.isoformat() if signed_at is not None else None,
        "timestamped": bool(timestamped),
        "covers_whole_file": whole,
        "added_after": added,
        "coverage": coverage,
        "modification_level": level,
        "signed_end": byte_range[-2] + byte_range[-1] if len(byte_range) >= 2 else 0,
        "no_roots": not roots,
    }


def _issued_seal(
    reader: Any,
    data: bytes,
    issued_length: int,
    roots: list[Any],
    ts_roots: list[Any],
    now: datetime,
) -> dict[str, Any] | None:
    """The platform's seal as the issued revision lists it, validated over the whole upload
    — whatever later revisions say about form fields.

    The seal is the last signature (not a document timestamp) of the issued PDF: its
    /ByteRange ends at the issued length, or before it when the issue itself appended the
    validation data (PAdES B-LT puts the DSS in an update of its own after the seal)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

    prefix = PdfFileReader(io.BytesIO(data[:issued_length]), strict=False)
    issued = [
        sig
        for sig in prefix.embedded_signatures
        if str(sig.sig_object_type) != "/DocTimeStamp" and len(sig.byte_range) == 4
    ]
    if not issued:
        return None
    chosen = max(issued, key=lambda sig: int(sig.byte_range[2]) + int(sig.byte_range[3]))
    wanted = [int(x) for x in chosen.byte_range]
    if wanted[2] + wanted[3] > issued_length:
        return None
    last = int(prefix.total_revisions) - 1
    if last < 0 or last >= int(reader.total_revisions):
        return None
    historical = reader.get_historical_resolver(last)
    for name, _value, field_ref in enumerate_sig_fields(historical, filled_status=True):
        field = field_ref.get_object()
        try:
            embedded = EmbeddedPdfSignature(reader, field, name)
        except Exception:  # noqa: S112 - a broken field is not the seal; others may be
            continue
        if [int(x) for x in embedded.byte_range] != wanted:
            continue
        if embedded.signed_revision != chosen.signed_revision:
            return None  # the seal object was overridden later: not the issued seal
        report = signature_examine(embedded, roots, ts_roots, now)
        report["byte_range"] = wanted
        return report
    return None


def examine(
    data: bytes,
    *,
    roots: list[Any],
    ts_roots: list[Any],
    now: datetime,
    issued_length: int | None,
    max_revisions: int,
    max_signatures: int,
) -> dict[str, Any]:
    """Parse and validate ``data`` (see the module text); a JSON-able dict."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    if reader.encrypted:
        return {"refusal": "encrypted"}
    revisions = int(reader.total_revisions)
    if revisions > max_revisions:
        return {"refusal": "too_many_revisions"}
    embedded = list(reader.embedded_signatures)
    if len(embedded) > max_signatures:
        return {"refusal": "too_many_signatures", "revisions": revisions}
    signatures = [signature_examine(sig, roots, ts_roots, now) for sig in embedded]
    seal = None
    if issued_length is not None and len(data) > issued_length:
        seal = _issued_seal(reader, data, issued_length, roots, ts_roots, now)
    return {"revisions": revisions, "signatures": signatures, "seal": seal}


def _load_roots(items: list[str]) -> list[Any]:
    import base64

    from asn1crypto import x509 as asn1_x509

    return [asn1_x509.Certificate.load(base64.b64decode(item)) for item in items]


def _warm_up() -> None:
    """Import what a check needs before the job arrives: a worker started ahead of time
    (``--warm``) then answers in the time of the check alone, not of Python's imports."""
    import pyhanko_certvalidator  # noqa: F401


def main() -> int:
    if "--warm" in sys.argv[1:]:
        _warm_up()
    header = sys.stdin.buffer.readline()
    if not header.strip():  # the parent went away before giving a job
        return 0
    job = json.loads(header)
    _limit(int(job["memory_bytes"]), int(job["cpu_seconds"]))
    try:
        data = sys.stdin.buffer.read()
        result = examine(
            data,
            roots=_load_roots(job["roots"]),
            ts_roots=_load_roots(job["ts_roots"]),
            now=datetime.fromisoformat(job["now"]),
            issued_length=job["issued_length"],
            max_revisions=int(job["max_revisions"]),
            max_signatures=int(job["max_signatures"]),
        )
    except MemoryError:
        return EXIT_RESOURCES
    except RecursionError:
        result = {"refusal": "resources"}
    except Exception as error:  # hostile input: any parser failure is "unreadable"
        result = {"refusal": "unreadable", "error": type(error).__name__}
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a child process
    sys.exit(main())
