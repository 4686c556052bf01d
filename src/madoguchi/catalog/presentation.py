"""What a resident needs to know before applying, derived from a procedure and its form."""

from __future__ import annotations

from dataclasses import dataclass

from madoguchi.catalog.constants import AssuranceLevel
from madoguchi.catalog.models import Procedure
from madoguchi.forms.base import field_types
from madoguchi.forms.field_types import ATTACHMENT_KINDS
from madoguchi.forms.selectors import form_spec

IDENTITY_TEXT = {
    1: "メールアドレスの確認だけで申請できます。",
    2: "本人確認書類の画像などで本人確認をします。",
    3: "マイナンバーカードで本人確認をします（カードと暗証番号が必要です）。",
}


@dataclass(frozen=True)
class Requirement:
    label: str
    detail: str
    required: bool


@dataclass(frozen=True)
class ProcedureGuide:
    steps: list[tuple[str, list[str]]]
    attachments: list[Requirement]
    identity: str
    signature: str
    fee: str
    processing: str
    contact: str
    counter: str
    department: str


def procedure_guide(procedure: Procedure) -> ProcedureGuide:
    """The 'before you apply' facts: steps, documents, identity, fee, time, contact."""
    spec = form_spec(procedure.form_version)
    steps = []
    attachments = []
    for step in spec.steps:
        labels = []
        for f in step.fields:
            ftype = field_types[f.type]
            if f.type == "attachment":
                kinds = "・".join(
                    ATTACHMENT_KINDS[k] for k in f.option("accept", ["pdf", "jpeg", "png"])
                )
                detail = f"{f.help} （{kinds}）".strip() if f.help else f"（{kinds}）"
                attachments.append(Requirement(f.label, detail, f.required))
            elif ftype.has_value and f.type != "computed":
                labels.append(f.label)
        steps.append((step.title, labels))
    settings = procedure.settings
    fee = "かかりません。"
    meta = procedure.template_version.metadata if procedure.template_version else {}
    if meta.get("fee"):
        params = {
            **{k: v["default"] for k, v in (meta.get("parameters") or {}).items()},
            **(settings.get("parameters") or {}),
        }
        parts = [
            f"{meta['parameters'][k]['label']} {v}{meta['parameters'][k].get('unit', '')}"
            for k, v in params.items()
        ]
        fee = "、".join(parts) or "かかります。"
        if meta["fee"].get("note"):
            fee += f"（{meta['fee']['note']}）"
    processing = (
        f"標準処理期間は{procedure.processing_days}日です。"
        if procedure.processing_days
        else "手続によって異なります。"
    )
    return ProcedureGuide(
        steps=steps,
        attachments=attachments,
        identity=f"{AssuranceLevel(procedure.ial).label}。{IDENTITY_TEXT[procedure.ial]}",
        signature="マイナンバーカードによる電子署名が必要です。"
        if procedure.signature_required
        else "電子署名は不要です。",
        fee=fee,
        processing=processing,
        contact=str(settings.get("contact", "")),
        counter=str(settings.get("counter", "")),
        department=str(settings.get("department", "")),
    )
