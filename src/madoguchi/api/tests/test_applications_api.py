"""A resident's app (or a load test) applies over HTTP: once, never twice, and reads it back."""

from __future__ import annotations

import json
import secrets
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core import signing
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client, override_settings

from madoguchi.applications.models import Application, ApplicationRevision
from madoguchi.applications.publishing import procedure_set_status
from madoguchi.applications.services import new_idempotency_key
from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.conf.env import ProductionCheck, production_problems
from madoguchi.core.time import now
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.models import AccessToken, User
from madoguchi.identity.services import guest_email_token_make
from madoguchi.identity.tokens import access_token_create, access_token_revoke
from madoguchi.notifications.models import OutboxMessage
from madoguchi.notifications.ratelimit import RECIPIENT_LIMITS
from madoguchi.tenants.models import Organisation
from madoguchi.testing import counted, procedure_publish, valid_answers

URL = "/api/v1/applications/"
VERIFY_URL = "/api/v1/applications/guest-verifications/"
PASSWORD = "correct horse battery 42"


def publish(slug: str):
    return procedure_publish(Organisation.objects.get(lg_code="141003"), slug)


@pytest.fixture
def procedure(db):
    """介護保険被保険者証の再交付 (ial 3, asks for My Number)."""
    return publish("kaigo-hihokensha-saikofu")


@pytest.fixture
def guest_procedure(db):
    """粗大ごみの収集 (ial 1: no account needed)."""
    return publish("sodai-gomi")


@pytest.fixture
def token(resident):
    return access_token_create(user=resident, name="スマホ", scopes=["applications"], now=now())[1]


def post(client: Client, body: Any, *, key: str | None = None, token: str | None = None, **kw):
    headers = {"Idempotency-Key": key or new_idempotency_key()}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    headers.update(kw.pop("headers", {}))
    data = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False)
    return client.post(
        URL, data=data, content_type=kw.pop("content_type", "application/json"), headers=headers
    )


def assert_json_error(response, statuses: set[int]) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) <= {"detail", "errors"}
    assert any("\u3040" <= ch <= "\u9fff" for ch in body["detail"]), body["detail"]
    for item in body.get("errors", []):
        assert set(item) == {"field", "message"}
        assert any("\u3040" <= ch <= "\u9fff" for ch in item["message"]), item
    return body


def stored() -> tuple[int, ...]:
    return (
        Application.objects.count(),
        ApplicationRevision.objects.count(),
        AuditEvent.objects.filter(action="application.submitted").count(),
        counted(),
        OutboxMessage.objects.count(),
    )


# --- Submitting -------------------------------------------------------------------------------


def test_an_app_submits_with_a_token_and_a_retry_gets_the_same_receipt(
    client, procedure, resident, token
):
    body = {"procedure": procedure.pk, "answers": valid_answers(procedure)}
    key = new_idempotency_key()

    first = post(client, body, key=key, token=token)
    again = post(client, body, key=key, token=token)

    assert first.status_code == 201, first.content
    assert again.status_code == 200, again.content
    assert again.json() == first.json()
    data = first.json()
    assert data["receipt_number"].startswith("141003-")
    assert data["arrived_at"].endswith("+09:00")
    assert data["status"] == "submitted"
    assert data["procedure"] == {"id": procedure.pk, "name": procedure.name}
    assert data["organisation"]["lg_code"] == "141003"
    application = Application.objects.get()
    assert application.applicant == resident
    assert stored() == (1, 1, 1, 1, 1)


def test_the_same_key_with_other_answers_is_a_conflict(client, procedure, token):
    answers = valid_answers(procedure)
    key = new_idempotency_key()
    assert post(client, {"procedure": procedure.pk, "answers": answers}, key=key, token=token).status_code == 201  # fmt: skip
    before = stored()
    changed = dict(answers, reason="other") if "reason" in answers else {**answers}
    changed["insured_name"] = {
        "family": "別人",
        "given": "次郎",
        "family_kana": "ベツジン",
        "given_kana": "ジロウ",
    }

    response = post(client, {"procedure": procedure.pk, "answers": changed}, key=key, token=token)

    body = assert_json_error(response, {409})
    assert "識別子" in body["detail"]
    assert stored() == before


