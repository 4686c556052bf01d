"""A resident never loses the way, and every page tells the truth (issue 11, items 9 and 10).

Sign-up, verification and login lead back to the procedure the resident started from (a
checked local ``next`` only); every mail about an application links to where it can be read
(my page for an account, a signed status page for a guest, who has no my page); statuses are
Japanese words, never codes; an organisation's contact details are its own or absent.
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import translation

from madoguchi.applications.constants import ApplicationStatus
from madoguchi.applications.links import guest_status_token_make
from madoguchi.applications.models import Application
from madoguchi.applications.workflow import application_transition, correction_request
from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import now
from madoguchi.documents.testing import document_record_make
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.models import User
from madoguchi.notifications.models import OutboxMessage
from madoguchi.tenants.models import Organisation, OrganisationContact
from madoguchi.testing import (
    PASSWORD,
    procedure_publish,
    resident_create,
    submit,
    valid_answers,
    with_real_files,
)

HOSTILE_NEXT = [
    "//evil.example/",
    "https://evil.example/",
    "http://evil.example/o/141003/",
    "javascript:alert(1)",
    "/\\evil.example",
    "\\\\evil.example",
    "/o/141003/\r\nSet-Cookie: x=1",
    "  //evil.example",
    "/" + "a" * 2000,
]


@pytest.fixture(autouse=True)
def _japanese_again_afterwards():
    yield
    translation.deactivate()


@pytest.fixture
def inu(templates_loaded: Any) -> Procedure:
    return procedure_publish(Organisation.objects.get(lg_code="141003"), "inu-toroku")


def send(procedure: Procedure, applicant: Any, **kwargs: Any) -> Application:
    """An application to ``procedure`` from ``applicant`` (None: a guest) with real files."""
    guest_key = "" if applicant else secrets.token_urlsafe(24)
    answers = with_real_files(procedure, valid_answers(procedure), applicant, guest_key)
    sent: Application = submit(
        procedure, applicant, answers, guest_key=guest_key, **kwargs
    ).application
    return sent


def apply_path(procedure: Procedure) -> str:
    return f"/o/{procedure.organisation.lg_code}/procedures/{procedure.pk}/apply/start/"


def link_in(body: str, path_part: str) -> str:
    match = re.search(r"https?://\S*" + re.escape(path_part) + r"\S*", body)
    assert match is not None, body
    return match.group(0)


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- next: sign-up → verification mail → verify → login → the procedure ------------------------


def test_sign_up_verification_and_login_lead_back_to_the_procedure(client, inu):
    start = apply_path(inu)
    page = client.get(start).content.decode()
    assert f"/account/signup/?next={start}" in page

    form = client.get("/account/signup/", {"next": start}).content.decode()
    assert f'name="next" value="{start}"' in form
    sent = client.post(
        "/account/signup/",
        {
            "email": "new@example.jp",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "next": start,
        },
    )
    assert sent.status_code == 302

    mail = OutboxMessage.objects.get(payload__to="new@example.jp")
    verify_link = local(link_in(mail.payload["body"], "/account/verify/"))
    assert parse_qs(urlsplit(verify_link).query)["next"] == [start]
    shown = client.get(verify_link).content.decode()
    assert f'name="next" value="{start}"' in shown
    verified = client.post(verify_link.split("?")[0], {"next": start})
    assert verified.status_code == 302
    assert parse_qs(urlsplit(verified["Location"]).query)["next"] == [start]
    assert User.objects.get(email="new@example.jp").email_verified_at is not None

    login = client.post(
        "/account/login/",
        {
            "username": "new@example.jp",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "next": start,
        },
    )
    assert login.status_code == 302
    assert login["Location"] == start


@pytest.mark.parametrize("hostile", HOSTILE_NEXT)
def test_a_hostile_next_is_dropped_everywhere_and_never_a_server_error(client, db, hostile):
    form = client.get("/account/signup/", {"next": hostile})
    assert form.status_code == 200
    # The header's language switch keeps the whole address (set_language checks it); the
    # sign-up form itself carries no next.
    assert 'name="next" value="' not in form.content.decode().split("</header>")[-1]
    sent = client.post(
        "/account/signup/",
        {
            "email": "new@example.jp",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "next": hostile,
        },
    )
    assert sent.status_code == 302
    body = OutboxMessage.objects.get(payload__to="new@example.jp").payload["body"]
    assert "next=" not in body
    assert "evil" not in body
    verify_link = local(link_in(body, "/account/verify/"))
    verified = client.post(verify_link, {"next": hostile})
    assert verified.status_code == 302
    assert verified["Location"] == "/account/login/"
    login = client.post(
        "/account/login/",
        {
            "username": "new@example.jp",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "next": hostile,
        },
    )
    assert login.status_code == 302
    assert login["Location"] == "/mypage/"


def test_a_taken_address_gets_a_login_link_that_leads_back_too(client, inu):
    resident_create("taken@example.jp", verified=True)
    start = apply_path(inu)
    client.post(
        "/account/signup/",
        {
            "email": "taken@example.jp",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "next": start,
        },
    )
    body = OutboxMessage.objects.get(payload__to="taken@example.jp").payload["body"]
    login_link = local(link_in(body, "/account/login/"))
    assert parse_qs(urlsplit(login_link).query)["next"] == [start]


# --- mail links: my page for an account, a signed status page for a guest --------------------


def test_an_account_holders_mails_link_to_my_page(inu, staff_member, settings):
    settings.PORTAL_URL = "https://madoguchi.example.jp"
    hanako = resident_create("hanako@example.jp", verified=True)
    application = send(inu, hanako)
    receipt = application.receipt_number
    mail = OutboxMessage.objects.get(payload__to="hanako@example.jp")
    assert f"https://madoguchi.example.jp/mypage/{receipt}/" in mail.payload["body"]
    application_transition(
        organisation=inu.organisation,
        application=application,
        to_status=ApplicationStatus.ACCEPTED,
        staff_user=staff_member.user,
        now=now(),
    )
    notices = OutboxMessage.objects.filter(payload__to="hanako@example.jp").order_by("id")
    assert all(f"/mypage/{receipt}/" in m.payload["body"] for m in notices)


def test_a_guests_mails_link_to_a_signed_status_page_and_never_to_a_my_page(
    client, inu, staff_member
):
    application = send(inu, None, contact_email="guest@example.jp")
    for status in (ApplicationStatus.ACCEPTED, ApplicationStatus.IN_REVIEW):
        application = application_transition(
            organisation=inu.organisation,
            application=application,
            to_status=status,
            staff_user=staff_member.user,
            now=now(),
        )
    correction_request(
        organisation=inu.organisation,
        application=application,
        staff_user=staff_member.user,
        body="確認してください。",
        fields=[next(iter(valid_answers(inu)))],
        now=now(),
    )
    mails = list(OutboxMessage.objects.filter(payload__to="guest@example.jp").order_by("id"))
    assert len(mails) == 2
    for mail in mails:
        assert "マイページ" not in mail.payload["body"]
        link = local(link_in(mail.payload["body"], "/status/"))
        page = Client().get(link)  # any browser: the link is the key
        assert page.status_code == 200
        text = page.content.decode()
        assert application.receipt_number in text
        assert "補正依頼中" in text
        assert page["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "token",
    ["", "abc", "abc.def.ghi", "x" * 400, "%00", "..%2f..%2f", "'\"><script>"],
)
def test_a_forged_status_link_is_a_plain_404(client, db, token):
    response = client.get(f"/status/{token}/") if token else client.get("/status//")
    assert response.status_code == 404


def test_a_status_link_never_opens_an_application_sent_from_an_account(client, inu):
    hanako = resident_create("hanako@example.jp", verified=True)
    application = send(inu, hanako)
    token = guest_status_token_make(application)
    assert client.get(f"/status/{token}/").status_code == 404


def test_the_guest_is_not_asked_for_the_address_just_proved(client, inu):
    client.post(f"/o/141003/procedures/{inu.pk}/apply/guest/", {"email": "guest@example.jp"})
    body = OutboxMessage.objects.get(payload__to="guest@example.jp").payload["body"]
    link = local(link_in(body, "/guest/"))
    client.post(link)
    spec = form_spec(inu.form_version)
    (step,) = [s for s in spec.steps if any(f.type == "email" for f in s.fields)]
    form = client.get(f"/o/141003/procedures/{inu.pk}/apply/", {"step": step.key})
    assert form.status_code == 200
    assert 'value="guest@example.jp"' in form.content.decode()


# --- statuses in Japanese ---------------------------------------------------------------------

RAW_CODES = re.compile(
    r"(?<![\w/.\-\"'=])(" + "|".join(ApplicationStatus.values) + r")(?![\w\-\"'])"
)


def visible_text(html: str) -> str:
    """What a person reads: tags, attributes, scripts and styles removed."""
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_resident_pages_never_show_a_raw_status_code(client, inu, staff_member, language):
    hanako = resident_create("hanako@example.jp", verified=True)
    mine = send(inu, hanako)
    guest = send(inu, None, contact_email="guest@example.jp")
    for application in (mine, guest):
        for status in (ApplicationStatus.ACCEPTED, ApplicationStatus.IN_REVIEW):
            application = application_transition(
                organisation=inu.organisation,
                application=application,
                to_status=status,
                staff_user=staff_member.user,
                now=now(),
            )
        correction_request(
            organisation=inu.organisation,
            application=application,
            staff_user=staff_member.user,
            body="確認してください。",
            fields=[next(iter(valid_answers(inu)))],
            now=now(),
        )
    client.cookies["django_language"] = language
    client.force_login(hanako)
    pages = ["/mypage/", f"/mypage/{mine.receipt_number}/"]
    pages.append(f"/status/{guest_status_token_make(guest)}/")
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        text = visible_text(response.content.decode())
        assert RAW_CODES.search(text) is None, (url, RAW_CODES.search(text))
    if language == "ja":
        detail = visible_text(client.get(f"/mypage/{mine.receipt_number}/").content.decode())
        for label in ("受付", "審査中", "補正依頼中"):
            assert label in detail


# --- the organisation's own contact details ---------------------------------------------------


def test_without_contact_details_the_procedure_page_invents_none(client, inu):
    page = client.get(f"/o/141003/procedures/{inu.pk}/").content.decode()
    assert "の窓口にお問い合わせください" not in page


def test_an_admin_sets_contact_details_that_residents_see(client, inu, admin_client):
    response = admin_client.post(
        "/console/admin/contact/",
        {
            "desk_name": "横浜市 市民課",
            "phone": "０４５－６７１－２１２１",
            "email": "madoguchi@city.yokohama.example.jp",
            "address": "横浜市中区本町6-50-10",
            "hours": "平日 8時45分〜17時15分",
            "terms": "第1条 この規約は…",
            "privacy": "個人情報は申請の処理にだけ使います。",
        },
    )
    assert response.status_code == 302
    contact = OrganisationContact.objects.get(organisation__lg_code="141003")
    assert contact.phone == "045-671-2121"
    assert AuditEvent.objects.filter(action="organisation.contact_updated").exists()
    for url in (f"/o/141003/procedures/{inu.pk}/", "/o/141003/"):
        page = client.get(url).content.decode()
        for text in (
            "横浜市 市民課",
            "045-671-2121",
            "平日 8時45分〜17時15分",
            "利用規約",
            "個人情報は申請の処理にだけ使います。",
        ):
            assert text in page, (url, text)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "call me maybe", "電話番号は"),
        ("phone", "0" * 30, "電話番号は"),
        ("email", "not-an-address", "メールアドレスの形式"),
        ("desk_name", "窓" * 101, "窓口名は100文字以内"),
        ("terms", "あ" * 20001, "利用規約は20000文字以内"),
        ("hours", "平日\x00", "使えない文字"),
    ],
)
def test_hostile_contact_input_is_refused_in_japanese_and_changes_nothing(
    admin_client, organisation, field, value, message
):
    admin_client.post("/console/admin/contact/", {"desk_name": "市民課", "phone": "045-000-0000"})
    before = OrganisationContact.objects.values().get(organisation=organisation)
    response = admin_client.post(
        "/console/admin/contact/", {"desk_name": "市民課", "phone": "045-000-0000", field: value}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert OrganisationContact.objects.values().get(organisation=organisation) == before


def test_a_reviewer_cannot_change_the_contact_details(staff_client, organisation):
    response = staff_client.post("/console/admin/contact/", {"desk_name": "偽の窓口"})
    assert response.status_code in (403, 404)
    assert not OrganisationContact.objects.filter(organisation=organisation).exists()


# --- the prefecture portal -------------------------------------------------------------------


def test_the_prefecture_portal_lists_organisations_that_apply_online_first(client, inu):
    procedure_publish(Organisation.objects.get(lg_code="141003"), "juminhyo")
    procedure_publish(Organisation.objects.get(lg_code="142042"), "juminhyo")
    page = client.get("/p/14/").content.decode()
    online = page.index("オンラインで申請できる団体（2団体）")
    first_section = page[online : page.index("すべての市区町村")]
    assert first_section.index("横浜市") < first_section.index("鎌倉市")  # 2 procedures before 1
    assert "（2手続）" in first_section
    assert "（1手続）" in first_section
    assert "逗子市" not in first_section


# --- English where residents meet it (item 13) ------------------------------------------------


def english(client: Client) -> Client:
    client.cookies["django_language"] = "en"
    return client


def test_the_apply_flow_reads_in_english_and_marks_the_forms_japanese_words(client, inu):
    english(client)
    start = client.get(apply_path(inu)).content.decode()
    assert "Apply without an account" in start
    assert "Log in and apply" in start
    assert "アカウントを作らずに申請する" not in start

    client.post(f"/o/141003/procedures/{inu.pk}/apply/guest/", {"email": "guest@example.jp"})
    mail = OutboxMessage.objects.get(payload__to="guest@example.jp").payload
    assert "Confirm your e-mail address" in mail["subject"]
    assert "without an account" in mail["body"]
    client.post(local(link_in(mail["body"], "/guest/")))

    page = client.get(f"/o/141003/procedures/{inu.pk}/apply/").content.decode()
    assert '<html lang="en">' in page
    assert ">Next</button>" in page
    assert "This form has no English version yet" in page
    # The template's own questions stay Japanese, inside an element marked lang="ja".
    fields = page.split('<div lang="ja" id="step-fields">', 1)
    assert len(fields) == 2
    first_label = form_spec(inu.form_version).steps[0].fields[0].label
    assert first_label in fields[1].split("</form>", 1)[0]


def test_the_receipt_mail_and_my_page_follow_english(client, inu, staff_member):
    hanako = resident_create("hanako@example.jp", verified=True)
    english(client)
    client.force_login(hanako)
    application = send(inu, hanako, language="en")  # what the portal passes in English
    mail = OutboxMessage.objects.get(payload__to="hanako@example.jp").payload
    assert "Your application has been received" in mail["subject"]
    assert "You can follow your application" in mail["body"]
    for status in (ApplicationStatus.ACCEPTED, ApplicationStatus.IN_REVIEW):
        application = application_transition(
            organisation=inu.organisation,
            application=application,
            to_status=status,
            staff_user=staff_member.user,
            now=now(),
        )
    # A staff member's action (in a Japanese console) still writes to her in English.
    correction_request(
        organisation=inu.organisation,
        application=application,
        staff_user=staff_member.user,
        body="確認してください。",
        fields=[next(iter(valid_answers(inu)))],
        now=now(),
    )
    notice = OutboxMessage.objects.filter(payload__to="hanako@example.jp").latest("id").payload
    assert "Please correct your application" in notice["subject"]
    assert "has a notice about your application" in notice["body"]
    assert f"/mypage/{application.receipt_number}/" in notice["body"]
    index = client.get("/mypage/").content.decode()
    assert "Applications you sent (newest first)" in index
    assert "Correction requested" in index
    detail = client.get(f"/mypage/{application.receipt_number}/").content.decode()
    for words in ("Receipt number", "History", "Accepted", "Download the notice of arrival (PDF)"):
        assert words in detail
    # The procedure's name is data written in Japanese: shown as is, marked as Japanese.
    assert f'<h1 lang="ja">{inu.name}</h1>' in detail


def test_the_account_pages_follow_english(client, db):
    english(client)
    signup = client.get("/account/signup/").content.decode()
    assert "Sign up" in signup
    assert "Password (again, to check)" in signup
    bad = client.post("/account/signup/", {"email": "nope", "password": "x", "password_again": "y"})
    assert bad.status_code == 422
    assert "Enter a valid e-mail address" in bad.content.decode()
    login = client.get("/account/login/").content.decode()
    assert "Log in with e-mail address and password" in login
    client.post(
        "/account/signup/",
        {"email": "new@example.jp", "password": PASSWORD, "password_again": PASSWORD},
    )
    mail = OutboxMessage.objects.get(payload__to="new@example.jp").payload
    assert "Confirm your e-mail address" in mail["subject"]
    assert "The link is valid for 3 days." in mail["body"]


def test_a_guest_downloads_the_decision_from_the_status_link_and_nothing_else(client, inu):
    from madoguchi.applications.constants import IssuedDocumentKind
    from madoguchi.applications.models import IssuedDocument

    guest = send(inu, None, contact_email="guest@example.jp")
    other = send(inu, None, contact_email="other@example.jp")
    documents = [
        IssuedDocument.objects.create(
            organisation=inu.organisation,
            application=application,
            kind=IssuedDocumentKind.values[0],
            title="決定通知書",
            record=document_record_make(
                organisation=inu.organisation, pdf=b"%PDF-1.7 test", now=now()
            ),
            created_at=now(),
        )
        for application in (guest, other)
    ]
    token = guest_status_token_make(guest)
    page = client.get(f"/status/{token}/").content.decode()
    assert f"/status/{token}/documents/{documents[0].pk}.pdf" in page
    pdf = client.get(f"/status/{token}/documents/{documents[0].pk}.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert pdf["Cache-Control"] == "no-store"
    # Another application's document is not reachable with this link.
    assert client.get(f"/status/{token}/documents/{documents[1].pk}.pdf").status_code == 404


def test_the_admin_page_shows_what_is_stored_and_says_empty_fields_are_not_shown(admin_client):
    page = admin_client.get("/console/admin/contact/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "<h1>連絡先・利用規約・個人情報の取扱い</h1>" in text
    assert "空欄の項目は表示しません" in text
    admin_client.post("/console/admin/contact/", {"desk_name": "市民課", "hours": "平日"})
    again = admin_client.get("/console/admin/contact/").content.decode()
    assert 'value="市民課"' in again
