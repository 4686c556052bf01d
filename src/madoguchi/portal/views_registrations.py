"""利用者登録 (user and group registration for facility bookings) and イベント・講座 (events and
courses) on the portal. Each POST makes one domain call; the rows of a group's members are
added and removed without JavaScript (a fixed number of rows, 「行を追加」 and a delete box)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.core.text import parse_int
from madoguchi.core.time import now
from madoguchi.identity.assurance import identity_current
from madoguchi.identity.models import ResidentProfile, User
from madoguchi.portal.access import resident_of, resident_required
from madoguchi.reservations.constants import RegistrationKind, RegistrationStatus, Residency
from madoguchi.reservations.events import event_cancel_signup, event_signup
from madoguchi.reservations.models import Event, EventSignup, Registration
from madoguchi.reservations.models.events import EventMode
from madoguchi.reservations.registrations import (
    MAX_MEMBERS,
    MIN_GROUP_MEMBERS,
    MemberInput,
    registration_apply,
    registration_close,
)
from madoguchi.reservations.selectors_members import (
    event_get,
    events_published,
    registrations_of_user,
    reservation_settings,
    signup_of_user,
    signups_of_user,
)
from madoguchi.reservations.services import ReservationError
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import organisation_get

#: Member rows shown at first, and added by one press of 「行を追加」.
ROWS_START: Final = 3
ROWS_STEP: Final = 5
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _organisation(code: str) -> Organisation:
    try:
        return organisation_get(code=code)
    except (InvalidLgCode, Organisation.DoesNotExist):
        raise Http404("その団体はありません。") from None


def _date(value: object) -> date | None:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


@dataclass
class Row:
    index: int
    name: str = ""
    kana: str = ""
    birth: str = ""
    residency: str = Residency.RESIDENT

    def blank(self) -> bool:
        return not (self.name.strip() or self.kana.strip() or self.birth.strip())

    def member(self) -> MemberInput:
        return MemberInput(
            name=self.name, kana=self.kana, birth_date=_date(self.birth), residency=self.residency
        )


def _applicant_from_profile(user: User) -> Row:
    """The applicant's row prefilled from the resident's 登録情報 (shown, editable, never
    stored until the resident applies)."""
    profile = ResidentProfile.objects.filter(user=user).first()
    if profile is None:
        return Row(index=-1)
    return Row(
        index=-1,
        name=f"{profile.family_name} {profile.given_name}".strip(),
        kana=f"{profile.family_name_kana} {profile.given_name_kana}".strip(),
        birth=profile.birth_date.isoformat() if profile.birth_date else "",
    )


def _text(request: HttpRequest, key: str, limit: int = 200) -> str:
    return str(request.POST.get(key, ""))[:limit]


def _posted_rows(request: HttpRequest) -> list[Row]:
    """The member rows of the POST (at most MAX_MEMBERS - 1), without those ticked for removal."""
    count = parse_int(request.POST.get("rows", ""), maximum=10_000) or ROWS_START
    rows: list[Row] = []
    for i in range(min(count, MAX_MEMBERS + ROWS_STEP)):
        if request.POST.get(f"m{i}_remove"):
            continue
        rows.append(
            Row(
                index=len(rows),
                name=_text(request, f"m{i}_name"),
                kana=_text(request, f"m{i}_kana"),
                birth=_text(request, f"m{i}_birth", 20),
                residency=_text(request, f"m{i}_residency", 20),
            )
        )
    return rows


def _rules(organisation: Organisation) -> dict[str, Any]:
    settings = reservation_settings(organisation)
    return {
        "settings": settings,
        "max_members": MAX_MEMBERS,
        "min_group": MIN_GROUP_MEMBERS,
    }


@require_http_methods(["GET", "POST"])
@resident_required
def registration(request: HttpRequest, code: str) -> HttpResponse:
    """The registration form (``?kind=group`` for a group)."""
    organisation = _organisation(code)
    user = resident_of(request)
    kind_raw = request.POST.get("kind") if request.method == "POST" else request.GET.get("kind")
    kind = (
        RegistrationKind.GROUP
        if kind_raw == RegistrationKind.GROUP
        else RegistrationKind.INDIVIDUAL
    )
    error = ""
    applicant = _applicant_from_profile(user)
    group_name = ""
    rows = [Row(index=i) for i in range(ROWS_START)]
    if request.method == "POST":
        applicant = Row(
            index=-1,
            name=_text(request, "name"),
            kana=_text(request, "kana"),
            birth=_text(request, "birth", 20),
            residency=_text(request, "residency", 20),
        )
        group_name = _text(request, "group_name")
        rows = _posted_rows(request) if kind == RegistrationKind.GROUP else []
        action = request.POST.get("action")
        if action == "add_row":
            rows += [Row(index=len(rows) + i) for i in range(ROWS_STEP)]
            rows = rows[: MAX_MEMBERS - 1] if len(rows) > MAX_MEMBERS - 1 else rows
        elif action == "remove_rows":
            pass  # ticked rows were dropped above
        else:
            filled = [row for row in rows if not row.blank()]
            try:
                done = registration_apply(
                    organisation=organisation,
                    user=user,
                    identity=identity_current(user=user, session=request.session),
                    kind=kind,
                    group_name=group_name,
                    applicant=applicant.member(),
                    members=[row.member() for row in filled],
                    now=now(),
                )
            except ReservationError as refused:
                error = str(refused)
            else:
                if done.status == RegistrationStatus.APPROVED:
                    messages.success(
                        request, f"利用者登録が済みました（利用者番号 {done.number}）。"
                    )
                else:
                    messages.success(
                        request,
                        f"利用者登録の申請を受け付けました（利用者番号 {done.number}）。"
                        "窓口での確認が済むと予約できます。",
                    )
                return redirect("portal:reservation_registration_status", code=organisation.lg_code)
        if not rows and kind == RegistrationKind.GROUP:
            rows = [Row(index=0)]
    return render(
        request,
        "portal/reservations/registration.html",
        {
            "org": organisation,
            "kind": kind,
            "applicant": applicant,
            "group_name": group_name,
            "rows": rows,
            "residencies": Residency.choices,
            "error": error,
            "can_add": len(rows) < MAX_MEMBERS - 1,
            "identity": identity_current(user=user, session=request.session),
            **_rules(organisation),
        },
        status=400 if error else 200,
    )


@require_GET
@resident_required
def registration_status(request: HttpRequest, code: str) -> HttpResponse:
    organisation = _organisation(code)
    return render(
        request,
        "portal/reservations/registration_status.html",
        {
            "org": organisation,
            "registrations": list(registrations_of_user(organisation, resident_of(request).pk)),
            **_rules(organisation),
        },
    )


@require_POST
@resident_required
def registration_close_view(request: HttpRequest, code: str, registration_id: int) -> HttpResponse:
    organisation = _organisation(code)
    try:
        registration_close(
            organisation=organisation,
            registration_id=registration_id,
            user=resident_of(request),
            now=now(),
        )
    except Registration.DoesNotExist:
        raise Http404("その利用者登録はありません。") from None
    except ReservationError as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, "利用者登録を廃止しました。")
    return redirect("portal:reservation_registration_status", code=organisation.lg_code)


# --- Events ------------------------------------------------------------------------------


@require_GET
def events(request: HttpRequest, code: str) -> HttpResponse:
    organisation = _organisation(code)
    found = list(events_published(organisation, now=now())[:200])
    for item in found:
        item.remaining = max(item.capacity - item.confirmed, 0)  # type: ignore[attr-defined]
    return render(
        request,
        "portal/reservations/events.html",
        {"org": organisation, "events": found, "now": now()},
    )


def _event(organisation: Organisation, event_id: int) -> Event:
    try:
        return event_get(organisation, event_id)
    except Event.DoesNotExist:
        raise Http404("そのイベント・講座はありません。") from None


@require_http_methods(["GET", "POST"])
def event(request: HttpRequest, code: str, event_id: int) -> HttpResponse:
    """An event with its rules and remaining seats; a resident signs up here (POST)."""
    organisation = _organisation(code)
    found = _event(organisation, event_id)
    at = now()
    error = ""
    user = request.user
    name = ""
    if request.method == "POST":
        return _event_signup(request, organisation, found)
    mine = signup_of_user(found, user.pk) if user.is_authenticated else None
    if user.is_authenticated:
        name = getattr(user, "display_name", "")
    return _event_page(request, organisation, found, mine=mine, error=error, name=name, at=at)


def _event_page(
    request: HttpRequest,
    organisation: Organisation,
    found: Event,
    *,
    mine: EventSignup | None,
    error: str,
    name: str,
    at: Any,
) -> HttpResponse:
    remaining = max(found.capacity - getattr(found, "confirmed", 0), 0)
    return render(
        request,
        "portal/reservations/event.html",
        {
            "org": organisation,
            "event": found,
            "mine": mine,
            "error": error,
            "name": name,
            "remaining": remaining,
            "lottery": found.mode == EventMode.LOTTERY,
            "open": found.signup_opens_at <= at < found.signup_closes_at and at < found.starts_at,
            "not_yet": at < found.signup_opens_at,
        },
        status=400 if error else 200,
    )


@resident_required
def _event_signup(request: HttpRequest, organisation: Organisation, found: Event) -> HttpResponse:
    user = resident_of(request)
    name = _text(request, "name", 100)
    try:
        signup = event_signup(
            organisation=organisation, event_id=found.pk, user=user, name=name, now=now()
        )
    except Event.DoesNotExist:
        raise Http404("そのイベント・講座はありません。") from None
    except ReservationError as refused:
        fresh = _event(organisation, found.pk)
        return _event_page(
            request,
            organisation,
            fresh,
            mine=signup_of_user(fresh, user.pk),
            error=str(refused),
            name=name,
            at=now(),
        )
    messages.success(
        request,
        f"「{found.title}」に申し込みました（{signup.get_status_display()}、受付番号 {signup.code}）。",
    )
    return redirect("portal:event", code=organisation.lg_code, event_id=found.pk)


@require_POST
@resident_required
def event_signup_cancel(request: HttpRequest, code: str, signup_id: int) -> HttpResponse:
    organisation = _organisation(code)
    try:
        signup = event_cancel_signup(
            organisation=organisation, signup_id=signup_id, user=resident_of(request), now=now()
        )
    except EventSignup.DoesNotExist:
        raise Http404("その申込みはありません。") from None
    except ReservationError as refused:
        messages.error(request, str(refused))
        return redirect("portal:my_event_signups")
    messages.success(request, f"「{signup.event.title}」の申込みを取り消しました。")
    return redirect("portal:my_event_signups")


@require_GET
@resident_required
def my_event_signups(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "portal/reservations/my_signups.html",
        {"signups": list(signups_of_user(resident_of(request).pk)[:200])},
    )