def test_wrong_answers_get_422_keyed_by_field_path_and_store_nothing(client, procedure, token):
    answers = valid_answers(procedure)
    answers["insured_my_number"] = "123456789012"  # wrong check digit
    answers["no_such_field"] = "x"

    response = post(client, {"procedure": procedure.pk, "answers": answers}, token=token)

    body = assert_json_error(response, {422})
    fields = {item["field"] for item in body["errors"]}
    assert {"answers.insured_my_number", "answers.no_such_field"} <= fields
    assert stored() == (0, 0, 0, 0, 0)


def mailed_code() -> str:
    """The confirmation code in the last mail: the line after the blank line."""
    body: str = OutboxMessage.objects.latest("id").payload["body"]
    return body.split("\n\n")[1].strip()


def signed_hours_ago(hours: int, payload: dict[str, Any]) -> str:
    """A genuine guest code, as if it had been mailed ``hours`` ago."""

    class Then(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - hours * 3600)

    return Then(salt="madoguchi.identity.guest_email").sign_object(payload, compress=True)


def test_a_guest_proves_the_mailbox_then_applies_for_an_ial_1_procedure(client, guest_procedure):
    body = {"procedure": guest_procedure.pk, "answers": valid_answers(guest_procedure)}

    asked = client.post(
        VERIFY_URL,
        data={"procedure": guest_procedure.pk, "email": "guest@example.jp"},
        content_type="application/json",
    )
    assert asked.status_code == 202, asked.content
    assert OutboxMessage.objects.get().payload["to"] == "guest@example.jp"
    code = mailed_code()
    assert code not in asked.content.decode()  # only the mailbox learns the code
    response = post(client, body, headers={"X-Guest-Token": code})

    assert response.status_code == 201, response.content
    application = Application.objects.get()
    assert application.applicant is None
    assert application.contact_email == "guest@example.jp"
    assert OutboxMessage.objects.latest("id").payload["to"] == "guest@example.jp"


def test_a_guest_without_proof_of_the_mailbox_is_refused_and_no_mail_is_sent(
    client, guest_procedure
):
    """Finding 6: anyone could make the platform mail a receipt to any address."""
    body = {
        "procedure": guest_procedure.pk,
        "answers": valid_answers(guest_procedure),
        "contact_email": "victim@example.jp",
    }

    refused = post(client, body)

    assert "X-Guest-Token" in assert_json_error(refused, {401})["detail"]
    assert stored() == (0, 0, 0, 0, 0)


@pytest.mark.parametrize("case", ["forged", "other procedure", "other address", "expired"])
def test_a_wrong_guest_code_is_403_and_stores_and_sends_nothing(
    client, guest_procedure, procedure, case
):
    code = guest_email_token_make(email="guest@example.jp", procedure_id=guest_procedure.pk)
    contact = "guest@example.jp"
    if case == "forged":
        code = code[:-3] + ("AAA" if not code.endswith("AAA") else "BBB")
    elif case == "other procedure":
        code = guest_email_token_make(email="guest@example.jp", procedure_id=procedure.pk)
    elif case == "other address":
        contact = "victim@example.jp"
    elif case == "expired":
        code = signed_hours_ago(25, {"e": "guest@example.jp", "p": guest_procedure.pk})
    body = {
        "procedure": guest_procedure.pk,
        "answers": valid_answers(guest_procedure),
        "contact_email": contact,
    }

    refused = post(client, body, headers={"X-Guest-Token": code})

    assert_json_error(refused, {403})
    assert stored() == (0, 0, 0, 0, 0)


def test_asking_for_guest_codes_is_limited_per_address_with_retry_after(client, guest_procedure):
    def ask(email: str):
        return client.post(
            VERIFY_URL,
            data={"procedure": guest_procedure.pk, "email": email},
            content_type="application/json",
        )

    answers = [ask("victim@example.jp") for _ in range(25)]

    statuses = [answer.status_code for answer in answers]
    assert statuses.count(202) == RECIPIENT_LIMITS[0][1]
    limited = answers[-1]
    assert limited.status_code == 429
    assert "上限" in assert_json_error(limited, {429})["detail"]
    assert 0 < int(limited["Retry-After"]) <= 600
    assert OutboxMessage.objects.count() == RECIPIENT_LIMITS[0][1]
    assert ask("someone.else@example.jp").status_code == 202  # another address is not blocked


