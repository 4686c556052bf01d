"""Isolation proof: every staff page and staff API resource of organisation A, requested by
staff of organisation B (an admin, the strongest role) and by a resident, answers 404 (or the
login page) and shows nothing of A.

The URLs are taken from the URL configuration and the API's routes, not listed by hand: a new
console page or staff endpoint is covered the day it is added, and one with a parameter this
test cannot fill fails until the parameter is taught here.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.models import ApplicationNote
from madoguchi.applications.publishing import procedure_set_status
from madoguchi.applications.review import application_decide, decision_template_save
from madoguchi.applications.services import application_submit, new_idempotency_key
from madoguchi.applications.workflow import application_transition, message_send
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.selectors import template_version_get
from madoguchi.catalog.services import procedure_adopt
from madoguchi.core.time import now
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import User
from madoguchi.identity.services import staff_upsert
from madoguchi.identity.tokens import SCOPE_STAFF_READ, SCOPE_STAFF_WRITE
from madoguchi.integrations.tokens import STAFF_SCOPES, staff_token_create
from madoguchi.integrations.webhooks import webhook_endpoint_create
from madoguchi.testing import console_login

#: What identifies A's data in a response: the applicant's name, the receipt number is added
#: per test. The name is unusual enough never to appear by chance.
SECRET_NAME = "隔離検証"
SECRET_NOTE = "内部メモ・横浜だけ"

#: Console URLs that are not tenant data (login steps, public invitation links).
PUBLIC = {"login", "logout", "login_code", "login_recovery", "login_enrol", "invitation"}


def console_patterns() -> list[tuple[str, str]]:
    """(name, route) of every URL in the console namespace."""
    found: list[tuple[str, str]] = []

    def walk(patterns: list[Any], prefix: str, namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
            elif isinstance(p, URLPattern) and namespace == "console" and p.name:
                found.append((p.name, prefix + str(p.pattern)))

    walk(get_resolver().url_patterns, "/", "")
    return found


def staff_api_routes() -> list[str]:
    from madoguchi.api.v1 import api

    routes = []
    for prefix, router in api._routers:
        for path in router.path_operations:
            full = (prefix + path).replace("//", "/")
            if full.startswith("/staff"):
                routes.append("/api/v1" + full)
    return sorted(set(routes))


@pytest.fixture
def world(db, organisation, other_organisation):
    """A's data (横浜市) in every kind of object a staff URL can name; B's admin (鎌倉市)."""
    procedure = procedure_set_status(
        organisation=organisation,
        procedure=procedure_adopt(
            organisation=organisation,
            template_version=template_version_get(slug="sodai-gomi"),
            now=now(),
        ),
        status=ProcedureStatus.PUBLISHED,
    )
    admin_a = staff_upsert(
        organisation=organisation,
        email="admin@yokohama.test",
        password="admin password a 12345",
        role=StaffRole.ADMIN,
    )
    from madoguchi.forms.selectors import form_spec
    from madoguchi.testing import valid_answers

    resident = User.objects.create_user("isolation@example.jp", "resident password 12345")
    answers = valid_answers(procedure)
    spec = form_spec(procedure.form_version)
    name_key = next(f.key for f in spec.fields if f.type == "person_name")
    answers[name_key] = {
        "family": SECRET_NAME,
        "given": "太郎",
        "family_kana": "カクリケンショウ",
        "given_kana": "タロウ",
    }
    application = application_submit(
        organisation=organisation,
        procedure=procedure,
        applicant=resident,
        answers=answers,
        idempotency_key=new_idempotency_key(),
        now=now(),
    ).application
    ApplicationNote.objects.create(
        organisation=organisation,
        application=application,
        author=admin_a.user,
        body=SECRET_NOTE,
        created_at=now(),
    )
    message_send(
        organisation=organisation,
        application=application,
        staff_user=admin_a.user,
        body="書類を確認しています。",
        now=now(),
    )
    application_transition(
        organisation=organisation,
        application=application,
        to_status=S.ACCEPTED,
        staff_user=admin_a.user,
        now=now(),
    )
    document = application_decide(
        organisation=organisation,
        application=application,
        staff=admin_a,
        outcome="approve",
        reason="承認します。",
        expected_status=S.ACCEPTED,
        now=now(),
    )
    token, _raw = staff_token_create(
        staff=admin_a, name="基幹連携", scopes=[SCOPE_STAFF_READ, SCOPE_STAFF_WRITE], now=now()
    )
    from django.test import override_settings

    with override_settings(WEBHOOK_ALLOW_PRIVATE=True):
        endpoint, _secret = webhook_endpoint_create(
            organisation=organisation,
            url="http://127.0.0.1:9/hook",
            events=["application.submitted"],
            actor=admin_a.user,
            now=now(),
        )
    decision_template_save(
        organisation=organisation,
        staff=admin_a,
        kind="approve",
        title="横浜の文例",
        body="横浜市の承認理由",
        now=now(),
    )
    from madoguchi.identity.proofing import identity_proofing_record

    proofing = identity_proofing_record(
        staff=admin_a,
        method="image_proofing",
        applicant=resident,
        application_id=application.pk,
        documents=["passport"],
        name=f"{SECRET_NAME}　太郎",
        address="横浜市中区",
        birth_date="1990-04-01",
        now=now(),
    )
    # 書かない窓口: A's resident's draft, handed to A's counter (its QR token is a URL part).
    from madoguchi.applications.received import counter_handoff_issue
    from madoguchi.applications.services import draft_save

    draft = draft_save(
        organisation=organisation,
        procedure=procedure,
        applicant=resident,
        answers={name_key: answers[name_key]},
        step="",
        now=now(),
    )
    handoff = counter_handoff_issue(applicant=resident, draft_id=draft.pk, now=now())
    # A file of A's application (the console serves it inline and as a download).
    import io

    from PIL import Image

    from madoguchi.applications.attachments import attachment_store
    from madoguchi.applications.constants import PAPER_FORM_FIELD
    from madoguchi.applications.models import Attachment

    png = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(png, format="PNG")
    attachment = attachment_store(
        procedure=procedure,
        field_key=PAPER_FORM_FIELD,
        owner=resident,
        name=f"{SECRET_NAME}.png",
        data=png.getvalue(),
        now=now(),
    )
    Attachment.objects.filter(pk=attachment.pk).update(application=application, revision=1)
    # A's counts imported from other systems (the import's page lists its file name).
    from madoguchi.stats.imports import counts_import
    from madoguchi.testing import counts_csv

    count_import = counts_import(
        content=counts_csv(("141003", "2024", "", "eltax-filing", "120000", "90000")),
        file_name=f"{SECRET_NAME}の件数.csv",
        scope_organisation=organisation,
        actor=admin_a.user,
        now=now(),
    )
    # A's lottery (抽選) over a facility of A.
    from madoguchi.reservations.lottery_testing import (
        lottery_facility,
        lottery_make,
        target_month,
    )

    lottery = lottery_make(
        organisation, admin_a, lottery_facility(organisation, target_month()), at=now()
    )
    admin_b = staff_upsert(
        organisation=other_organisation,
        email="admin@kamakura.test",
        password="admin password b 12345",
        role=StaffRole.ADMIN,
    )
    # Every scope a staff token can hold: the strongest token of another organisation.
    _b_token, b_raw = staff_token_create(staff=admin_b, name="鎌倉", scopes=STAFF_SCOPES, now=now())
    # 利用者登録 and イベント・講座 of A.
    from madoguchi.reservations.models import Event, Registration

    registration = Registration.objects.create(
        organisation=organisation, kind="group", number="R-ISO-1", name=f"{SECRET_NAME}クラブ"
    )
    event = Event.objects.create(
        organisation=organisation,
        title=f"{SECRET_NAME}講座",
        starts_at=now() + timedelta(days=9),
        ends_at=now() + timedelta(days=9, hours=1),
        signup_opens_at=now(),
        signup_closes_at=now() + timedelta(days=8),
        capacity=5,
    )
    # A's facility: its parts, a コマ, a closed day, a reduction, a slot and a counter booking.
    from madoguchi.reservations.models import Booking, ClosedDay, Reduction
    from madoguchi.reservations.testing import facility_make, next_weekday, slots_make

    facility = facility_make(organisation, name=f"{SECRET_NAME}体育館")
    day = next_weekday()
    slot = slots_make(facility, day)[0]
    closed_day = ClosedDay.objects.create(
        organisation=organisation, facility=facility, date=day + timedelta(days=1), reason="点検"
    )
    reduction = Reduction.objects.create(
        organisation=organisation, facility=facility, code="iso", name="減免", percent=50
    )
    booking = Booking.objects.create(
        organisation=organisation,
        facility=facility,
        slot=slot,
        number="ISO-1",
        status="confirmed",
        source="counter",
        channel="counter",
        contact=f"{SECRET_NAME} 電話",
    )
    # A's form builder draft (様式の作成).
    from madoguchi.catalog.drafts import procedure_draft_create

    builder_draft = procedure_draft_create(
        organisation=organisation,
        slug="isolation-draft",
        title=f"{SECRET_NAME}の様式",
        actor=admin_a.user,
        now=now(),
    )
    # A's procedure in the library of a group B is not a member of (グループ内ひな形).
    from madoguchi.catalog.services import group_template_publish
    from madoguchi.tenants.services import shared_group_upsert

    group = shared_group_upsert(
        slug="isolation-group",
        name="隔離検証グループ",
        prefecture=None,
        members=[organisation],
        now=now(),
    )
    group_version, _ = group_template_publish(
        organisation=organisation, group=group, procedure=procedure, actor=admin_a.user, now=now()
    )
    return {
        "params": {
            "draft_id": builder_draft.pk,
            "template_id": group_version.template_id,
            "facility_id": facility.pk,
            "resource_id": slot.resource_id,
            "band_id": slot.band_id,
            "closed_day_id": closed_day.pk,
            "reduction_id": reduction.pk,
            "slot_id": slot.pk,
            "booking_id": booking.pk,
            "registration_id": registration.pk,
            "event_id": event.pk,
            "procedure_id": procedure.pk,
            "application_id": application.pk,
            "document_id": document.pk,
            "staff_id": admin_a.pk,
            "token_id": token.pk,
            "endpoint_id": endpoint.pk,
            "proofing_id": proofing.pk,
            "attachment_id": attachment.pk,
            "batch_id": count_import.batch_id,
            "lottery_id": lottery.pk,
            # Not tenant data: a group's slug and a template's slug are public.
            "slug": "no-such-group",
            "token": "not-a-real-invitation",
            "handoff": handoff.token,
            # An organisation's code (the statistics' monthly detail): A's, 横浜市.
            "code": "141003",
        },
        "marks": [SECRET_NAME, SECRET_NOTE, application.receipt_number, "横浜の文例", "基幹連携"],
        "admin_b": admin_b,
        "b_raw": b_raw,
        "resident": resident,
    }


def fill(route: str, params: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[-1]
        assert name in params, f"teach the isolation test the URL parameter {name!r} ({route})"
        return str(params[name])

    return re.sub(r"<([^>]+)>", value, route)


def assert_nothing_of_a(response: Any, marks: list[str], where: str) -> None:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode("utf-8", "replace")
    for mark in marks:
        assert mark not in text, f"{where} shows A's {mark!r}"


def test_every_console_url_hides_a_from_another_organisations_admin(world):
    client = Client()
    console_login(client, world["admin_b"].user)
    checked = 0
    for name, route in console_patterns():
        if name in PUBLIC:
            continue
        url = fill(route, world["params"])
        # A's handoff token names A's draft as surely as an id does.
        with_ids = (
            "<int:" in route
            or "<uuid:" in route
            or "<str:handoff>" in route
            or "<str:code>" in route
        )
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            where = f"{method.upper()} {url} ({name})"
            assert response.status_code != 500, where
            if with_ids and "slug" not in route:
                # Another organisation's object: simply not found (never 403, never data).
                assert response.status_code in (404, 405), f"{where}: {response.status_code}"
            assert_nothing_of_a(response, world["marks"], where)
            checked += 1
    assert checked > 40


def test_every_console_url_sends_a_resident_to_the_login_or_refuses(world):
    client = Client()
    client.force_login(world["resident"])
    for name, route in console_patterns():
        if name in PUBLIC:
            continue
        url = fill(route, world["params"])
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            where = f"{method.upper()} {url} ({name})"
            # The console's home page tells an account without a staff role that it has none.
            allowed = (200, 302, 403, 404, 405) if name == "home" else (302, 403, 404, 405)
            assert response.status_code in allowed, f"{where}: {response.status_code}"
            if response.status_code == 302:
                assert "/console/login/" in response["Location"], where
            assert_nothing_of_a(response, world["marks"], where)


def test_every_staff_api_resource_of_a_is_404_for_bs_token(world):
    client = Client()
    auth = {"Authorization": f"Bearer {world['b_raw']}"}
    routes = staff_api_routes()
    assert routes
    for route in routes:
        url = fill(route.replace("{", "<").replace("}", ">"), world["params"])
        with_ids = "{" in route
        get = client.get(url, headers=auth)
        post = client.post(
            url,
            data={"to": "approved", "expected_status": "accepted", "reason": "x"},
            content_type="application/json",
            headers=auth,
        )
        for method, response in (("GET", get), ("POST", post)):
            where = f"{method} {url}"
            assert response.status_code != 500, where
            if with_ids:
                assert response.status_code in (404, 405), f"{where}: {response.status_code}"
            assert_nothing_of_a(response, world["marks"], where)


def test_a_residents_session_reaches_no_staff_api(world):
    client = Client()
    client.force_login(world["resident"])
    for route in staff_api_routes():
        url = fill(route.replace("{", "<").replace("}", ">"), world["params"])
        response = client.get(url)
        assert response.status_code in (401, 403, 404, 405), url
        assert_nothing_of_a(response, world["marks"], url)
