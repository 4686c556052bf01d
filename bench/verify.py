"""Checking an uploaded PDF at /verify/ (documents.verify.pdf_verify), everything included.

Figure: ``pdf_verify`` on a signed 決定通知書 (built by ``documents.decision.decision_pdf``
with the embedded Japanese font, sealed with pyHanko by a test CA made in this run, the CA
given as the trust root): the size and revision checks, parsing, the signature's digest and
ECDSA verify, the certificate path, the coverage and the difference analysis of the
revisions, and the register look-up of every revision's SHA-256 (one query). A second row
checks the same notice with new content appended after the seal (the incremental-update
attack), which adds the difference analysis of a real change.

Baseline: parsing the same PDF with pyHanko's ``PdfFileReader`` and listing its embedded
signatures — what any check must do before it validates anything.
"""

from __future__ import annotations

import io
import logging
import os
from datetime import UTC, datetime

from _harness import Result, Settings, compare

TITLE = "verify an uploaded PDF: parse, signature, path, coverage/diff, register look-up"
NOTES: list[str] = [
    "baseline: PdfFileReader(...) and its embedded_signatures on the same bytes;",
]


def _notice() -> bytes:
    from madoguchi.documents.decision import DecisionData, decision_pdf

    data = DecisionData(
        organisation_name="横浜市",
        procedure_name="児童手当 認定請求",
        receipt_number="141003-261204-00000001",
        outcome="approve",
        reason="要件を満たしています。",
        decided_on_text="令和8年12月4日（2026年12月4日）",
        arrived_at_text="令和8年11月26日 10時00分",
        applicant_name="",
        number="横こ第1号",
        issuer="横浜市長　山中 竹春",
        code="7K3Q-M2XD-90PA-RT4N",
        verify_url="http://127.0.0.1:8000/verify/7K3Q-M2XD-90PA-RT4N",
    )
    return decision_pdf(data, generated_at=datetime.now(UTC))


def run(settings: Settings) -> list[Result]:
    from django.core.management import call_command
    from pyhanko.pdf_utils.reader import PdfFileReader

    from madoguchi.documents.testsigning import TestCA, pdf_append_page_text, pdf_sign
    from madoguchi.documents.verify import Verdict, pdf_verify

    # pyHanko logs each refused difference with a traceback: the attack row would flood the table.
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    os.makedirs(os.environ.get("MADOGUCHI_DATA_DIR", "var/bench"), exist_ok=True)
    call_command("migrate", interactive=False, verbosity=0, stdout=io.StringIO())
    ca = TestCA.make("Bench Seal Root")
    roots = [ca.root_asn1]
    sealed = pdf_sign(_notice(), ca.signer())
    attacked = pdf_append_page_text(sealed, "PAID")
    now = datetime.now(UTC)

    results = []
    for label, pdf in (("sealed notice", sealed), ("sealed notice + appended content", attacked)):
        report = pdf_verify(pdf, now=now, roots=roots)
        assert report.verdict == Verdict.UNKNOWN, report  # not in this run's register
        [signature] = report.signatures
        assert signature.trusted, signature  # (so intact and valid too)
        assert signature.added_after == ("" if pdf is sealed else "content"), signature

        def figure(pdf: bytes = pdf) -> object:
            return pdf_verify(pdf, now=now, roots=roots)

        def baseline(pdf: bytes = pdf) -> object:
            return list(PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures)

        results.append(
            compare(
                f"pdf_verify, {label} ({len(pdf) // 1024} KiB)",
                figure,
                baseline,
                "parse + list signatures",
                settings,
            )
        )
    for result in results:
        NOTES.append(
            f"{result.name}: {1 / result.figure.median:,.1f} verifications/s; "
            f"parsing alone {1 / result.baseline.median:,.0f}/s"  # type: ignore[union-attr]
        )
    return results
