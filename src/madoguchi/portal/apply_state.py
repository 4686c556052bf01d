"""Where the answers of an application in progress live between steps.

Residents with an account keep a :class:`Draft` (30 days, resumable from any device); guests
keep their answers in their session only. 特定個人情報 (My Number) never goes into a draft: it
is kept for the session only, encrypted with the application keys (a database dump of the
session table reveals nothing), and asked again when a draft is resumed in a new session.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from madoguchi.applications.selectors import draft_of_applicant
from madoguchi.applications.services import draft_save, specific_answers
from madoguchi.catalog.models import Procedure
from madoguchi.core.crypto import DecryptionFailed, decrypt, encrypt
from madoguchi.core.time import now
from madoguchi.forms.base import FormSpec
from madoguchi.identity.models import User


def _key(procedure: Procedure) -> str:
    return f"apply:{procedure.pk}"


@dataclass
class WorkingCopy:
    """The answers so far, where they came from, and the submission key for this attempt."""

    procedure: Procedure
    answers: dict[str, Any] = field(default_factory=dict)
    step: str = ""
    idempotency_key: str = ""
    form_version_id: int = 0
    guest_email: str = ""
    guest_key: str = ""
    resumed_draft: bool = False
    draft_expires_at: Any = None


def resident(request: HttpRequest) -> User | None:
    """The logged-in resident (not staff), or None."""
    user = request.user
    if not isinstance(user, User) or hasattr(user, "staff") or user.email_verified_at is None:
        return None
    return user


def guest_of(request: HttpRequest, procedure: Procedure) -> dict[str, str] | None:
    """The confirmed guest e-mail for this procedure, if the session has one."""
    guest = request.session.get(f"guest:{procedure.pk}")
    return guest if isinstance(guest, dict) and guest.get("email") else None


def guest_start(request: HttpRequest, procedure: Procedure, email: str) -> None:
    request.session[f"guest:{procedure.pk}"] = {
        "email": email,
        "key": secrets.token_urlsafe(24),
    }


def load(request: HttpRequest, procedure: Procedure) -> WorkingCopy:
    state = request.session.get(_key(procedure)) or {}
    copy = WorkingCopy(procedure=procedure)
    copy.idempotency_key = str(state.get("key", ""))
    copy.step = str(state.get("step", ""))
    copy.form_version_id = int(state.get("form_version") or procedure.form_version_id)
    user = resident(request)
    if user is not None:
        draft = draft_of_applicant(applicant=user, procedure=procedure)
        if draft is not None and draft.form_version_id == procedure.form_version_id:
            copy.answers = dict(draft.answers)
            copy.step = copy.step or draft.step
            copy.resumed_draft = True
            copy.draft_expires_at = draft.expires_at
    else:
        guest = guest_of(request, procedure)
        if guest is not None:
            copy.guest_email = guest["email"]
            copy.guest_key = guest["key"]
        plain = state.get("answers")
        copy.answers = dict(plain) if isinstance(plain, dict) else {}
    secret = state.get("secret")
    if secret and copy.form_version_id == procedure.form_version_id:
        with contextlib.suppress(DecryptionFailed, ValueError):
            copy.answers.update(json.loads(decrypt(str(secret))))
    return copy


def save(request: HttpRequest, copy: WorkingCopy, spec: FormSpec) -> None:
    """Keep the answers: non-specific ones in the draft (or guest session), the rest encrypted
    in the session."""
    specific = specific_answers(spec, copy.answers)
    state: dict[str, Any] = {
        "key": copy.idempotency_key,
        "step": copy.step,
        "form_version": copy.procedure.form_version_id,
    }
    if specific:
        state["secret"] = encrypt(json.dumps(specific, ensure_ascii=False))
    user = resident(request)
    if user is not None:
        draft_save(
            organisation=copy.procedure.organisation,
            procedure=copy.procedure,
            applicant=user,
            answers=copy.answers,
            step=copy.step,
            now=now(),
        )
    else:
        state["answers"] = {k: v for k, v in copy.answers.items() if k not in specific}
    request.session[_key(copy.procedure)] = state


def clear(request: HttpRequest, procedure: Procedure) -> None:
    request.session.pop(_key(procedure), None)


def remember_receipt(request: HttpRequest, receipt_number: str) -> None:
    """A guest may open the completion page and PDF of what this session sent."""
    receipts = [r for r in request.session.get("receipts", []) if isinstance(r, str)]
    if receipt_number not in receipts:
        receipts = [*receipts[-19:], receipt_number]
    request.session["receipts"] = receipts


def session_owns(request: HttpRequest, receipt_number: str) -> bool:
    return receipt_number in request.session.get("receipts", [])


def remember_sent(request: HttpRequest, procedure: Procedure, receipt_number: str) -> None:
    """Note which receipt this session's last sending of ``procedure`` got, so that the
    confirmation page reached again with the back button says it was sent."""
    request.session[f"sent:{procedure.pk}"] = receipt_number


def sent_receipt(request: HttpRequest, procedure: Procedure) -> str:
    """The receipt number of this session's last sending of ``procedure``, or ""."""
    value = request.session.get(f"sent:{procedure.pk}")
    return value if isinstance(value, str) and session_owns(request, value) else ""


# --- A signature made for the answers on the confirmation page ---------------------------------


def _signature_key(procedure: Procedure) -> str:
    return f"signature:{procedure.pk}"


def signature_store(
    request: HttpRequest,
    procedure: Procedure,
    *,
    content_sha256: str,
    cms: bytes,
    via: str,
    signer: str,
    mismatches: list[dict[str, str]],
) -> None:
    """Keep a verified signature for the answers whose canonical bytes hash to
    ``content_sha256`` until it is sent (or the answers change: then it no longer applies).
    ``via`` is ``upload`` (a file) or ``national_app`` (signed through the national app)."""
    request.session[_signature_key(procedure)] = {
        "digest": content_sha256,
        "cms": base64.b64encode(cms).decode("ascii"),
        "via": via,
        "signer": signer,
        "mismatches": mismatches,
    }


@dataclass(frozen=True)
class HeldSignature:
    cms: bytes
    via: str
    signer: str
    mismatches: list[dict[str, str]]


def signature_held(
    request: HttpRequest, procedure: Procedure, *, content_sha256: str
) -> HeldSignature | None:
    """The signature kept for exactly these answers, or None."""
    held = request.session.get(_signature_key(procedure))
    if not isinstance(held, dict) or held.get("digest") != content_sha256:
        return None
    try:
        cms = base64.b64decode(str(held.get("cms", "")), validate=True)
    except ValueError:
        return None
    mismatches = held.get("mismatches")
    return HeldSignature(
        cms=cms,
        via=str(held.get("via", "upload")),
        signer=str(held.get("signer", "")),
        mismatches=mismatches if isinstance(mismatches, list) else [],
    )


def signature_clear(request: HttpRequest, procedure: Procedure) -> None:
    request.session.pop(_signature_key(procedure), None)
