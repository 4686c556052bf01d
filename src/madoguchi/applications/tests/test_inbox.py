"""Staff find applications in their inbox: filters, kana-insensitive search, keyset pages."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.db import connection

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.inbox import (
    InboxFilters,
    application_get,
    inbox_filters_parse,
    inbox_page,
)
from madoguchi.applications.models import Application
from madoguchi.applications.workflow import application_transition
from madoguchi.core.time import now
from madoguchi.testing import procedure_publish as publish
from madoguchi.testing import submit_named as apply


def page(organisation, **kwargs):
    after = kwargs.pop("after", None)
    limit = kwargs.pop("limit", 50)
    return inbox_page(
        organisation=organisation,
        filters=InboxFilters(**kwargs),
        now=now(),
        after=after,
        limit=limit,
    )


def receipts(result):
    return [row.application.receipt_number for row in result.rows]


def test_names_are_found_whatever_kana_the_staff_types(procedure, resident, organisation):
    yamada = apply(procedure, resident)
    apply(procedure, resident, name=("佐藤", "一郎", "サトウ", "イチロウ"))

    for query in ("ヤマダ", "やまだ", "ﾔﾏﾀﾞ", "山田", "山田 花子", "ハナコ"):
        assert receipts(page(organisation, q=query)) == [yamada.receipt_number], query
    assert receipts(page(organisation, q="たなか")) == []


def test_receipt_numbers_are_found_whole_or_by_their_beginning(procedure, resident, organisation):
    first = apply(procedure, resident)
    second = apply(procedure, resident)

    assert receipts(page(organisation, q=first.receipt_number)) == [first.receipt_number]
    # Full-width digits typed from a phone call are folded.
    wide = first.receipt_number.translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
    assert receipts(page(organisation, q=wide)) == [first.receipt_number]
    both = page(organisation, q=first.receipt_number[:7])
    assert set(receipts(both)) == {first.receipt_number, second.receipt_number}


def test_filters_by_status_procedure_assignee_period_and_overdue(
    procedure, resident, organisation, staff_member
):
    other_procedure = publish(organisation, "sodai-gomi")
    old = apply(procedure, resident, at=now() - timedelta(days=20))
    accepted = apply(procedure, resident)
    dog = apply(other_procedure, resident)
    application_transition(
        organisation=organisation,
        application=accepted,
        to_status=S.ACCEPTED,
        staff_user=staff_member.user,
        now=now(),
    )
    Application.objects.filter(pk=accepted.pk).update(assignee=staff_member.user)

    assert set(receipts(page(organisation, statuses=(S.ACCEPTED,)))) == {accepted.receipt_number}
    assert set(receipts(page(organisation, statuses=(S.ACCEPTED, S.SUBMITTED)))) == {
        old.receipt_number,
        accepted.receipt_number,
        dog.receipt_number,
    }
    assert receipts(page(organisation, procedure_id=other_procedure.pk)) == [dog.receipt_number]
    assert receipts(page(organisation, assignee="me", viewer_id=staff_member.user_id)) == [
        accepted.receipt_number
    ]
    assert accepted.receipt_number not in receipts(page(organisation, assignee="none"))
    assert receipts(page(organisation, assignee=str(staff_member.user_id))) == [
        accepted.receipt_number
    ]
    # 住民票 is due in 7 days: the one that arrived 20 days ago is overdue, and marked so.
    overdue = page(organisation, overdue=True)
    assert receipts(overdue) == [old.receipt_number]
    assert overdue.rows[0].overdue is True
    recent = page(organisation, arrived_from=(now() - timedelta(days=2)).date())
    assert old.receipt_number not in receipts(recent)
    assert len(receipts(recent)) == 2
    until = page(organisation, arrived_to=(now() - timedelta(days=10)).date())
    assert receipts(until) == [old.receipt_number]


def test_a_decided_application_is_never_overdue(procedure, resident, organisation, staff_member):
    old = apply(procedure, resident, at=now() - timedelta(days=20))
    application_transition(
        organisation=organisation,
        application=old,
        to_status=S.REJECTED,
        staff_user=staff_member.user,
        reason="対象外です。",
        now=now(),
    )
    assert receipts(page(organisation, overdue=True)) == []


def test_pages_follow_each_other_without_gaps_or_repeats(procedure, resident, organisation):
    start = now() - timedelta(hours=1)
    made = [apply(procedure, resident, at=start + timedelta(minutes=i // 2)) for i in range(7)]
    for sort, expected in (
        ("newest", sorted(made, key=lambda a: (a.arrived_at, a.pk), reverse=True)),
        ("oldest", sorted(made, key=lambda a: (a.arrived_at, a.pk))),
        ("due", sorted(made, key=lambda a: (a.due_at, a.pk))),
    ):
        seen: list[str] = []
        after = None
        for _ in range(10):
            result = page(organisation, sort=sort, after=after, limit=3)
            assert len(result.rows) <= 3
            seen += receipts(result)
            after = result.next_cursor
            if after is None:
                break
        assert seen == [a.receipt_number for a in expected], sort


def test_no_next_link_when_the_page_holds_everything(procedure, resident, organisation):
    for _ in range(3):
        apply(procedure, resident)
    assert page(organisation, limit=3).next_cursor is None
    assert page(organisation, limit=2).next_cursor is not None


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "",
        "x" * 5000,
        base64.urlsafe_b64encode(b'["newest","2020-01-01T00:00:00+00:00",1]').decode(),
        "' OR 1=1 --",
    ],
)
def test_a_tampered_cursor_gives_the_first_page(procedure, resident, organisation, cursor):
    for _ in range(3):
        apply(procedure, resident)
    first = page(organisation, limit=2)
    result = page(organisation, limit=2, after=cursor)

    assert receipts(result) == receipts(first)
    assert result.cursor_rejected is bool(cursor)


def test_an_edited_cursor_is_refused_and_a_cursor_of_another_sort_too(
    procedure, resident, organisation
):
    for _ in range(3):
        apply(procedure, resident)
    cursor = page(organisation, limit=1).next_cursor
    assert cursor is not None
    edited = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    assert page(organisation, limit=1, after=edited).cursor_rejected
    assert page(organisation, limit=1, sort="oldest", after=cursor).cursor_rejected


def test_another_organisations_applications_never_appear(
    procedure, resident, organisation, other_organisation
):
    mine = apply(procedure, resident)
    theirs = apply(publish(other_organisation), resident)

    assert receipts(page(organisation)) == [mine.receipt_number]
    assert receipts(page(organisation, q=theirs.receipt_number)) == []
    with pytest.raises(Application.DoesNotExist):
        application_get(organisation=organisation, application_id=theirs.pk)
    for bad in ("1 OR 1=1", None, "", "-1", 10**30):
        with pytest.raises(Application.DoesNotExist):
            application_get(organisation=organisation, application_id=bad)


def _renumber(application, receipt_number):
    application.receipt_number = receipt_number
    application.save(update_fields=["receipt_number"])
    return receipt_number


def test_receipt_numbers_are_found_by_the_digits_people_read_out(procedure, resident, organisation):
    code = organisation.lg_code
    a = _renumber(apply(procedure, resident), f"{code}-260401-00001234")
    b = _renumber(apply(procedure, resident), f"{code}-260401-00005678")
    c = _renumber(apply(procedure, resident), f"{code}-260402-12341234")
    d = _renumber(apply(procedure, resident), f"{code}-260403-00000099")

    expected = {
        "1234": {a, c},  # the trailing digits, as read on the phone
        "00001234": {a},
        "41234": {c},
        "260401-00001234": {a},
        "26040100001234": {a},
        "260401-0000": {a, b},  # from the date on, without the organisation's code
        "2604010000": {a, b},
        "260401": {a, b},
        "２６０４０１－００００": {a, b},  # full-width, as typed with a Japanese IME
        "260401ー0000": {a, b},
        " 260401 - 0000 ": {a, b},
        f"{code}-2604": {a, b, c, d},  # the beginning
        f"{code}260402": {c},
        "99": {d},  # all nines: a range without an upper bound
        "0099": {d},
        "5679": set(),
        "1" * 21: set(),
    }
    for query, wanted in expected.items():
        assert set(receipts(page(organisation, q=query))) == wanted, query


def test_a_receipt_suffix_never_finds_another_organisations_application(
    procedure, resident, organisation, other_organisation
):
    mine = _renumber(apply(procedure, resident), f"{organisation.lg_code}-260401-00001234")
    theirs = apply(publish(other_organisation), resident)
    _renumber(theirs, f"{theirs.organisation.lg_code}-260401-00001234")

    assert receipts(page(organisation, q="1234")) == [mine]
    assert receipts(page(organisation, q="260401-00001234")) == [mine]


@pytest.mark.parametrize(
    "query",
    ["%", "_", "1%", "%1234", "1234' OR '1'='1", "12\x0034", "1234;--", "９" * 40, "-" * 50],
)
def test_hostile_receipt_searches_match_nothing_and_never_fail(
    procedure, resident, organisation, query
):
    _renumber(apply(procedure, resident), f"{organisation.lg_code}-260401-00001234")

    assert receipts(page(organisation, q=query)) == []


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"procedure": "abc"}, "procedure"),
        ({"status": ["approved", "hacked"]}, "status"),
        ({"from": "2025-13-45"}, "from"),
        ({"from": "2025-05-01", "to": "2025-04-01"}, "to"),
        ({"assignee": "someone"}, "assignee"),
        ({"q": "あ" * 500}, "q"),
        ({"sort": "id; drop table"}, "sort"),
    ],
)
def test_unreadable_filters_are_explained_in_japanese_and_dropped(params, key):
    from django.http import QueryDict

    query = QueryDict(mutable=True)
    for name, value in params.items():
        query.setlist(name, value if isinstance(value, list) else [value])
    filters, errors = inbox_filters_parse(query, viewer_id=None)

    assert key in errors
    assert any("\u3040" <= ch <= "\u30ff" for ch in errors[key])
    assert filters.sort in ("newest", "oldest", "due")
    assert len(filters.q) <= 100


def test_filters_from_a_query_string_are_understood():
    from django.http import QueryDict

    filters, errors = inbox_filters_parse(
        QueryDict(
            "q=%EF%BE%94%EF%BE%8F%EF%BE%80%EF%BE%9E&status=accepted&status=submitted"
            "&from=２０２５-０４-０１&assignee=me&overdue=1&sort=due"
        ),
        viewer_id=7,
    )
    assert errors == {}
    assert filters.statuses == ("accepted", "submitted")
    assert filters.arrived_from is not None
    assert filters.arrived_from.isoformat() == "2025-04-01"
    assert (filters.assignee, filters.viewer_id, filters.overdue, filters.sort) == (
        "me",
        7,
        True,
        "due",
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("assignee", "①"),
        ("assignee", "²"),
        ("assignee", "٣"),
        ("assignee", "9" * 40),
        ("procedure", "٣"),
        ("procedure", "①"),
        ("procedure", "9" * 40),
    ],
)
def test_unicode_digits_and_huge_ids_are_explained_not_a_server_error(
    staff_client, procedure, name, value
):
    from django.http import QueryDict
    from django.urls import reverse

    query = QueryDict(mutable=True)
    query[name] = value
    filters, errors = inbox_filters_parse(query, viewer_id=None)

    assert name in errors
    assert (filters.assignee, filters.procedure_id) == ("", None)
    page = staff_client.get(reverse("console:inbox"), {name: value})
    assert page.status_code == 200
    assert "正しくありません" in page.content.decode()


# --- PostgreSQL: the pages are served from the indexes --------------------------------------

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="EXPLAIN plans are checked on PostgreSQL only"
)


def _plan(queryset) -> str:
    return str(queryset.explain())


@postgres_only
def test_first_and_filtered_pages_use_the_inbox_indexes(procedure, resident, organisation):
    from madoguchi.applications.inbox import _filtered

    for _ in range(3):
        apply(procedure, resident)
    with connection.cursor() as cursor:
        # A handful of rows would be read sequentially; the question is whether an index
        # *can* serve the query, which is what it will do with a million rows.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
    base = _filtered(organisation, InboxFilters(), now())
    plans = {
        "first": base.order_by("-arrived_at", "-id")[:51],
        "status": _filtered(organisation, InboxFilters(statuses=(S.SUBMITTED,)), now()).order_by(
            "-arrived_at", "-id"
        )[:51],
        "procedure": _filtered(
            organisation, InboxFilters(procedure_id=procedure.pk), now()
        ).order_by("-arrived_at", "-id")[:51],
        "assignee": _filtered(organisation, InboxFilters(assignee="none"), now()).order_by(
            "-arrived_at", "-id"
        )[:51],
    }
    expected = {
        "first": "app_inbox",
        "status": "app_inbox_status",
        "procedure": "app_inbox_proc",
        # With three rows the planner may prefer app_inbox plus a filter; either serves.
        "assignee": "app_inbox",
    }
    for name, queryset in plans.items():
        plan = _plan(queryset)
        assert "Seq Scan" not in plan, (name, plan)
        assert "Sort" not in plan, (name, plan)  # the index gives the order: no sort
        assert expected[name] in plan, (name, plan)
    overdue = _plan(_filtered(organisation, InboxFilters(overdue=True), now()).order_by("due_at"))
    assert "app_due" in overdue, overdue


@postgres_only
def test_a_receipt_search_seeks_the_receipt_indexes_instead_of_scanning(
    procedure, resident, organisation
):
    from madoguchi.applications.inbox import _filtered

    model = apply(procedure, resident)
    with connection.cursor() as cursor:
        # 5,000 copies with their own receipt numbers, so that the planner's choice is the one
        # it makes on a real inbox (with three rows any index is as good as another).
        cursor.execute(
            """
            INSERT INTO applications_application (
                organisation_id, procedure_id, form_version_id, contact_email, receipt_number,
                idempotency_scope, idempotency_key, arrived_at, answers, answers_digest, status,
                revision, channel, search_name, ial, aal, identity, updated_at,
                receipt_digits, receipt_reversed, language)
            SELECT organisation_id, procedure_id, form_version_id, '', r, 'copy', 'copy-' || g,
                   arrived_at, answers, answers_digest, status, revision, channel, search_name,
                   ial, aal, identity, updated_at,
                   replace(r, '-', ''), reverse(replace(r, '-', '')), language
            FROM applications_application,
                 generate_series(1, 5000) AS g,
                 LATERAL (SELECT %s || '-2604' || lpad((g %% 30)::text, 2, '0') || '-'
                                 || lpad((g * 7919)::text, 8, '0') AS r) AS made
            WHERE id = %s
            """,
            [organisation.lg_code, model.pk],
        )
        cursor.execute("ANALYZE applications_application")
    for query, index in (
        ("1234", "app_receipt_reversed"),
        ("00001234", "app_receipt_reversed"),
        ("260401-0000", "app_receipt_digits"),
    ):
        plan = _plan(
            _filtered(organisation, InboxFilters(q=query), now()).order_by("-arrived_at")[:51]
        )
        assert "Seq Scan" not in plan, (query, plan)
        assert index in plan, (query, plan)
