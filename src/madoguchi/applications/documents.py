"""The receipt (到達通知) of an application as a PDF."""

from __future__ import annotations

from datetime import datetime

from madoguchi.applications.models import Application
from madoguchi.applications.selectors import application_rows
from madoguchi.core.time import to_tokyo
from madoguchi.documents.receipt import ReceiptData, receipt_pdf
from madoguchi.forms.japanese import wareki


def application_receipt_pdf(application: Application, *, now: datetime) -> bytes:
    """The 到達通知 of ``application``: receipt number, arrival time, organisation, procedure,
    the answers with My Number masked, and the SHA-256 of the submitted data."""
    arrived = to_tokyo(application.arrived_at)
    return receipt_pdf(
        ReceiptData(
            organisation_name=application.organisation.name,
            procedure_name=application.procedure.name,
            receipt_number=application.receipt_number,
            arrived_at_text=f"{wareki(arrived.date())} {arrived:%H時%M分%S秒}（{arrived:%Y-%m-%d %H:%M:%S} 日本時間）",
            rows=application_rows(application),
            digest=application.answers_digest,
            revision=application.revision,
        ),
        generated_at=to_tokyo(now),
    )
