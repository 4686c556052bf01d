"""The receipt (到達通知) of an application as a PDF."""

from __future__ import annotations

from datetime import datetime

from madoguchi.applications.models import Application
from madoguchi.applications.selectors import application_identity, application_rows
from madoguchi.core.time import to_tokyo
from madoguchi.documents.receipt import ReceiptData, receipt_pdf
from madoguchi.forms.japanese import wareki


def application_receipt_pdf(application: Application, *, now: datetime) -> bytes:
    """The 到達通知 of ``application``: receipt number, arrival time, organisation, procedure,
    the levels of identity met and how, who signed and that the signature was verified, the
    answers with My Number masked, and the SHA-256 of the submitted data."""
    arrived = to_tokyo(application.arrived_at)
    identity = application_identity(application)
    methods = "、".join(identity.methods)
    return receipt_pdf(
        ReceiptData(
            organisation_name=application.organisation.name,
            procedure_name=application.procedure.name,
            receipt_number=application.receipt_number,
            arrived_at_text=f"{wareki(arrived.date())} {arrived:%H時%M分%S秒}（{arrived:%Y-%m-%d %H:%M:%S} 日本時間）",
            rows=application_rows(application),
            digest=application.answers_digest,
            revision=application.revision,
            identity_text=f"{identity.level_text}" + (f"（{methods}）" if methods else ""),
            signature_lines=[
                f"{sig.signer} の署名（マイナンバーカードの署名用電子証明書）を"
                f"{to_tokyo(sig.verified_at):%Y-%m-%d %H:%M} に検証しました"
                f"（署名・有効期間・失効を確認、第{sig.revision}版）。"
                for sig in identity.signatures
            ],
            is_test=application.is_test,
        ),
        generated_at=to_tokyo(now),
    )
