"""Building and sealing one decision notice (決定通知書), against building it unsigned.

Baseline: :func:`madoguchi.documents.decision.decision_pdf` — the notice as reportlab builds it
(fonts embedded, 教示, QR code), unsigned.

Figures, each timed in the same rounds as the baseline:

1. build + :func:`madoguchi.documents.seal.seal_pdf` without a timestamp: the PAdES signature
   (RSA-2048, SHA-256) as an incremental update, with the validation of the seal's chain
   against the CRL and the DSS (B-LT's validation data);
2. build + seal with an RFC 3161 timestamp from a real TSA over HTTP on loopback (a threaded
   server answering with pyHanko's timestamper): what a deployment with a TSA on its network
   pays, less the network's latency.

The seal is the installation's test seal CA (``var/bench/seal-test``), built once per process
as in a running server; the organisation is not saved (sealing reads its code and name only).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings as django_settings

from _harness import Result, Settings, compare
from madoguchi.documents.decision import DecisionData, decision_pdf
from madoguchi.documents.seal import seal_pdf
from madoguchi.documents.testing import LoopbackTsa
from madoguchi.tenants.models import Organisation

TITLE = "build one decision notice and seal it (PAdES B-LT), with and without a timestamp"
NOTES: list[str] = [
    "baseline: the same notice built unsigned (reportlab, fonts embedded);",
    "timestamp: RFC 3161 over HTTP from a TSA on 127.0.0.1 (pyHanko's timestamper in a thread)",
]

DATA = DecisionData(
    organisation_name="横浜市",
    procedure_name="児童手当の認定請求",
    receipt_number="141003-261204-00012345",
    outcome="reject",
    reason="所得が所得上限限度額を超えているため（児童手当法第5条第1項）。",
    decided_on_text="令和8年12月4日（2026年12月4日）",
    arrived_at_text="令和8年11月20日 10時05分（2026-11-20 10:05）",
    applicant_name="鎌倉　花子",
    number="横こ第123号",
    issuer="横浜市長　山中　竹春",
    code="ABCD-EFGH-JKMN-PQRS",
    verify_url="https://madoguchi.example.jp/verify/ABCDEFGHJKMNPQRS",
    appeal="この決定に不服があるときは、この決定があったことを知った日の翌日から起算して3か月以内に、"
    "横浜市長に対して審査請求をすることができます。",
)


def run(settings: Settings) -> list[Result]:
    now = datetime.now(UTC)
    organisation = Organisation(lg_code="141003", name="横浜市")
    generated = datetime(2026, 12, 4, tzinfo=UTC)

    def build() -> bytes:
        return decision_pdf(DATA, generated_at=generated)

    def sealed_without_timestamp() -> object:
        return seal_pdf(build(), organisation=organisation, now=now, timestamp=False)

    def sealed_with_timestamp() -> object:
        return seal_pdf(build(), organisation=organisation, now=now)

    # What is timed must have worked.
    unsigned = build()
    plain = seal_pdf(unsigned, organisation=organisation, now=now, timestamp=False)
    assert plain.sealed_by
    assert not plain.timestamped
    assert plain.pdf.startswith(unsigned)

    tsa = LoopbackTsa(now=now)
    saved = django_settings.TSA_URL
    django_settings.TSA_URL = tsa.url
    try:
        stamped = seal_pdf(unsigned, organisation=organisation, now=now)
        assert stamped.timestamped
        assert tsa.requests > 0
        results = [
            compare(
                "build + seal, no timestamp",
                sealed_without_timestamp,
                build,
                "build unsigned",
                settings,
            ),
            compare(
                "build + seal + timestamp (loopback TSA)",
                sealed_with_timestamp,
                build,
                "build unsigned",
                settings,
            ),
        ]
    finally:
        django_settings.TSA_URL = saved
        tsa.stop()
    NOTES.append(
        f"sizes: unsigned {len(unsigned):,} B, sealed {len(plain.pdf):,} B, "
        f"sealed + timestamp {len(stamped.pdf):,} B"
    )
    return results
