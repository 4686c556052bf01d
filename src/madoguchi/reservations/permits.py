"""使用許可書 (the permit) of a confirmed booking as an issued document, and the words that
describe a booking in mails and on pages. The PDF is drawn by :mod:`madoguchi.documents.permit`.

A permit is a document the organisation issues in its name (施設使用許可書): the first time
the resident asks for it, :func:`booking_permit_issue` issues it through the one issuing step
(:func:`madoguchi.documents.issuance.document_issue`): registered, sealed, with its
verification code and ``/verify/`` address printed on it, its number the booking number (許可
番号 = 予約番号; it takes no number of the organisation's series). Afterwards the same stored
document, byte for byte, is returned for as long as what it says is unchanged.

**Versions.** What a permit says can change after it was issued: staff record the payment
(未納 → 納付済み), the facility's name, address or rules are edited, a registration is
renamed. Each issued permit's ``source_key`` is ``booking:<id>:permit:<n>-<digest>``: ``n``
counts the booking's permits (1, 2, …) and ``digest`` is the first 16 hex digits of the
SHA-256 of what the permit says (:func:`permit_digest`: every field of :class:`PermitData`
except those the issuing stamps on it — issuer, code, address). A download computes the
digest of the booking as it is now; when it equals the current (valid) permit's, that permit
is what the resident gets; when it differs, a permit ``n+1`` is issued and the previous one
marked superseded by it (差替え, audited), in one transaction under the booking's row lock,
so two downloads at once never issue two. No hook on each write that may change a permit is
needed (payments, reductions, facility edits, a staff correction): the permit follows what
it says, whoever changed it. The counter ``n`` keeps a permit that changes back (A → B → A)
from colliding with its own old, superseded key.

**Withdrawal.** A permit stands only while its booking is confirmed: every path that ends a
booking — the resident's cancellation, a staff override, a no-show, an expiry (also the one
of a lottery's release; an unconfirmed booking has no permit, but the step is cheap and keeps
the rule in one place) — calls :func:`booking_permit_withdraw` in its own transaction, which
marks the current permit withdrawn (取消し) with the reason shown on ``/verify/``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Final

from django.db import transaction

from madoguchi.core.time import to_tokyo
from madoguchi.documents.constants import DocumentKind, DocumentStatus
from madoguchi.documents.issuance import Stamp, document_issue
from madoguchi.documents.models import Document
from madoguchi.documents.permit import PermitData, permit_pdf
from madoguchi.documents.seal import SealError
from madoguchi.documents.status import document_status_set
from madoguchi.forms.japanese import wareki
from madoguchi.identity.models import User
from madoguchi.reservations.constants import BookingStatus, PaymentStatus
from madoguchi.reservations.models import Booking, Slot

_WEEKDAYS = "月火水木金土日"


def slot_when_text(slot: Slot) -> str:
    """「令和8年12月18日（金） 9:00〜12:00」: the day in 和暦 with its weekday, and the times."""
    start, end = to_tokyo(slot.starts_at), to_tokyo(slot.ends_at)
    day = start.date()
    return (
        f"{wareki(day)}（{_WEEKDAYS[day.weekday()]}） "
        f"{start.hour}:{start.minute:02d}〜{end.hour}:{end.minute:02d}"
    )


def reduction_name_of(booking: Booking) -> str:
    """The name of the booking's reduction (減免), or "" for none. Reads the facility's
    reductions where the facility has them (the console manages them)."""
    if not booking.reduction:
        return ""
    facility = booking.facility
    reductions = getattr(facility, "reductions", None)
    if reductions is None:
        return booking.reduction
    found = reductions.filter(code=booking.reduction).first()
    return str(getattr(found, "name", "")) or booking.reduction


def payment_text(booking: Booking) -> str:
    if booking.fee_due == 0:
        return "納付は不要です"
    return PaymentStatus(booking.payment).label


def booking_mail_lines(booking: Booking) -> list[str]:
    """The lines of a mail that say which booking it is (no personal data beyond the slot)."""
    slot = booking.slot
    return [
        f"予約番号: {booking.number}",
        f"施設: {booking.facility.name}",
        f"部屋・コート: {slot.resource.name}",
        f"日時: {slot_when_text(slot)}",
        f"納付額: {booking.fee_due:,}円",
    ]


def permit_data(booking: Booking) -> PermitData:
    """What the booking's 使用許可書 says (by the organisation, dated the day the booking was
    confirmed: the day of the 許可). The issuer, code and address are the issuing stamp's."""
    slot = booking.slot
    facility = booking.facility
    registration = booking.registration
    issued = to_tokyo(booking.confirmed_at or booking.created_at).date()
    return PermitData(
        organisation_name=booking.organisation.name,
        number=booking.number,
        issued_on_text=f"{wareki(issued)}（{issued.year}年{issued.month}月{issued.day}日）",
        facility_name=facility.name,
        resource_name=slot.resource.name,
        when_text=slot_when_text(slot),
        registration_number=registration.number if registration is not None else "",
        registration_name=registration.name if registration is not None else booking.contact,
        purpose=booking.purpose,
        fee=booking.fee,
        reduction_name=reduction_name_of(booking),
        fee_due=booking.fee_due,
        payment_text=payment_text(booking),
        conditions=tuple(line for line in facility.rules.splitlines() if line.strip()),
        facility_address=facility.address,
    )


