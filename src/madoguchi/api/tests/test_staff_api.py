"""An organisation's system works its applications through the staff API with a scoped token,
and sees nothing of any other organisation's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.inbox import InboxFilters, inbox_page
from madoguchi.applications.models import (
    Application,
    ApplicationMessage,
    ApplicationTransition,
    IssuedDocument,
)
from madoguchi.applications.review import application_move
from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import AccessToken, Staff
from madoguchi.identity.tokens import SCOPE_APPLICATIONS, access_token_create
from madoguchi.integrations.models import WebhookDelivery
from madoguchi.integrations.tokens import (
    SCOPE_READ,
    SCOPE_WRITE,
    staff_token_create,
    staff_token_revoke,
)
from madoguchi.integrations.webhooks import EVENT_STATUS_CHANGED, webhook_endpoint_create
from madoguchi.notifications.models import OutboxMessage
from madoguchi.testing import answers_with_file_rows as valid_answers
from madoguchi.testing import console_login, submit
from madoguchi.testing import procedure_publish as _publish
from madoguchi.testing import staff_token as token_for

BASE = "/api/v1/staff"
BOTH = (SCOPE_READ, SCOPE_WRITE)


@pytest.fixture
def my_number_procedure(procedure):
    """児童手当の認定請求 (with the claimant's My Number) at 横浜市."""
    return _publish(procedure.organisation, "jidou-teate-nintei")


@pytest.fixture
def admin(admin_staff):
    return admin_staff


def token_for_reviewer(staff: Staff) -> str:
    """A write token held by a reviewer (the token model allows it; the console issues
    tokens through an admin)."""
    return access_token_create(
        user=staff.user, name="審査連携", scopes=BOTH, now=now(), organisation=staff.organisation
    )[1]


def bearer(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def application(procedure, resident):
    return submit(procedure, resident, valid_answers(procedure)).application


def detail_url(application_id) -> str:
    return f"{BASE}/applications/{application_id}/"


def move_url(application_id) -> str:
    return f"{BASE}/applications/{application_id}/transitions"


def post_move(client, application_id, raw, body):
    return client.post(
        move_url(application_id), body, content_type="application/json", **bearer(raw)
    )


# --- Tokens -----------------------------------------------------------------------------------


def test_without_a_token_the_api_answers_401_in_japanese(client, application):
    response = client.get(f"{BASE}/applications/")

    assert response.status_code == 401
    assert "認証" in response.json()["detail"]


WRONG_TOKENS = ["garbage", "mdg_00000000_" + "A" * 43, "mdg_" + "x" * 500, "mdg_ü", "Bearer", ""]


def test_a_wrong_token_is_refused_with_401(client, application):
    for raw in WRONG_TOKENS:
        response = client.get(f"{BASE}/applications/", **bearer(raw))

        assert response.status_code == 401, raw
        assert "detail" in response.json()


def test_a_revoked_token_is_refused_with_401(client, admin, application):
    token, raw = staff_token_create(staff=admin, name="連携", scopes=BOTH, now=now())
    assert client.get(f"{BASE}/applications/", **bearer(raw)).status_code == 200

    staff_token_revoke(staff=admin, token=token, now=now())

    response = client.get(f"{BASE}/applications/", **bearer(raw))
    assert response.status_code == 401
    assert "失効" in response.json()["detail"]
    assert AuditEvent.objects.filter(action="access_token.revoked").count() == 1


def test_an_expired_token_is_refused_with_401(client, admin, application):
    token, raw = staff_token_create(
        staff=admin, name="連携", scopes=BOTH, now=now(), expires_at=now() + timedelta(days=1)
    )
    AccessToken.objects.filter(pk=token.pk).update(expires_at=now() - timedelta(seconds=1))

    assert client.get(f"{BASE}/applications/", **bearer(raw)).status_code == 401


def test_a_token_stops_working_when_its_owner_is_no_longer_staff(client, admin, application):
    raw = token_for(admin)
    Staff.objects.filter(pk=admin.pk).update(active=False)

    assert client.get(f"{BASE}/applications/", **bearer(raw)).status_code == 401


def test_a_residents_token_is_not_a_staff_token(client, resident, application):
    _, raw = access_token_create(
        user=resident, name="アプリ", scopes=[SCOPE_APPLICATIONS], now=now()
    )

    response = client.get(f"{BASE}/applications/", **bearer(raw))

    assert response.status_code == 403


def test_only_an_admin_issues_staff_tokens(staff_member):
    from madoguchi.integrations.tokens import TokenError

    with pytest.raises(TokenError):
        staff_token_create(staff=staff_member, name="連携", scopes=BOTH, now=now())
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize(
    ("scopes", "name"),
    [
        ([], "連携"),
        (["admin"], "連携"),
        ([SCOPE_APPLICATIONS], "連携"),
        (BOTH, "  "),
        (BOTH, "x" * 101),
    ],
)
def test_a_token_with_unknown_scopes_or_no_name_is_refused(admin, scopes, name):
    from madoguchi.integrations.tokens import TokenError

    with pytest.raises(TokenError):
        staff_token_create(staff=admin, name=name, scopes=scopes, now=now())
    assert not AccessToken.objects.exists()


def test_a_read_token_cannot_move_and_a_write_token_cannot_read(client, admin, application):
    read = token_for(admin, scopes=[SCOPE_READ])
    write = token_for(admin, scopes=[SCOPE_WRITE])

    refused = post_move(
        client, application.pk, read, {"to": S.ACCEPTED, "expected_status": S.SUBMITTED}
    )
    assert refused.status_code == 403
    assert SCOPE_WRITE in refused.json()["detail"]
    assert client.get(detail_url(application.pk), **bearer(write)).status_code == 403
    assert client.get(f"{BASE}/applications/", **bearer(write)).status_code == 403
    assert client.get(f"{BASE}/procedures/", **bearer(write)).status_code == 403
    application.refresh_from_db()
    assert application.status == S.SUBMITTED


def test_a_viewer_cannot_move_applications_even_with_a_write_token(
    client, admin, organisation, application
):
    raw = token_for(admin)
    # The admin who issued it is demoted to 閲覧のみ: the token ends with the role it was
    # issued under (refused as no longer valid, even when written past the services).
    Staff.objects.filter(pk=admin.pk).update(role=StaffRole.VIEWER)

    response = post_move(
        client, application.pk, raw, {"to": S.ACCEPTED, "expected_status": S.SUBMITTED}
    )

    assert response.status_code == 401
    assert Application.objects.get(pk=application.pk).status == S.SUBMITTED


# --- Reading ----------------------------------------------------------------------------------


def test_the_detail_masks_my_number_and_the_read_is_audited(
    client, admin, my_number_procedure, resident
):
    procedure = my_number_procedure
    answers = valid_answers(procedure)
    my_number = answers["claimant_my_number"]
    application = submit(procedure, resident, answers).application
    raw = token_for(admin)

    response = client.get(detail_url(application.pk), **bearer(raw))

    assert response.status_code == 200
    body = response.json()
    assert my_number not in response.content.decode()
    assert "$enc" not in response.content.decode()
    assert body["answers"]["claimant_my_number"].endswith(my_number[-4:])
    assert body["receipt_number"] == application.receipt_number
    assert body["organisation"] == "141003"
    assert body["procedure"]["id"] == procedure.pk
    assert body["status"] == S.SUBMITTED
    assert set(body["allowed_transitions"]) >= {S.ACCEPTED, S.REJECTED}
    assert body["answer_rows"]
    event = AuditEvent.objects.get(action="application.viewed", target_id=str(application.pk))
    assert event.detail["channel"] == "api"
    assert event.actor == admin.user
    assert my_number not in str(event.detail)


def test_another_organisations_application_answers_404_and_leaks_nothing(
    client, other_admin, application
):
    raw = token_for(other_admin)

    detail = client.get(detail_url(application.pk), **bearer(raw))
    move = post_move(
        client, application.pk, raw, {"to": S.ACCEPTED, "expected_status": S.SUBMITTED}
    )
    listing = client.get(f"{BASE}/applications/", **bearer(raw))

    assert detail.status_code == 404
    assert move.status_code == 404
    assert detail.json() == move.json() == {"detail": "その申請は見つかりません。"}
    assert listing.status_code == 200
    assert listing.json()["results"] == []
    assert application.receipt_number not in listing.content.decode()
    assert Application.objects.get(pk=application.pk).status == S.SUBMITTED
    assert not AuditEvent.objects.filter(action="application.viewed").exists()


def test_the_list_pages_by_cursor_without_gaps_or_repeats(client, admin, procedure, resident):
    at = now()
    created = [submit(procedure, resident, valid_answers(procedure)).application for _ in range(5)]
    # Two arrive in the same microsecond: the id breaks the tie.
    Application.objects.filter(pk__in=[created[1].pk, created[2].pk]).update(arrived_at=at)
    raw = token_for(admin)

    seen = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = client.get(f"{BASE}/applications/", query, **bearer(raw))
        assert response.status_code == 200
        body = response.json()
        seen += [row["id"] for row in body["results"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert sorted(seen) == sorted(a.pk for a in created)
    assert len(set(seen)) == 5
    expected = sorted(
        Application.objects.filter(pk__in=seen), key=lambda a: (a.arrived_at, a.pk), reverse=True
    )
    assert seen == [a.pk for a in expected]
    assert set(body["results"][0]) >= {
        "id",
        "receipt_number",
        "organisation",
        "procedure",
        "status",
        "status_label",
        "arrived_at",
        "due_at",
        "revision",
        "channel",
    }
    assert "answers" not in body["results"][0]
    assert AuditEvent.objects.filter(action="application.list").count() == 3


def test_the_list_filters_by_procedure_status_and_period(client, admin, procedure, resident):
    other = _publish(procedure.organisation, "inu-toroku")
    first = submit(procedure, resident, valid_answers(procedure)).application
    second = submit(other, resident, valid_answers(other)).application
    Application.objects.filter(pk=first.pk).update(arrived_at=now() - timedelta(days=10))
    application_id = second.pk
    raw = token_for(admin)
    post_move(client, application_id, raw, {"to": S.ACCEPTED, "expected_status": S.SUBMITTED})

    def ids(**query):
        response = client.get(f"{BASE}/applications/", query, **bearer(raw))
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids(procedure=procedure.pk) == [first.pk]
    assert ids(status=S.ACCEPTED) == [second.pk]
    assert ids(arrived_after=(now() - timedelta(days=1)).isoformat()) == [second.pk]
    assert ids(arrived_before=(now() - timedelta(days=1)).isoformat()) == [first.pk]
    # Without an offset the time is Japan time.
    assert ids(arrived_before="2000-01-01T00:00:00") == []


HOSTILE_QUERIES = [
    {"cursor": "not-a-cursor"},
    {"cursor": "W10"},
    {"cursor": "WyIyMDI1LTAxLTAxVDAwOjAwOjAwIiwxXQ"},  # naive time
    {"cursor": "x" * 300},
    {"status": "deleted"},
    {"status": "'; DROP TABLE applications_application; --"},
    {"limit": 0},
    {"limit": 100000},
    {"procedure": -1},
    {"procedure": 2**70},
    {"procedure": "１"},
    {"arrived_after": "0001-01-01T00:00:00+09:00"},
    {"arrived_before": "9999-12-31T23:59:59-12:00"},
    {"arrived_after": "昨日"},
]


def test_hostile_list_queries_get_a_clear_422(client, admin, application):
    raw = token_for(admin)

    for query in HOSTILE_QUERIES:
        response = client.get(f"{BASE}/applications/", query, **bearer(raw))

        assert response.status_code == 422, (query, response.content)
        assert response.json()["detail"]


def test_hostile_ids_answer_404_or_422_never_500(client, admin, application):
    raw = token_for(admin)

    for path in ["0", "-1", str(2**63), str(2**70), "abc", "1e3", "%00", "１"]:
        response = client.get(f"{BASE}/applications/{path}/", **bearer(raw))

        assert response.status_code in (404, 422), path


def test_the_procedures_are_the_organisations_own(client, admin, other_admin, procedure):
    raw = token_for(admin)
    other_raw = token_for(other_admin)

    mine = client.get(f"{BASE}/procedures/", **bearer(raw)).json()
    theirs = client.get(f"{BASE}/procedures/", **bearer(other_raw)).json()

    assert [p["id"] for p in mine] == [procedure.pk]
    assert mine[0]["retention_years"] == procedure.retention_years
    assert theirs == []


# --- Moving -----------------------------------------------------------------------------------


def test_a_transition_moves_the_application_and_is_recorded(client, admin, application):
    raw = token_for(admin)

    response = post_move(
        client,
        application.pk,
        raw,
        {"to": S.ACCEPTED, "expected_status": S.SUBMITTED, "reason": "書類確認済み"},
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == S.ACCEPTED
    transition = ApplicationTransition.objects.get(application=application)
    assert (transition.from_status, transition.to_status) == (S.SUBMITTED, S.ACCEPTED)
    assert transition.actor == admin.user
    assert transition.reason == "書類確認済み"


def test_a_stale_expected_status_answers_409_and_changes_nothing(client, admin, application):
    raw = token_for(admin)
    assert (
        post_move(
            client, application.pk, raw, {"to": S.ACCEPTED, "expected_status": S.SUBMITTED}
        ).status_code
        == 200
    )

    # A second system saw the application as submitted too and tries to reject it.
    response = post_move(
        client,
        application.pk,
        raw,
        {"to": S.REJECTED, "expected_status": S.SUBMITTED, "reason": "要件を満たしません。"},
    )

    assert response.status_code == 409
    assert "状態が変わりました" in response.json()["detail"]
    assert Application.objects.get(pk=application.pk).status == S.ACCEPTED
    assert ApplicationTransition.objects.filter(application=application).count() == 1


def test_a_forbidden_move_answers_409(client, admin, application):
    raw = token_for(admin)
    post_move(
        client,
        application.pk,
        raw,
        {"to": S.REJECTED, "expected_status": S.SUBMITTED, "reason": "要件を満たしません。"},
    )

    # Approving a rejected application, or taking back a withdrawal, is not a move.
    response = post_move(
        client, application.pk, raw, {"to": S.APPROVED, "expected_status": S.REJECTED}
    )

    assert response.status_code == 409
    assert "できません" in response.json()["detail"]
    assert Application.objects.get(pk=application.pk).status == S.REJECTED


HOSTILE_BODIES = [
    {"to": "approved"},
    {"expected_status": "submitted"},
    {"to": "nonsense", "expected_status": "submitted"},
    {"to": "accepted", "expected_status": "nonsense"},
    {"to": "accepted", "expected_status": "submitted", "reason": "あ" * 2001},
    {"to": ["accepted"], "expected_status": "submitted"},
    {"to": None, "expected_status": "submitted"},
    {"to": "correction_requested", "expected_status": "submitted"},
    [],
    '"accepted"',
    "42",
]


def test_hostile_transition_bodies_get_a_clear_422(client, admin, application):
    raw = token_for(admin)

    for body in HOSTILE_BODIES:
        response = post_move(client, application.pk, raw, body)

        assert response.status_code == 422, (body, response.content)
        assert response.json()["detail"]
    assert Application.objects.get(pk=application.pk).status == S.SUBMITTED
    assert not ApplicationTransition.objects.exists()


UNREADABLE = [
    ("application/json", b"{not json"),
    ("application/json", b"\xff\xfe"),
    ("text/plain", b"to=accepted"),
    ("application/json", b'{"to": "accepted", "expected_status": "submitted", "x": ' * 50),
    ("application/json", b"[" * 100_000),
    ("application/json", b'{"to": "' + b"a" * 70_000 + b'"}'),
]


def test_unreadable_transition_bodies_get_a_clear_answer_never_500(client, admin, application):
    raw = token_for(admin)

    for content_type, data in UNREADABLE:
        response = client.generic(
            "POST", move_url(application.pk), data, content_type=content_type, **bearer(raw)
        )

        assert response.status_code in (400, 413, 422), response.content
        assert response.json()["detail"]
    assert Application.objects.get(pk=application.pk).status == S.SUBMITTED


# --- The same rules and records as the console (finding 3) -----------------------------------


def test_a_rejection_through_the_api_needs_a_reason(client, admin, application):
    raw = token_for(admin)

    for reason in ("", "   ", "\x00", "\u200b\u200b", "\u3000\ufeff", "\u2060"):
        response = post_move(
            client,
            application.pk,
            raw,
            {"to": S.REJECTED, "expected_status": S.SUBMITTED, "reason": reason},
        )

        assert response.status_code == 422, response.content
        assert response.json()["detail"] == "決定の理由を入力してください。"
    assert Application.objects.get(pk=application.pk).status == S.SUBMITTED
    assert not ApplicationTransition.objects.exists()
    assert not IssuedDocument.objects.exists()
    assert not [
        m
        for m in OutboxMessage.objects.filter(topic=OutboxMessage.Topic.EMAIL)
        if "決定" in m.payload["subject"]
    ]


def test_a_reviewer_not_assigned_to_the_procedure_cannot_move_it_through_the_api(
    client, admin, staff_member, procedure, application
):
    """On main a reviewer's token moved applications the console refused that reviewer (403).
    Only organisation admins hold working tokens now (a token ends with its owner's role), so
    a token in a reviewer's hands is refused as a whole, and nothing moves."""
    procedure.reviewers.set([admin])
    raw = token_for_reviewer(staff_member)

    for body in (
        {"to": S.ACCEPTED, "expected_status": S.SUBMITTED},
        {"to": S.APPROVED, "expected_status": S.SUBMITTED, "reason": "可"},
        {"to": S.REJECTED, "expected_status": S.SUBMITTED, "reason": "不可"},
        {
            "to": S.CORRECTION_REQUESTED,
            "expected_status": S.SUBMITTED,
            "reason": "電話番号を確認してください。",
            "fields": ["requester_phone"],
        },
    ):
        response = post_move(client, application.pk, raw, body)

        assert response.status_code == 401, (body, response.content)
    assert Application.objects.get(pk=application.pk).status == S.SUBMITTED
    assert not ApplicationTransition.objects.exists()


def test_a_correction_request_through_the_api_names_fields_and_tells_the_applicant(
    client, admin, application
):
    raw = token_for(admin)

    response = post_move(
        client,
        application.pk,
        raw,
        {
            "to": S.CORRECTION_REQUESTED,
            "expected_status": S.SUBMITTED,
            "reason": "電話番号を確認してください。",
            "fields": ["requester_phone"],
        },
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == S.CORRECTION_REQUESTED
    message = ApplicationMessage.objects.get(application=application, kind="correction")
    assert message.fields == ["requester_phone"]
    unknown = post_move(
        client,
        application.pk,
        raw,
        {
            "to": S.REJECTED,
            "expected_status": S.CORRECTION_REQUESTED,
            "reason": "x",
            "fields": ["a" * 65],
        },
    )
    assert unknown.status_code == 422


@pytest.fixture
def webhook(organisation, admin, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    endpoint, _ = webhook_endpoint_create(
        organisation=organisation,
        url="http://127.0.0.1:9/hook",
        events=[EVENT_STATUS_CHANGED],
        actor=admin.user,
        now=now(),
    )
    return endpoint


def decision_records(application: Application) -> dict[str, Any]:
    """What a decision left behind, by kind (ids, times and receipt numbers left out)."""
    receipt = application.receipt_number
    transitions = ApplicationTransition.objects.filter(application=application)
    documents = IssuedDocument.objects.filter(application=application)
    return {
        "status": Application.objects.get(pk=application.pk).status,
        "transitions": [(t.from_status, t.to_status, t.reason) for t in transitions],
        "documents": [(d.kind, d.title.replace(receipt, "#")) for d in documents],
        "pdf": [bytes(d.pdf)[:5] for d in documents],
        "messages": [
            (m.kind, m.from_staff, m.body)
            for m in ApplicationMessage.objects.filter(application=application).order_by("id")
        ],
        "mail": sorted(
            (m.payload["to"], m.payload["subject"].replace(receipt, "#"))
            for m in OutboxMessage.objects.filter(topic=OutboxMessage.Topic.EMAIL)
            if receipt in m.payload["subject"] and "決定" in m.payload["subject"]
        ),
        "audit": sorted(
            e.action
            for e in AuditEvent.objects.filter(target_type="application", target_id=application.pk)
            if e.action not in ("application.viewed", "application.list")
        ),
        "webhooks": [
            (d.event_type, d.payload["data"]["from_status"], d.payload["data"]["status"])
            for d in WebhookDelivery.objects.filter(event_type=EVENT_STATUS_CHANGED)
            if d.payload["data"]["application_id"] == application.pk
        ],
    }


@pytest.mark.parametrize(("outcome", "status"), [("approve", S.APPROVED), ("reject", S.REJECTED)])
def test_a_decision_through_the_api_leaves_what_the_console_leaves(
    client, admin, procedure, resident, webhook, outcome, status
):
    through_api = submit(procedure, resident, valid_answers(procedure)).application
    through_console = submit(procedure, resident, valid_answers(procedure)).application
    reason = "要件を満たしています。" if outcome == "approve" else "添付書類が不足しています。"
    for application in (through_api, through_console):
        application_move(
            organisation=procedure.organisation,
            application=application,
            staff=admin,
            to_status=S.ACCEPTED,
            expected_status=S.SUBMITTED,
            now=now(),
        )

    response = post_move(
        client,
        through_api.pk,
        token_for(admin),
        {"to": status, "expected_status": S.ACCEPTED, "reason": reason},
    )
    console = Client()
    console_login(console, admin.user)
    decided = console.post(
        reverse("console:application_decide", args=[through_console.pk]),
        {"outcome": outcome, "reason": reason, "expected_status": S.ACCEPTED, "confirm": "1"},
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == status
    assert decided.status_code == 302
    api_records = decision_records(through_api)
    assert api_records == decision_records(through_console)
    assert api_records["status"] == status
    assert api_records["documents"] == [
        (f"decision_{outcome}", f"{'承認' if outcome == 'approve' else '却下'}通知書（#）")
    ]
    assert api_records["pdf"] == [b"%PDF-"]
    assert [kind for kind, _, _ in api_records["messages"]] == ["decision"]
    assert api_records["mail"] == [
        ("hanako@example.jp", "【横浜市】申請の決定をお知らせします（受付番号 #）")
    ]
    assert api_records["audit"] == [
        "application.document_issued",
        "application.submitted",
        "application.transition",
        "application.transition",
    ]
    assert api_records["webhooks"] == [
        (EVENT_STATUS_CHANGED, S.SUBMITTED, S.ACCEPTED),
        (EVENT_STATUS_CHANGED, S.ACCEPTED, status),
    ]
    transition = ApplicationTransition.objects.filter(application=through_api).latest("id")
    assert transition.actor == admin.user


# --- One inbox selector -------------------------------------------------------------------------


def test_the_api_list_and_the_console_inbox_share_one_cursor(client, admin, procedure, resident):
    created = [submit(procedure, resident, valid_answers(procedure)).application for _ in range(3)]
    newest_first = sorted(created, key=lambda a: (a.arrived_at, a.pk), reverse=True)
    raw = token_for(admin)

    first = client.get(f"{BASE}/applications/", {"limit": 1}, **bearer(raw)).json()
    page = inbox_page(
        organisation=procedure.organisation,
        filters=InboxFilters(),
        now=now(),
        after=first["next_cursor"],
        limit=1,
    )
    third = client.get(
        f"{BASE}/applications/", {"limit": 1, "cursor": page.next_cursor}, **bearer(raw)
    ).json()

    assert not page.cursor_rejected
    assert [first["results"][0]["id"], page.rows[0].application.pk, third["results"][0]["id"]] == [
        a.pk for a in newest_first
    ]
    assert third["next_cursor"] is None


def test_a_cursor_of_another_order_is_refused_by_the_api(client, admin, procedure, resident):
    for _ in range(2):
        submit(procedure, resident, valid_answers(procedure))
    oldest = inbox_page(
        organisation=procedure.organisation,
        filters=InboxFilters(sort="oldest"),
        now=now(),
        limit=1,
    )

    response = client.get(
        f"{BASE}/applications/", {"cursor": oldest.next_cursor}, **bearer(token_for(admin))
    )

    assert response.status_code == 422
    assert "next_cursor をそのまま指定してください" in response.json()["detail"]


# --- f2: the timestamp authority away, and the 被害の程度 of a 罹災証明書 ------------------------


def accept(application, staff):
    application_move(
        organisation=application.organisation,
        application=application,
        staff=staff,
        to_status=S.ACCEPTED,
        expected_status=S.SUBMITTED,
        now=now(),
    )


def test_a_decision_while_the_tsa_is_away_answers_503_json_in_japanese(
    client, admin, application, settings
):
    from madoguchi.testing import free_port

    accept(application, admin)
    settings.TSA_URL = f"http://127.0.0.1:{free_port()}/tsa"
    settings.TSA_TIMEOUT = 5
    response = post_move(
        client,
        application.pk,
        token_for(admin),
        {"to": S.APPROVED, "expected_status": S.ACCEPTED, "reason": "要件を満たしています。"},
    )

    assert response.status_code == 503, response.content
    assert response["Content-Type"].startswith("application/json")
    assert "タイムスタンプ局" in response.json()["detail"]
    assert Application.objects.get(pk=application.pk).status == S.ACCEPTED
    assert not IssuedDocument.objects.exists()


@pytest.fixture
def risai_application(organisation, templates_loaded, resident):
    from madoguchi.testing import answers_with_file_rows, procedure_publish

    risai = procedure_publish(organisation, "risai-shomei")
    answers = answers_with_file_rows(risai, owner=resident)
    answers["assessment_method"] = "survey"
    return submit(risai, resident, answers).application


def test_the_api_approves_a_certificate_only_with_a_valid_damage_level(
    client, admin, risai_application
):
    raw = token_for(admin)
    accept(risai_application, admin)
    body = {"to": S.APPROVED, "expected_status": S.ACCEPTED, "reason": "全壊には至らず、半壊と判定"}

    for level, message in (
        ("", "被害の程度を選んでください"),
        ("大破", "いずれかを選んでください"),
    ):
        refused = post_move(client, risai_application.pk, raw, body | {"damage_level": level})
        assert refused.status_code == 422, refused.content
        assert message in refused.json()["detail"]
    assert not IssuedDocument.objects.exists()

    response = post_move(client, risai_application.pk, raw, body | {"damage_level": "半壊"})

    assert response.status_code == 200, response.content
    certificate = IssuedDocument.objects.get(application=risai_application, kind="certificate")
    import io
    import re

    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(bytes(certificate.record.pdf)))
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))
    assert "■半壊" in text
    assert "■全壊" not in text
