"""What an organisation tells residents about itself: its counter (窓口名, telephone, e-mail,
address, hours), its terms of use and its privacy policy.

One public service writes it (the console's admin page calls it; so would the API); the
portal reads it through :func:`organisation_contact_of` and shows only what was set: an
empty field is left out, never replaced with a made-up text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.core.text import strip_invisible
from madoguchi.identity.models import User
from madoguchi.tenants.models import Organisation, OrganisationContact

#: The fields, their labels and their longest length.
CONTACT_FIELDS: Final = {
    "desk_name": ("窓口名", 100),
    "phone": ("電話番号", 20),
    "email": ("メールアドレス", 254),
    "address": ("所在地", 200),
    "hours": ("受付時間", 200),
    "terms": ("利用規約", 20000),
    "privacy": ("個人情報の取扱い", 20000),
}
_MULTILINE: Final = frozenset({"terms", "privacy"})
_PHONE: Final = re.compile(r"^0[0-9]{1,4}-?[0-9]{1,4}-?[0-9]{3,4}$")


class ContactRefused(ValueError):
    """One or more fields cannot be stored; ``errors`` maps field → Japanese message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = dict(errors)


def _clean(data: Mapping[str, object]) -> dict[str, str]:
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, (label, limit) in CONTACT_FIELDS.items():
        raw = data.get(name, "")
        text = raw if isinstance(raw, str) else ""
        if "\x00" in text:
            errors[name] = f"{label}に使えない文字が含まれています。"
            continue
        if name in _MULTILINE:
            text = "\n".join(strip_invisible(line).rstrip() for line in text.splitlines()).strip()
        else:
            text = strip_invisible(text).strip()
        if len(text) > limit:
            errors[name] = f"{label}は{limit}文字以内で入力してください。"
            continue
        values[name] = text
    phone = unicodedata.normalize("NFKC", values.get("phone", "")).replace("ー", "-")
    phone = phone.replace("−", "-").replace("‐", "-").replace(" ", "")
    if phone and not _PHONE.match(phone):
        errors["phone"] = "電話番号は 0467-23-3000 のように、半角数字とハイフンで入力してください。"
    values["phone"] = phone
    if values.get("email"):
        try:
            validate_email(values["email"])
        except ValidationError:
            errors["email"] = (
                "メールアドレスの形式が正しくありません。例: madoguchi@city.example.lg.jp"
            )
    if errors:
        raise ContactRefused(errors)
    return values


def organisation_contact_save(
    *, organisation: Organisation, actor: User | None, data: Mapping[str, object], now: datetime
) -> OrganisationContact:
    """Store the organisation's contact details, terms and privacy policy as given (an empty
    field clears it); records the names of the fields that changed, never their text.

    Raises :class:`ContactRefused` (nothing stored) for an overlong text, a malformed
    telephone number or e-mail address, or a NUL character.
    """
    values = _clean(data)
    with transaction.atomic(durable=True):
        row = (
            OrganisationContact.objects.select_for_update()
            .filter(organisation=organisation)
            .first()
        )
        if row is None:
            row = OrganisationContact(organisation=organisation, updated_at=now)
        changed = sorted(name for name, value in values.items() if getattr(row, name) != value)
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = now
        row.save()
        if changed:
            audit_record(
                action=AuditAction.ORGANISATION_CONTACT_UPDATED,
                now=now,
                organisation=organisation,
                actor=actor,
                target_type="organisation_contact",
                target_id=row.pk,
                detail={"fields": changed},
            )
    return row


def organisation_contact_of(*, organisation: Organisation) -> OrganisationContact | None:
    """The organisation's contact row, or None when it has set nothing yet."""
    return OrganisationContact.objects.filter(organisation=organisation).first()
