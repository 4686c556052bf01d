"""What a resident needs to know before applying, derived from a procedure and its form."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.catalog.constants import AssuranceLevel
from madoguchi.catalog.models import Procedure
from madoguchi.forms.base import field_types
from madoguchi.forms.field_types import ATTACHMENT_KINDS
from madoguchi.forms.selectors import form_spec

# Lazy: these are read per request, in the language of that request (Japanese by default).
IDENTITY_TEXT = {
    1: gettext_lazy("メールアドレスの確認だけで申請できます。"),
    2: gettext_lazy(
        "窓口などで本人確認書類を確認したアカウントで、パスキーでログインして申請します。"
    ),
    3: gettext_lazy(
        "マイナンバーカードで本人確認をします。カードと、電子署名に使う署名用パスワード"
        "（英数字6〜16桁）をご用意ください。"
    ),
}
# The same words as AssuranceLevel's labels (a test keeps them equal), translatable here
# because the model choices stay plain Japanese (they are part of migrations and the API).
LEVEL_TEXT = {
    AssuranceLevel.LOW: gettext_lazy("レベル1（メールアドレス等）"),
    AssuranceLevel.SUBSTANTIAL: gettext_lazy("レベル2（本人確認書類の画像等）"),
    AssuranceLevel.HIGH: gettext_lazy("レベル3（マイナンバーカード）"),
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
    """The 'before you apply' facts: steps, documents, identity, fee, time, contact.

    The fixed sentences are in the active language (Japanese unless the resident chose
    English); labels and notes that come from the template or the organisation stay as written.
    """
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
    fee = _("かかりません。")
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
        fee = "、".join(parts) or _("かかります。")
        if meta["fee"].get("note"):
            fee += f"（{meta['fee']['note']}）"
    processing = (
        _("標準処理期間は%(days)s日です。") % {"days": procedure.processing_days}
        if procedure.processing_days
        else _("手続によって異なります。")
    )
    return ProcedureGuide(
        steps=steps,
        attachments=attachments,
        # Translators: the assurance level, then how identity is checked at that level.
        identity=_("%(level)s。%(how)s")
        % {"level": LEVEL_TEXT[AssuranceLevel(procedure.ial)], "how": IDENTITY_TEXT[procedure.ial]},
        signature=_("マイナンバーカードによる電子署名が必要です。")
        if procedure.signature_required
        else _("電子署名は不要です。"),
        fee=fee,
        processing=processing,
        contact=str(settings.get("contact", "")),
        counter=str(settings.get("counter", "")),
        department=str(settings.get("department", "")),
    )