#: The fields of :class:`PermitData` that the issuing stamps (not what the permit says).
_STAMPED: Final = frozenset({"issuer", "code", "verify_url"})
#: How long the digest in a permit's source key is (64 bits: a change is never missed).
_DIGEST_LENGTH: Final = 16
_VERSION = re.compile(r"^booking:\d+:permit:(\d+)-([0-9a-f]+)$")


def permit_digest(data: PermitData) -> str:
    """The digest of what a permit says: SHA-256 over its fields (all but the stamped ones)
    as canonical JSON, first :data:`_DIGEST_LENGTH` hex digits."""
    said = {name: value for name, value in dataclasses.asdict(data).items() if name not in _STAMPED}
    text = json.dumps(said, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_DIGEST_LENGTH]


def _key_prefix(booking_id: int) -> str:
    return f"booking:{booking_id}:permit:"


def _permits_of(booking: Booking) -> list[Document]:
    """Every permit issued for ``booking`` (the current one and those it replaced)."""
    return list(
        Document.objects.filter(
            organisation_id=booking.organisation_id,
            kind=DocumentKind.PERMIT,
            source_key__startswith=_key_prefix(booking.pk),
        ).defer("pdf")
    )


def _current(permits: list[Document]) -> Document | None:
    return next((d for d in permits if d.status == DocumentStatus.VALID), None)


def _version(document: Document) -> tuple[int, str]:
    """``(n, digest)`` of a permit's source key (``(0, "")`` for a key not of this form)."""
    match = _VERSION.match(document.source_key)
    return (int(match.group(1)), match.group(2)) if match else (0, "")


def _own_confirmed(booking_id: int, user_id: int, *, lock: bool) -> Booking:
    rows = Booking.objects.select_related(
        "organisation", "facility", "slot", "slot__resource", "registration", "user"
    ).filter(status=BookingStatus.CONFIRMED)
    if lock:
        rows = rows.select_for_update(of=("self",))
    return rows.get(pk=booking_id, user_id=user_id)


def _builder(data: PermitData, now: datetime) -> Callable[[Stamp], bytes]:
    def build(stamp: Stamp) -> bytes:
        return permit_pdf(
            dataclasses.replace(
                data, issuer=stamp.issuer, code=stamp.code, verify_url=stamp.verify_url
            ),
            generated_at=to_tokyo(now),
        )

    return build


#: What /verify/ says of a permit replaced by a newer one.
SUPERSEDED_REASON: Final = (
    "予約の内容（納付の状況、減免、施設の名称・使用の条件など）が変わったため、"
    "新しい使用許可書に差し替えられました。"
)


