"""The staff inbox (受付一覧) and the other reads of the review console, scoped by organisation.

:func:`inbox_page` is the one list of an organisation's applications: the console's inbox and
the staff API (``GET /api/v1/staff/applications/``) both read it, with one cursor format
(signed, so a forged or edited cursor is refused rather than turned into a query) and one
:class:`InvalidCursor`.

The inbox must stay fast with a million applications: keyset pagination on the order the
indexes of :class:`Application` hold ((arrived_at, id) or (due_at, id)), never OFFSET, and no
COUNT(*) per page — one extra row tells whether there is a next page.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from django.core import signing
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from madoguchi.applications.constants import ApplicationStatus, Channel
from madoguchi.applications.models import (
    Application,
    ApplicationNote,
    DecisionProposal,
    DecisionTemplate,
    IssuedDocument,
)
from madoguchi.core.text import parse_int, search_key
from madoguchi.core.time import TOKYO
from madoguchi.forms.answers import walk
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.tenants.models import Organisation

S = ApplicationStatus

#: Decided or withdrawn: nothing is left to do, so such applications are never overdue.
FINAL: Final = frozenset({S.APPROVED, S.REJECTED, S.WITHDRAWN})
SORTS: Final = {"newest": "新しい順", "oldest": "古い順", "due": "処理期限の近い順"}
SIGNOFF_FILTERS: Final = {"": "", "waiting": "決裁待ち", "mine": "自分の決裁待ち"}
MAX_QUERY = 100
_CURSOR_SALT = "madoguchi.inbox.cursor"
#: Hyphens as typed (ASCII, full-width after NFKC, ‐ − ー) and spaces between digit groups.
_RECEIPT_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\uff70]+")
#: 団体コード 6 + 年月日 6 + 8桁.
MAX_RECEIPT_DIGITS: Final = 20


@dataclass(frozen=True)
class InboxFilters:
    """What the staff member asked for. ``viewer_id`` resolves ``assignee="me"``."""

    procedure_id: int | None = None
    statuses: tuple[str, ...] = ()
    arrived_from: date | None = None
    arrived_to: date | None = None
    #: "" (anyone), "me", "none" (unassigned) or a user id as text.
    assignee: str = ""
    overdue: bool = False
    #: Only applications with a possible duplicate not yet decided on (重複の可能性あり).
    duplicates: bool = False
    q: str = ""
    sort: str = "newest"
    viewer_id: int | None = None
    #: Instants (the API's ``arrived_after`` inclusive, ``arrived_before`` exclusive).
    arrived_after: datetime | None = None
    arrived_before: datetime | None = None
    #: "" (every channel) or a :class:`Channel` value (窓口・郵送・オンライン).
    channel: str = ""
    #: Only applications still being handled (not decided or withdrawn).
    open: bool = False
    #: "" (all), "waiting" (a proposed decision waits for sign-off, 決裁待ち) or "mine"
    #: (waiting for the viewer's sign-off: not proposed nor signed by them, and they hold
    #: the sign-off role).
    signoff: str = ""
    #: Leave out operational-test applications (運用テスト): the staff API, which core systems
    #: read, never lists them; the console shows them, marked.
    live_only: bool = False


@dataclass(frozen=True)
class InboxRow:
    application: Application
    name: str
    overdue: bool


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    next_cursor: str | None
    #: A cursor was given but could not be trusted: the first page is shown instead.
    cursor_rejected: bool = False
    errors: dict[str, str] = field(default_factory=dict)


class InvalidCursor(ValueError):
    """A cursor that this list did not hand out, or handed out for another order."""

    def __init__(self) -> None:
        super().__init__(
            "ページの指定（cursor）が正しくありません。"
            "前のページの next_cursor をそのまま指定してください。"
        )


def inbox_filters_parse(
    params: Mapping[str, Any], *, viewer_id: int | None
) -> tuple[InboxFilters, dict[str, str]]:
    """Filters from a query string (``QueryDict`` or dict). Whatever cannot be understood is
    left out and explained (Japanese) in the returned errors; this never raises."""
    errors: dict[str, str] = {}

    def one(name: str) -> str:
        getter = getattr(params, "get", None)
        value = getter(name, "") if getter else ""
        return str(value or "").replace("\x00", "").strip()

    def many(name: str) -> list[str]:
        getlist = getattr(params, "getlist", None)
        if getlist is not None:
            return [str(v) for v in getlist(name)]
        value = params.get(name)
        return [str(v) for v in value] if isinstance(value, list | tuple) else []

    procedure_id: int | None = None
    if one("procedure"):
        procedure_id = parse_int(one("procedure"))
        if procedure_id is None:
            errors["procedure"] = "手続の指定が正しくありません。"
    statuses = tuple(dict.fromkeys(s for s in many("status") if s in S.values))
    if len(statuses) != len(set(many("status"))):
        errors["status"] = "状態の指定に、知らない値が含まれていました。"

    def day(name: str, label: str) -> date | None:
        text = unicodedata.normalize("NFKC", one(name))
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            errors[name] = f"{label}は 2025-04-01 の形で入力してください。"
            return None

    arrived_from = day("from", "到達日（から）")
    arrived_to = day("to", "到達日（まで）")
    if arrived_from and arrived_to and arrived_from > arrived_to:
        errors["to"] = "到達日の「まで」は「から」より後の日にしてください。"
        arrived_to = None
    assignee = one("assignee")
    if assignee not in ("", "me", "none") and parse_int(assignee) is None:
        errors["assignee"] = "担当者の指定が正しくありません。"
        assignee = ""
    q = one("q")
    if len(q) > MAX_QUERY:
        errors["q"] = f"検索語は{MAX_QUERY}文字以内で入力してください。"
        q = q[:MAX_QUERY]
    sort = one("sort") or "newest"
    if sort not in SORTS:
        errors["sort"] = "並び順の指定が正しくありません。"
        sort = "newest"
    channel = one("channel")
    if channel and channel not in Channel.values:
        errors["channel"] = "受付方法の指定が正しくありません。"
        channel = ""
    signoff = one("signoff")
    if signoff not in SIGNOFF_FILTERS:
        errors["signoff"] = "決裁の指定が正しくありません。"
        signoff = ""
    filters = InboxFilters(
        open=one("open") in ("1", "on", "true"),
        signoff=signoff,
        channel=channel,
        procedure_id=procedure_id,
        statuses=statuses,
        arrived_from=arrived_from,
        arrived_to=arrived_to,
        assignee=assignee,
        overdue=one("overdue") in ("1", "on", "true"),
        duplicates=one("duplicates") in ("1", "on", "true"),
        q=q,
        sort=sort,
        viewer_id=viewer_id,
    )
    return filters, errors


def _cursor_dump(sort: str, value: datetime | None, pk: int) -> str:
    return signing.dumps(
        [sort, value.isoformat() if value else None, pk], salt=_CURSOR_SALT, compress=True
    )


def _cursor_load(cursor: str, sort: str) -> tuple[datetime | None, int]:
    """The position after which the page starts. The cursor is signed, so a forged or edited
    one is refused here rather than turned into a query."""
    try:
        data = signing.loads(cursor[:500], salt=_CURSOR_SALT)
        kind, raw, pk = data
        if kind != sort or not isinstance(pk, int):
            raise InvalidCursor
        value = datetime.fromisoformat(raw) if raw is not None else None
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise InvalidCursor from error
    if value is None and sort != "due":
        raise InvalidCursor
    return value, pk


def _filtered(
    organisation: Organisation, filters: InboxFilters, now: datetime
) -> QuerySet[Application]:
    qs = Application.objects.filter(organisation=organisation)
    if filters.live_only:
        qs = qs.filter(is_test=False)
    if filters.procedure_id is not None:
        qs = qs.filter(procedure_id=filters.procedure_id)
    if filters.statuses:
        qs = qs.filter(status__in=filters.statuses)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.arrived_from:
        qs = qs.filter(arrived_at__gte=datetime.combine(filters.arrived_from, time(), TOKYO))
    if filters.arrived_to:
        end = datetime.combine(filters.arrived_to + timedelta(days=1), time(), TOKYO)
        qs = qs.filter(arrived_at__lt=end)
    if filters.arrived_after is not None:
        qs = qs.filter(arrived_at__gte=filters.arrived_after)
    if filters.arrived_before is not None:
        qs = qs.filter(arrived_at__lt=filters.arrived_before)
    if filters.assignee == "me":
        qs = qs.filter(assignee_id=filters.viewer_id or -1)
    elif filters.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif filters.assignee:
        qs = qs.filter(assignee_id=int(filters.assignee))
    if filters.overdue:
        qs = qs.filter(due_at__lt=now).exclude(status__in=FINAL)
    if filters.duplicates:
        # Imported here: duplicate_review uses review, which imports this module.
        from madoguchi.applications.duplicate_review import possible_duplicate_exists

        qs = qs.filter(possible_duplicate_exists())
    if filters.open:
        qs = qs.exclude(status__in=FINAL)
    if filters.signoff:
        qs = _signoff_filtered(qs, filters)
    return _searched(qs, filters.q, organisation)


def _searched(
    qs: QuerySet[Application], text: str, organisation: Organisation
) -> QuerySet[Application]:
    """The free-text search (``q``): a receipt number or any part of it, else a name."""
    q = unicodedata.normalize("NFKC", text).strip()
    if not q:
        return qs
    digits = receipt_query_digits(q)
    if digits is not None:
        return qs.filter(receipt_match(digits, lg_code=organisation.lg_code))
    return qs.filter(search_name__contains=search_key(q))


def receipt_query_digits(text: str) -> str | None:
    """The digits of what looks like (part of) a receipt number, else None: full-width digits
    and hyphens (－ ‐ − ー), spaces and hyphens anywhere are accepted and dropped:
    "２６０４０１－００００" → "2604010000"."""
    compact = _RECEIPT_SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    if not compact or len(compact) > MAX_RECEIPT_DIGITS or not compact.isascii():
        return None
    return compact if compact.isdigit() else None


def receipt_match(digits: str, *, lg_code: str) -> Q:
    """Applications whose receipt number (団体コード-YYMMDD-8桁) matches ``digits`` the way
    people quote one, hyphens ignored:

    - its end — the trailing digits read out on the phone ("1234", "00001234",
      "260401-00001234");
    - its beginning ("142042-2604", the whole number);
    - from the date on, the organisation's code left out ("260401", "260401-0000").

    Each is a range on an indexed column (``receipt_reversed`` for the end, ``receipt_digits``
    for the rest), so the database seeks instead of scanning every row of the organisation:
    ``LIKE '%…'`` cannot use a B-tree, and pg_trgm, which could, does not exist on SQLite.
    A run of digits in the middle of the serial alone ("0012" of …-00001234) is not matched.
    """
    match = _prefix_range("receipt_reversed", digits[::-1]) | _prefix_range(
        "receipt_digits", digits
    )
    if len(lg_code) + len(digits) <= MAX_RECEIPT_DIGITS:
        match |= _prefix_range("receipt_digits", lg_code + digits)
    return match


def _prefix_range(name: str, prefix: str) -> Q:
    """``name`` starts with the digits ``prefix``, as a range (``>= "26" AND < "27"``): a
    B-tree range on both databases whatever the collation, where ``LIKE 'x%'`` is not
    (SQLite's needs a NOCASE index; PostgreSQL's a C collation or a pattern operator class)."""
    condition = Q(**{f"{name}__gte": prefix})
    stem = prefix.rstrip("9")
    if stem:  # "2699" → below "27"; all nines ("99") has no upper bound among digits
        condition &= Q(**{f"{name}__lt": stem[:-1] + str(int(stem[-1]) + 1)})
    return condition


def _signoff_filtered(qs: QuerySet[Application], filters: InboxFilters) -> QuerySet[Application]:
    waiting = DecisionProposal.objects.filter(
        application=OuterRef("pk"), state="pending", from_status=OuterRef("status")
    )
    if filters.signoff == "mine":
        viewer = filters.viewer_id or -1
        signer = Staff.objects.filter(
            user_id=viewer,
            may_sign_off=True,
            active=True,
            organisation_id=OuterRef("organisation_id"),
        ).exclude(role=StaffRole.VIEWER)
        waiting = waiting.exclude(proposed_by_id=viewer).exclude(signoffs__signer_id=viewer)
        qs = qs.filter(Exists(signer))
    return qs.filter(Exists(waiting))


def inbox_count(*, organisation: Organisation, filters: InboxFilters, now: datetime) -> int:
    """How many applications :func:`inbox_page` lists for ``filters`` (the console home's
    counts: one COUNT on the same query, so a count and its list always agree)."""
    return _filtered(organisation, filters, now).count()


def inbox_page(
    *,
    organisation: Organisation,
    filters: InboxFilters,
    now: datetime,
    after: str | None = None,
    limit: int = 50,
) -> InboxPage:
    """One page of the organisation's applications, newest / oldest / nearest deadline first.

    Guarantees: only ``organisation``'s applications; at most ``limit`` rows; ``next_cursor``
    only when more rows exist (found by fetching one row more, no COUNT). A cursor that was
    tampered with, or made for another sort, gives the first page with ``cursor_rejected``.
    Never raises for user input.
    """
    limit = max(1, min(limit, 200))
    qs = _filtered(organisation, filters, now)
    rejected = False
    position: tuple[datetime | None, int] | None = None
    if after:
        try:
            position = _cursor_load(after, filters.sort)
        except InvalidCursor:
            rejected = True
    if filters.sort == "due":
        # Without a deadline last, on both databases (SQLite would put NULLs first).
        qs = qs.order_by(F("due_at").asc(nulls_last=True), "id")
        if position is not None:
            value, pk = position
            if value is None:
                qs = qs.filter(due_at__isnull=True, id__gt=pk)
            else:
                qs = qs.filter(
                    Q(due_at__gt=value) | Q(due_at=value, id__gt=pk) | Q(due_at__isnull=True)
                )
    elif filters.sort == "oldest":
        qs = qs.order_by("arrived_at", "id")
        if position is not None and position[0] is not None:
            value, pk = position[0], position[1]
            # The first condition is what the index can seek to; the second breaks ties.
            qs = qs.filter(arrived_at__gte=value).exclude(arrived_at=value, id__lte=pk)
    else:
        qs = qs.order_by("-arrived_at", "-id")
        if position is not None and position[0] is not None:
            value, pk = position[0], position[1]
            qs = qs.filter(arrived_at__lte=value).exclude(arrived_at=value, id__gte=pk)
    items = list(qs.select_related("procedure", "assignee", "form_version")[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    next_cursor = None
    if more and items:
        last = items[-1]
        value = last.due_at if filters.sort == "due" else last.arrived_at
        next_cursor = _cursor_dump(filters.sort, value, last.pk)
    rows = [
        InboxRow(application=a, name=applicant_name(a), overdue=application_overdue(a, now))
        for a in items
    ]
    return InboxPage(rows=rows, next_cursor=next_cursor, cursor_rejected=rejected)


def application_overdue(application: Application, now: datetime) -> bool:
    """Past its 標準処理期間 and still open."""
    return (
        application.due_at is not None
        and application.due_at < now
        and application.status not in FINAL
    )


def applicant_name(application: Application) -> str:
    """The applicant's name as typed (first top-level name field), for staff screens."""
    spec = form_spec(application.form_version)
    for a in walk(spec, application.answers, into_groups=False):
        if a.field.type == "person_name" and isinstance(a.value, dict):
            return " ".join(
                str(a.value.get(p, "")) for p in ("family", "given") if a.value.get(p)
            ).strip()
    return ""