@pytest.mark.parametrize(
    "body",
    [
        {"procedure": 1, "email": "not an address"},
        {"procedure": 1, "email": "a@" + "b" * 300 + ".jp"},
        {"procedure": "①", "email": "guest@example.jp"},
        {"procedure": 2**70, "email": "guest@example.jp"},
        {"email": "guest@example.jp"},
    ],
)
def test_hostile_guest_code_requests_get_a_japanese_error_and_send_nothing(
    client, guest_procedure, body
):
    response = client.post(VERIFY_URL, data=body, content_type="application/json")

    assert_json_error(response, {404, 422})
    assert OutboxMessage.objects.count() == 0


def test_a_procedure_that_needs_an_account_sends_no_guest_code(client, procedure_shipped):
    procedure = procedure_shipped
    response = client.post(
        VERIFY_URL,
        data={"procedure": procedure.pk, "email": "guest@example.jp"},
        content_type="application/json",
    )

    assert_json_error(response, {403})
    assert OutboxMessage.objects.count() == 0


def test_a_procedure_that_needs_identity_refuses_guests(client, procedure_shipped):
    procedure = procedure_shipped
    body = {
        "procedure": procedure.pk,
        "answers": valid_answers(procedure),
        "contact_email": "guest@example.jp",
    }

    body = assert_json_error(post(client, body), {401})

    assert "ログイン" in body["detail"]
    assert stored() == (0, 0, 0, 0, 0)


def test_a_stale_form_version_is_410_and_the_current_one_is_accepted(client, procedure, token):
    body = {"procedure": procedure.pk, "answers": valid_answers(procedure)}
    current = procedure.form_version.version

    assert_json_error(post(client, {**body, "form_version": current + 1}, token=token), {410})
    assert stored() == (0, 0, 0, 0, 0)
    assert post(client, {**body, "form_version": current}, token=token).status_code == 201


def test_unknown_or_unpublished_procedures_are_404_and_out_of_period_is_403(
    client, procedure, token
):
    answers = valid_answers(procedure)
    assert_json_error(post(client, {"procedure": 999_999, "answers": answers}, token=token), {404})
    procedure.reception_ends_at = now() - timedelta(days=1)
    procedure.save()
    closed = post(client, {"procedure": procedure.pk, "answers": answers}, token=token)
    assert "受け付けていません" in assert_json_error(closed, {403})["detail"]
    procedure_set_status(
        organisation=procedure.organisation, procedure=procedure, status=ProcedureStatus.CLOSED
    )
    assert_json_error(post(client, {"procedure": procedure.pk, "answers": answers}, token=token), {404})  # fmt: skip
    assert stored() == (0, 0, 0, 0, 0)


# --- Tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["revoked", "expired", "inactive user", "forged", "garbage"])
def test_a_token_that_no_longer_works_is_401_even_where_guests_may_apply(
    client, guest_procedure, resident, case
):
    access, raw = access_token_create(
        user=resident, name="アプリ", scopes=["applications"], now=now()
    )
    if case == "revoked":
        access_token_revoke(token=access, now=now())
    elif case == "expired":
        AccessToken.objects.filter(pk=access.pk).update(expires_at=now() - timedelta(seconds=1))
    elif case == "inactive user":
        User.objects.filter(pk=resident.pk).update(is_active=False)
    elif case == "forged":
        raw = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    else:
        raw = "\u202e" + "x" * 5000
    body = {
        "procedure": guest_procedure.pk,
        "answers": valid_answers(guest_procedure),
        "contact_email": "guest@example.jp",
    }

    response = post(client, body, token=raw)

    assert "トークン" in assert_json_error(response, {401})["detail"]
    assert stored() == (0, 0, 0, 0, 0)


def test_a_token_without_the_applications_scope_is_403(client, procedure, resident, token):
    AccessToken.objects.update(scopes=["something-else"])

    response = post(client, {"procedure": procedure.pk, "answers": valid_answers(procedure)}, token=token)  # fmt: skip

    assert_json_error(response, {403})
    assert stored() == (0, 0, 0, 0, 0)


# --- Session and CSRF -------------------------------------------------------------------------


def test_a_logged_in_session_without_a_csrf_token_is_refused(procedure, resident):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(resident)
    body = {"procedure": procedure.pk, "answers": valid_answers(procedure)}

    refused = post(browser, body)

    assert "CSRF" in assert_json_error(refused, {403})["detail"]
    assert stored() == (0, 0, 0, 0, 0)
    csrf = _get_new_csrf_string()
    browser.cookies["csrftoken"] = csrf
    accepted = post(browser, body, headers={"X-CSRFToken": csrf})
    assert accepted.status_code == 201, accepted.content
    assert Application.objects.get().applicant == resident