class PermitUnavailable(Exception):
    """The permit could not be issued now (the organisation's seal could not be applied);
    ``str()`` says so in Japanese and what to do. Nothing was issued."""


def booking_permit_issue(
    *, booking_id: int, user_id: int, now: datetime
) -> tuple[Booking, Document]:
    """The 使用許可書 of the user's own confirmed booking, as an issued document.

    Guarantees: the first call issues the permit (:func:`madoguchi.documents.issuance.
    document_issue`: sealed, in the organisation's register, with its verification code and
    issuer printed), every later call returns that same document (the same bytes) while what
    the permit says is unchanged (:func:`permit_digest`); once it has changed (a payment
    recorded, a reduction, an edited facility …) the next call issues a new permit and marks
    the previous one superseded by it (audited as ``document.superseded``), both in one
    durable transaction under the booking's row lock. A call that finds the current permit
    up to date writes nothing and takes no write lock. The organisation is the booking's
    (a resident's account is national; the booking is found by its own user).

    Raises ``Booking.DoesNotExist`` for someone else's booking and for one that is not
    confirmed (there is no permit yet, or any more: the portal answers 404 either way);
    :class:`PermitUnavailable` when the seal could not be applied (nothing stored).
    """
    booking = _own_confirmed(booking_id, user_id, lock=False)
    current = _current(_permits_of(booking))
    if current is not None and _version(current)[1] == permit_digest(permit_data(booking)):
        return booking, Document.objects.get(pk=current.pk)
    try:
        with transaction.atomic(durable=True):
            booking = _own_confirmed(booking_id, user_id, lock=True)
            data = permit_data(booking)
            digest = permit_digest(data)
            permits = _permits_of(booking)
            current = _current(permits)
            if current is not None and _version(current)[1] == digest:
                return booking, Document.objects.get(pk=current.pk)
            serial = max((_version(d)[0] for d in permits), default=0) + 1
            document = document_issue(
                organisation=booking.organisation,
                kind=DocumentKind.PERMIT,
                title=f"{DocumentKind.PERMIT.label}（{booking.number}）",
                name="使用許可書",  # as printed on the permit
                source_key=f"{_key_prefix(booking.pk)}{serial}-{digest}",
                build=_builder(data, now),
                now=now,
                numbered=False,
                number=booking.number,
            )
            if current is not None:
                document_status_set(
                    organisation=booking.organisation,
                    document=current,
                    status=DocumentStatus.SUPERSEDED,
                    reason=SUPERSEDED_REASON,
                    now=now,
                    superseded_by=document,
                    actor=booking.user,
                    detail={"booking": booking.pk},
                )
            return booking, document
    except SealError as failed:
        raise PermitUnavailable(
            "使用許可書を発行できませんでした（電子公印を付けられませんでした）。"
            "しばらくしてからもう一度お試しください。"
        ) from failed


def booking_permit_withdraw(
    *,
    booking: Booking,
    reason: str,
    now: datetime,
    actor: User | None = None,
    actor_label: str = "",
) -> Document | None:
    """The booking's current permit, if it has one, becomes withdrawn (取消し) with
    ``reason`` (shown on ``/verify/``), audited as ``document.withdrawn`` (a step: joins the
    transaction of the service that ends the booking, which holds the booking's row lock, as
    :func:`booking_permit_issue` does: a permit is never issued and withdrawn at once).
    Returns the withdrawn permit, or None when the booking has none (never confirmed, or its
    permit never asked for)."""
    current = (
        Document.objects.filter(
            organisation_id=booking.organisation_id,
            kind=DocumentKind.PERMIT,
            source_key__startswith=_key_prefix(booking.pk),
            status=DocumentStatus.VALID,
        )
        .defer("pdf")
        .first()
    )
    if current is None:
        return None
    return document_status_set(
        organisation=booking.organisation,
        document=current,
        status=DocumentStatus.WITHDRAWN,
        reason=reason,
        now=now,
        actor=actor,
        actor_label=actor_label,
        detail={"booking": booking.pk},
    )