def application_get(*, organisation: Organisation, application_id: Any) -> Application:
    """One application of ``organisation``; anything else (another organisation's id, a
    malformed id) raises ``Application.DoesNotExist``."""
    try:
        pk = int(application_id)
    except (TypeError, ValueError):
        raise Application.DoesNotExist from None
    return Application.objects.select_related(
        "organisation", "procedure", "form_version", "assignee"
    ).get(organisation=organisation, pk=pk)


def application_notes(application: Application) -> list[ApplicationNote]:
    return list(application.notes.select_related("author").order_by("created_at", "id"))


def application_documents(application: Application) -> list[IssuedDocument]:
    return list(
        application.documents.select_related("record", "record__superseded_by")
        .defer("record__pdf", "record__superseded_by__pdf")
        .order_by("created_at", "id")
    )


def issued_document_get(
    *, organisation: Organisation, application: Application, document_id: Any
) -> IssuedDocument:
    try:
        pk = int(document_id)
    except (TypeError, ValueError):
        raise IssuedDocument.DoesNotExist from None
    return IssuedDocument.objects.get(
        organisation=organisation, application_id=application.pk, pk=pk
    )


def decision_templates_of(
    *, organisation: Organisation, kind: str | None = None
) -> list[DecisionTemplate]:
    qs = DecisionTemplate.objects.filter(organisation=organisation)
    if kind:
        qs = qs.filter(kind=kind)
    return list(qs.order_by("kind", "title", "id"))


def decision_template_get(*, organisation: Organisation, template_id: Any) -> DecisionTemplate:
    try:
        pk = int(template_id)
    except (TypeError, ValueError):
        raise DecisionTemplate.DoesNotExist from None
    return DecisionTemplate.objects.get(organisation=organisation, pk=pk)


def assignable_staff(*, organisation: Organisation) -> list[Staff]:
    """Active staff of the organisation who may handle applications (not viewers)."""
    return list(
        Staff.objects.filter(
            organisation=organisation,
            active=True,
            user__is_active=True,
            role__in=(StaffRole.ADMIN, StaffRole.REVIEWER),
        )
        .select_related("user")
        .order_by("user__display_name", "user__email")
    )