# --- Reading back -----------------------------------------------------------------------------


def test_the_owner_reads_the_application_with_my_number_masked(client, procedure, token):
    answers = valid_answers(procedure)
    number = answers["insured_my_number"]
    receipt = post(client, {"procedure": procedure.pk, "answers": answers}, token=token).json()[
        "receipt_number"
    ]

    response = client.get(f"{URL}{receipt}/", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["receipt_number"] == receipt
    assert data["revision"] == 1
    assert len(data["answers_digest"]) == 64
    assert data["answers"]
    assert number not in response.content.decode()
    row = next(r for r in data["answers"] if r["label"] == "個人番号")
    assert row["value"].endswith(number[-4:]) or "●" in row["value"]


def test_another_resident_and_anonymous_get_404_for_a_receipt(
    client, procedure, token, other_resident
):
    receipt = post(
        client, {"procedure": procedure.pk, "answers": valid_answers(procedure)}, token=token
    ).json()["receipt_number"]
    other = access_token_create(
        user=other_resident, name="他人", scopes=["applications"], now=now()
    )[1]

    assert_json_error(
        client.get(f"{URL}{receipt}/", headers={"Authorization": f"Bearer {other}"}), {404}
    )
    assert_json_error(client.get(f"{URL}{receipt}/"), {404})
    client.force_login(other_resident)
    assert_json_error(client.get(f"{URL}{receipt}/"), {404})
    assert_json_error(client.get(f"{URL}{'%00' * 40}/"), {404})


def test_the_list_shows_only_my_applications_page_by_page(
    client, procedure, guest_procedure, token, other_resident
):
    for _ in range(3):
        post(client, {"procedure": procedure.pk, "answers": valid_answers(procedure)}, token=token)
    other = access_token_create(user=other_resident, name="他人", scopes=["applications"], now=now())[1]  # fmt: skip
    post(client, {"procedure": procedure.pk, "answers": valid_answers(procedure)}, token=other)
    auth = {"Authorization": f"Bearer {token}"}

    first = client.get(URL, {"per_page": 2}, headers=auth).json()
    second = client.get(URL, {"per_page": 2, "page": 2}, headers=auth).json()

    assert (first["count"], first["pages"], len(first["results"])) == (3, 2, 2)
    assert len(second["results"]) == 1
    mine = {r["receipt_number"] for r in first["results"] + second["results"]}
    assert mine == set(
        Application.objects.filter(applicant__email="hanako@example.jp").values_list(
            "receipt_number", flat=True
        )
    )
    assert_json_error(client.get(URL), {401})
    assert_json_error(client.get(URL, {"per_page": 10_000}, headers=auth), {422})


# --- Hostile input ----------------------------------------------------------------------------

HOSTILE_BODIES: list[tuple[str, Any, str, set[int]]] = [
    (
        "huge",
        b'{"procedure": 1, "answers": {"x": "' + b"a" * (3 * 1024 * 1024) + b'"}}',
        "application/json",
        {413},
    ),
    (
        "nested",
        '{"procedure": 1, "answers": ' + '{"a": ' * 5000 + "1" + "}" * 5001,
        "application/json",
        {400, 422},
    ),
    ("not json", b"procedure=1&answers=x", "application/json", {400}),
    ("form encoded", b"procedure=1&answers=x", "application/x-www-form-urlencoded", {415}),
    ("text", b'{"procedure": 1, "answers": {}}', "text/plain", {415}),
    ("not utf-8", b'{"procedure": 1, "answers": {"a": "\xff\xfe"}}', "application/json", {400}),
    (
        "lone surrogate",
        b'{"procedure": PK, "answers": {"a": "\\ud800"}}',
        "application/json",
        {400},
    ),
    ("array", b"[1, 2, 3]", "application/json", {422}),
    ("null", b"null", "application/json", {422}),
    ("empty", b"", "application/json", {400, 415}),
    ("answers a list", b'{"procedure": PK, "answers": [1, 2]}', "application/json", {422}),
    ("answers a string", b'{"procedure": PK, "answers": "all"}', "application/json", {422}),
    ("procedure a string", b'{"procedure": "PK", "answers": {}}', "application/json", {422}),
    ("procedure true", b'{"procedure": true, "answers": {}}', "application/json", {422}),
    ("procedure float", b'{"procedure": 1.5, "answers": {}}', "application/json", {422}),
    (
        "procedure huge",
        b'{"procedure": 1' + b"0" * 400 + b', "answers": {}}',
        "application/json",
        {400, 422},
    ),
    ("procedure negative", b'{"procedure": -1, "answers": {}}', "application/json", {422}),
    (
        "form_version text",
        b'{"procedure": PK, "answers": {}, "form_version": "1"}',
        "application/json",
        {422},
    ),
    (
        "extra field",
        b'{"procedure": PK, "answers": {}, "applicant": 1}',
        "application/json",
        {422},
    ),
    (
        "bad email",
        b'{"procedure": PK, "answers": {}, "contact_email": "a@"}',
        "application/json",
        {422},
    ),
    (
        "email a list",
        b'{"procedure": PK, "answers": {}, "contact_email": ["a@b.jp"]}',
        "application/json",
        {422},
    ),
    (
        "nul in answer",
        b'{"procedure": PK, "answers": {"applicant_name": {"family": "\\u0000", "given": "a"}, "placement": "\\u0000"}}',
        "application/json",
        {422},
    ),
    (
        "bidi in answer",
        '{"procedure": PK, "answers": {"placement": "\u202e玄関前"}}'.encode(),
        "application/json",
        {422},
    ),
    ("nul key", b'{"procedure": PK, "answers": {"\\u0000": 1}}', "application/json", {422}),
    (
        "many keys",
        (
            '{"procedure": PK, "answers": {' + ",".join(f'"k{i}": {i}' for i in range(5000)) + "}}"
        ).encode(),
        "application/json",
        {422},
    ),
]


@pytest.mark.parametrize(
    ("name", "raw", "content_type", "statuses"), HOSTILE_BODIES, ids=[b[0] for b in HOSTILE_BODIES]
)
def test_hostile_bodies_get_a_japanese_json_error_and_store_nothing(
    client, guest_procedure, name, raw, content_type, statuses
):
    if isinstance(raw, str):
        raw = raw.encode()
    raw = raw.replace(b"PK", str(guest_procedure.pk).encode())
    code = guest_email_token_make(email="guest@example.jp", procedure_id=guest_procedure.pk)

    response = post(client, raw, content_type=content_type, headers={"X-Guest-Token": code})

    assert_json_error(response, statuses)
    assert stored() == (0, 0, 0, 0, 0)


@pytest.mark.parametrize(
    "key",
    [None, "", "short", "x" * 65, "with space 123456789", "../../../../etc/passwd", "鍵" * 20],
)
def test_a_missing_or_forged_idempotency_key_is_400(client, guest_procedure, key):
    headers = {} if key is None else {"Idempotency-Key": key}
    body = {
        "procedure": guest_procedure.pk,
        "answers": valid_answers(guest_procedure),
        "contact_email": "guest@example.jp",
    }
    response = client.post(
        URL, data=json.dumps(body), content_type="application/json", headers=headers
    )

    assert "Idempotency-Key" in assert_json_error(response, {400})["detail"]
    assert stored() == (0, 0, 0, 0, 0)


# --- The document and the benchmark's baseline ------------------------------------------------


def test_the_openapi_document_describes_the_applications_endpoints(client, db):
    document = client.get("/api/v1/openapi.json").json()

    assert {"/api/v1/applications/", "/api/v1/applications/{receipt_number}/"} <= set(
        document["paths"]
    )
    post_op = document["paths"]["/api/v1/applications/"]["post"]
    assert {"200", "201", "401", "409", "410", "422"} <= set(post_op["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in post_op["parameters"])
    assert not any("bench" in path for path in document["paths"])


def test_the_benchmark_baseline_is_off_unless_configured(client, guest_procedure):
    body = {"procedure": guest_procedure.pk, "answers": {"placement": "玄関前"}}
    url = "/api/v1/bench/insert-only/"

    assert_json_error(
        client.post(url, data=json.dumps(body), content_type="application/json"), {404}
    )
    assert Application.objects.count() == 0
    with override_settings(BENCH_ENDPOINTS=True):
        response = client.post(
            url,
            data=json.dumps(body),
            content_type="application/json",
            headers={"Idempotency-Key": new_idempotency_key()},
        )
    assert response.status_code == 201
    assert (Application.objects.count(), ApplicationRevision.objects.count()) == (1, 1)
    assert OutboxMessage.objects.count() == 1


def test_production_refuses_the_benchmark_endpoints():
    check = ProductionCheck(
        debug=False,
        secret_key_from_env=secrets.token_urlsafe(64),
        allowed_hosts=["example.jp"],
        tls=True,
        database_url="postgres://db/madoguchi",
        bench_endpoints=True,
    )

    (problem,) = production_problems(check)
    assert "MADOGUCHI_BENCH_ENDPOINTS" in problem


# --- Replays and numbers that are not numbers (issue 9, findings 9 and 10) --------------------


@pytest.mark.parametrize(
    "broken",
    [
        {"insured_name": {"family": "\u200b"}},  # nothing visible: not an answer
        {"insured_name": "not a name"},
        {"unknown_field": "x"},
    ],
    ids=["invisible name", "wrong shape", "unknown field"],
)
def test_the_same_key_with_invalid_answers_is_the_same_conflict(client, procedure, token, broken):
    answers = valid_answers(procedure)
    key = new_idempotency_key()
    first = post(client, {"procedure": procedure.pk, "answers": answers}, key=key, token=token)
    assert first.status_code == 201, first.content
    before = stored()
    other = post(
        client, {"procedure": procedure.pk, "answers": {**answers, **broken}}, key=key, token=token
    )
    different = {**answers, "insured_name": {**answers["insured_name"], "family": "別人"}}
    valid_but_other = post(
        client, {"procedure": procedure.pk, "answers": different}, key=key, token=token
    )

    assert assert_json_error(other, {409}) == assert_json_error(valid_but_other, {409})
    assert stored() == before
    assert post(client, {"procedure": procedure.pk, "answers": answers}, key=key, token=token).status_code == 200  # fmt: skip


@pytest.mark.parametrize("constant", ["Infinity", "-Infinity", "NaN"])
def test_json_infinity_and_nan_are_refused_not_stored_as_text(client, procedure, token, constant):
    answers = json.dumps(valid_answers(procedure), ensure_ascii=False)
    raw = f'{{"procedure": {procedure.pk}, "answers": {answers[:-1]}, "x": {constant}}}}}'

    body = assert_json_error(post(client, raw.encode(), token=token), {400})

    assert "Infinity" in body["detail"]
    assert stored() == (0, 0, 0, 0, 0)


def test_a_number_too_large_for_a_float_is_refused_in_a_text_field(client, procedure, token):
    answers = valid_answers(procedure)
    text_key = next(
        f.key for f in form_spec(procedure.form_version).fields if f.type in ("text", "textarea")
    )
    raw = json.dumps({"procedure": procedure.pk, "answers": {**answers, text_key: "X"}})
    raw = raw.replace('"X"', "1e400")  # JSON reads it as float("inf")

    body = assert_json_error(post(client, raw.encode(), token=token), {422})

    assert any("Infinity" in item["message"] for item in body["errors"])
    assert stored() == (0, 0, 0, 0, 0)


@pytest.mark.parametrize("length", ["²", "①", "⑨", "9" * 40, "-1"])
def test_a_content_length_that_is_not_ascii_digits_is_a_json_error(client, procedure, length):
    response = client.post(
        URL,
        data=b"{}",
        content_type="application/json",
        headers={"Idempotency-Key": new_idempotency_key()},
        CONTENT_LENGTH=length,
    )

    assert_json_error(response, {400, 401, 413, 422})
    assert stored() == (0, 0, 0, 0, 0)


def test_an_account_cannot_send_its_receipts_to_another_address(client, procedure, resident, token):
    """Review finding: a logged-in caller's contact_email won over the account's address, so
    any account could make the platform mail any address, unlimited and uncounted."""
    answers = valid_answers(procedure)
    refused = post(
        client,
        {"procedure": procedure.pk, "answers": answers, "contact_email": "victim@example.jp"},
        token=token,
    )
    sent = post(client, {"procedure": procedure.pk, "answers": answers}, token=token)

    assert refused.status_code == 422
    assert "contact_email は指定しないでください" in refused.json()["detail"]
    assert sent.status_code == 201
    receivers = [m.payload["to"] for m in OutboxMessage.objects.all()]
    assert "victim@example.jp" not in receivers
    assert resident.email in receivers
    assert Application.objects.get().contact_email == resident.email
