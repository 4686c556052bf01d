"""A resident applies through the pages: steps, drafts, files, confirmation, receipt, my page."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.models import Application, Attachment, Draft
from madoguchi.applications.workflow import application_transition, correction_request
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import now
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.models import ResidentProfile, User
from madoguchi.notifications.models import OutboxMessage
from madoguchi.notifications.ratelimit import CLIENT_LIMITS, RECIPIENT_LIMITS
from madoguchi.tenants.models import Organisation
from madoguchi.testing import posted_answers, procedure_publish, valid_answers

PASSWORD = "correct horse battery 42"


def adopt(slug: str, code: str = "141003") -> Procedure:
    return procedure_publish(Organisation.objects.get(lg_code=code), slug)


@pytest.fixture
def templates(db):
    """The national templates (loaded once per session by the root conftest)."""


@pytest.fixture
def juminhyo(templates):
    return adopt("juminhyo")


@pytest.fixture
def inu(templates):
    return adopt("inu-toroku")


def make_resident(email: str = "hanako@example.jp") -> User:
    user = User.objects.create_user(email, PASSWORD)
    user.email_verified_at = now()
    user.save(update_fields=["email_verified_at"])
    return user


@pytest.fixture
def resident(db):
    return make_resident()


@pytest.fixture
def resident_client(client: Client, resident: User) -> Client:
    client.force_login(resident)
    return client


def base(procedure: Procedure) -> str:
    return f"/o/{procedure.organisation.lg_code}/procedures/{procedure.pk}/apply/"


def flatten(answers: dict[str, Any], spec) -> dict[str, Any]:
    """Answers as the browser posts them (nested names joined with dots)."""
    return posted_answers(answers, spec)


def without_files(procedure: Procedure) -> dict[str, Any]:
    spec = form_spec(procedure.form_version)
    kinds = {f.key for f in spec.fields if f.type == "attachment"}
    return {k: v for k, v in valid_answers(procedure).items() if k not in kinds}


def fill_all_steps(client: Client, procedure: Procedure, answers: dict[str, Any]) -> Any:
    spec = form_spec(procedure.form_version)
    data = flatten(answers, spec)
    response = None
    for step in spec.steps:
        response = client.post(base(procedure), {**data, "_step": step.key})
        assert response.status_code == 302, response.content.decode()[:3000]
    assert response is not None
    assert response["Location"].endswith("confirm/")
    return response


def confirm_and_send(client: Client, procedure: Procedure) -> tuple[Any, str]:
    page = client.get(base(procedure) + "confirm/")
    assert page.status_code == 200
    html = page.content.decode()
    key = found(r'name="idempotency_key" value="([^"]+)"', html)
    version = found(r'name="form_version" value="([^"]+)"', html)
    response = client.post(
        base(procedure) + "confirm/", {"idempotency_key": key, "form_version": version}
    )
    return response, key


def found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, pattern
    return match.group(1)


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_the_procedure_page_leads_to_applying(client, templates):
    juminhyo = procedure_publish(
        Organisation.objects.get(lg_code="141003"), "juminhyo", as_shipped=True
    )
    page = client.get(f"/o/141003/procedures/{juminhyo.pk}/")
    assert base(juminhyo) + "start/" in page.content.decode()
    start = client.get(base(juminhyo) + "start/")
    assert start.status_code == 200
    text = start.content.decode()
    assert "ログインして申請する" in text
    # 住民票 needs a My Number card: no way in without an account.
    assert "アカウントを作らずに申請する" not in text
    assert client.get(base(juminhyo) + "guest/").status_code == 404


def test_a_resident_applies_and_gets_receipt_pdf_mail_and_my_page(resident_client, juminhyo):
    answers = without_files(juminhyo)
    fill_all_steps(resident_client, juminhyo, answers)
    confirm = resident_client.get(base(juminhyo) + "confirm/")
    assert "この内容で申請する" in confirm.content.decode()

    response, _ = confirm_and_send(resident_client, juminhyo)

    assert response.status_code == 302
    application = Application.objects.get()
    assert response["Location"] == f"/applications/{application.receipt_number}/done/"
    done = resident_client.get(response["Location"])
    assert application.receipt_number in done.content.decode()
    assert "到達日時" in done.content.decode()
    pdf = resident_client.get(f"/applications/{application.receipt_number}/receipt.pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    mail = OutboxMessage.objects.get(payload__to="hanako@example.jp")
    assert application.receipt_number in mail.payload["subject"]
    mypage = resident_client.get("/mypage/")
    assert application.receipt_number in mypage.content.decode()
    detail = resident_client.get(f"/mypage/{application.receipt_number}/")
    assert detail.status_code == 200
    assert "到達" in detail.content.decode()
    assert not Draft.objects.exists()


def test_sending_twice_makes_one_application_with_one_receipt(resident_client, juminhyo):
    fill_all_steps(resident_client, juminhyo, without_files(juminhyo))
    page = resident_client.get(base(juminhyo) + "confirm/").content.decode()
    key = found(r'name="idempotency_key" value="([^"]+)"', page)
    data = {"idempotency_key": key, "form_version": str(juminhyo.form_version_id)}
    first = resident_client.post(base(juminhyo) + "confirm/", data)
    second = resident_client.post(base(juminhyo) + "confirm/", data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Application.objects.count() == 1


def test_a_forged_key_or_stale_version_is_refused_without_storing(resident_client, juminhyo):
    fill_all_steps(resident_client, juminhyo, without_files(juminhyo))
    resident_client.get(base(juminhyo) + "confirm/")
    forged = resident_client.post(
        base(juminhyo) + "confirm/", {"idempotency_key": "<script>", "form_version": "1"}
    )
    assert forged.status_code == 302
    stale = resident_client.post(
        base(juminhyo) + "confirm/",
        {"idempotency_key": "a" * 24, "form_version": str(juminhyo.form_version_id + 999)},
        follow=True,
    )
    assert stale.status_code == 200
    assert "申請様式が更新されました" in stale.content.decode()
    assert not Application.objects.exists()


def test_each_step_is_checked_by_the_server(resident_client, juminhyo):
    spec = form_spec(juminhyo.form_version)
    first = spec.steps[0]
    response = resident_client.post(
        base(juminhyo), {"_step": first.key, "requester_phone": "電話<script>"}
    )
    assert response.status_code == 422
    text = response.content.decode()
    assert "入力内容に" in text
    assert "<script>" not in text


def test_a_draft_is_saved_and_resumed_without_my_number(resident, juminhyo):
    client = Client()
    client.force_login(resident)
    spec = form_spec(juminhyo.form_version)
    data = flatten(without_files(juminhyo), spec)
    response = client.post(base(juminhyo), {**data, "_step": spec.steps[0].key, "_save": "1"})
    assert response.status_code == 302
    draft = Draft.objects.get(applicant=resident)
    assert draft.answers

    later = Client()
    later.force_login(resident)
    page = later.get(base(juminhyo))
    assert "下書きから再開しています" in page.content.decode()
    assert later.get("/mypage/").content.decode().count(juminhyo.name) >= 1


def test_unknown_step_keys_fall_back_to_the_first_step(resident_client, juminhyo):
    response = resident_client.get(base(juminhyo) + "?step=../../etc/passwd")
    assert response.status_code == 200
    response = resident_client.post(base(juminhyo), {"_step": "\x00nope"})
    assert response.status_code in (302, 422)


def test_registered_details_fill_the_form_only_after_the_resident_agrees(
    resident_client, resident, juminhyo
):
    ResidentProfile.objects.create(
        user=resident,
        family_name="山田",
        given_name="花子",
        family_name_kana="ヤマダ",
        given_name_kana="ハナコ",
        phone="045-000-0000",
    )
    page = resident_client.get(base(juminhyo) + "start/")
    assert page.status_code == 200
    assert "登録している情報を使いますか" in page.content.decode()
    assert not Draft.objects.exists()
    resident_client.post(base(juminhyo) + "start/", {"prefill": "yes"})
    draft = Draft.objects.get()
    assert draft.answers["requester_name"]["family"] == "山田"
    assert draft.answers["requester_phone"] == "045-000-0000"


def test_declining_the_registered_details_starts_empty(resident_client, resident, juminhyo):
    ResidentProfile.objects.create(user=resident, family_name="山田", given_name="花子")
    resident_client.post(base(juminhyo) + "start/", {"prefill": "no"})
    assert Draft.objects.get().answers == {}


def test_a_guest_applies_with_a_confirmed_email_for_a_low_assurance_procedure(client, inu):
    start = client.get(base(inu) + "start/")
    assert "アカウントを作らずに申請する" in start.content.decode()
    bad = client.post(base(inu) + "guest/", {"email": "not an address\x00"})
    assert bad.status_code == 422
    assert "メールアドレスを正しく入力" in bad.content.decode()
    sent = client.post(base(inu) + "guest/", {"email": "guest@example.jp"})
    assert sent.status_code == 200
    mail = OutboxMessage.objects.get(payload__to="guest@example.jp")
    link = found(r"https?://[^/]+(/\S+)", mail.payload["body"])
    assert client.get(link).status_code == 200  # a button, not yet started
    assert client.post(link).status_code == 302

    fill_all_steps(client, inu, {**without_files(inu), "injection_tag_request": False})
    response, _ = confirm_and_send(client, inu)
    application = Application.objects.get()
    assert application.applicant is None
    assert application.contact_email == "guest@example.jp"
    assert client.get(response["Location"]).status_code == 200
    assert client.get(f"/applications/{application.receipt_number}/receipt.pdf").status_code == 200
    # Another browser cannot see it.
    assert Client().get(response["Location"]).status_code == 404


def test_25_confirmation_requests_for_one_address_send_only_a_few_mails(client, inu):
    """Finding 6: each request for the guest confirmation used to send a mail, unlimited."""
    answers = [client.post(base(inu) + "guest/", {"email": "victim@example.jp"}) for _ in range(25)]

    most = RECIPIENT_LIMITS[0][1]
    assert [answer.status_code for answer in answers[:most]] == [200] * most
    assert {answer.status_code for answer in answers[most:]} == {429}
    assert OutboxMessage.objects.filter(payload__to="victim@example.jp").count() == most
    page = answers[-1].content.decode()
    assert f"同じメールアドレスへは10分間に{most}通まで" in page
    assert "以降に、もう一度お試しください" in page
    assert 0 < int(answers[-1]["Retry-After"]) <= 600


def test_one_client_cannot_spray_confirmation_mails_over_many_addresses(client, inu):
    most = CLIENT_LIMITS[0][1]
    answers = [
        client.post(
            base(inu) + "guest/", {"email": f"person{n}@example.jp"}, REMOTE_ADDR="203.0.113.7"
        )
        for n in range(most + 1)
    ]

    assert [answer.status_code for answer in answers] == [200] * most + [429]
    assert f"同じ接続元からは1時間に{most}通まで" in answers[-1].content.decode()
    assert OutboxMessage.objects.count() == most
    other = client.post(base(inu) + "guest/", {"email": "x@example.jp"}, REMOTE_ADDR="198.51.100.9")
    assert other.status_code == 200


def test_a_tampered_guest_link_is_refused(client, inu):
    response = client.get(base(inu) + "guest/abc.def.ghi/")
    assert response.status_code == 400
    assert "このリンクは使えません" in response.content.decode()


def test_a_file_is_checked_stored_and_can_be_removed(resident_client, inu):
    spec = form_spec(inu.form_version)
    slot = next(f for f in spec.fields if f.type == "attachment")
    step = next(s for s in spec.steps if slot in s.fields)
    data = flatten(without_files(inu), spec)
    data.update({"kind": "register", "injection_tag_request": "yes"})
    upload = io.BytesIO(png_bytes())
    upload.name = "注射済証.png"
    response = resident_client.post(base(inu), {**data, "_step": step.key, slot.key: upload})
    assert response.status_code in (200, 302, 422)
    stored = Attachment.objects.get()
    assert stored.kind == "png"
    assert stored.owner is not None

    fake = io.BytesIO(b"<html><script>alert(1)</script></html>")
    fake.name = "証明書.pdf"
    refused = resident_client.post(base(inu), {**data, "_step": step.key, slot.key: fake})
    assert refused.status_code == 422
    assert Attachment.objects.count() == 1

    removed = resident_client.post(
        base(inu), {**data, "_step": step.key, "_remove_file": f"{slot.key}:{stored.pk.hex}"}
    )
    assert removed.status_code in (200, 302)
    assert not Attachment.objects.filter(pk=stored.pk).exists()


def test_staff_cannot_apply_as_residents(staff_client, juminhyo):
    assert staff_client.get(base(juminhyo) + "start/").status_code == 403


def test_posts_without_csrf_token_are_refused_politely(resident, juminhyo):
    client = Client(enforce_csrf_checks=True)
    client.force_login(resident)
    response = client.post(base(juminhyo), {"_step": "requester"})
    assert response.status_code == 403
    assert (
        "ページの有効期限" in response.content.decode() or "CSRF" not in response.content.decode()
    )


def test_a_closed_procedure_is_said_to_be_closed(resident_client, juminhyo):
    Procedure.objects.filter(pk=juminhyo.pk).update(reception_ends_at=now())
    response = resident_client.get(base(juminhyo))
    assert response.status_code == 409
    assert "受け付けていません" in response.content.decode()


@pytest.fixture
def sent(resident_client, juminhyo):
    fill_all_steps(resident_client, juminhyo, without_files(juminhyo))
    confirm_and_send(resident_client, juminhyo)
    return Application.objects.get()


@pytest.mark.parametrize(
    "url",
    [
        "/applications/{r}/done/",
        "/applications/{r}/receipt.pdf",
        "/mypage/{r}/",
        "/mypage/{r}/correct/",
        "/mypage/{r}/withdraw/",
        "/mypage/{r}/print/",
    ],
)
def test_another_resident_gets_404_for_every_page_of_my_application(sent, url):
    other = Client()
    other.force_login(make_resident("other@example.jp"))
    assert other.get(url.format(r=sent.receipt_number)).status_code == 404
    assert other.post(url.format(r=sent.receipt_number)).status_code in (404, 405)


def test_the_resident_answers_a_correction_on_my_page(resident_client, sent, staff_member):
    correction_request(
        organisation=sent.organisation,
        application=sent,
        staff_user=staff_member.user,
        body="電話番号がつながりません。確認してください。",
        fields=["requester_phone"],
        now=now(),
    )
    detail = resident_client.get(f"/mypage/{sent.receipt_number}/").content.decode()
    assert "補正のお願い" in detail
    assert "電話番号がつながりません" in detail
    form = resident_client.get(f"/mypage/{sent.receipt_number}/correct/")
    assert form.status_code == 200
    assert 'name="requester_phone"' in form.content.decode()
    bad = resident_client.post(
        f"/mypage/{sent.receipt_number}/correct/", {"requester_phone": "でんわ"}
    )
    assert bad.status_code == 422
    good = resident_client.post(
        f"/mypage/{sent.receipt_number}/correct/",
        {"requester_phone": "090-1111-2222", "note": "直しました"},
    )
    assert good.status_code == 302
    sent.refresh_from_db()
    assert sent.revision == 2
    assert sent.status == S.RESUBMITTED
    assert sent.answers["requester_phone"] == "09011112222"


def test_the_resident_withdraws_on_my_page(resident_client, sent, staff_member):
    application_transition(
        organisation=sent.organisation,
        application=sent,
        to_status=S.ACCEPTED,
        staff_user=staff_member.user,
        now=now(),
    )
    page = resident_client.get(f"/mypage/{sent.receipt_number}/withdraw/")
    assert "元に戻せません" in page.content.decode()
    response = resident_client.post(
        f"/mypage/{sent.receipt_number}/withdraw/", {"reason": "不要になりました"}
    )
    assert response.status_code == 302
    sent.refresh_from_db()
    assert sent.status == S.WITHDRAWN
    again = resident_client.post(f"/mypage/{sent.receipt_number}/withdraw/", {})
    assert again.status_code == 409
    assert "できません" in again.content.decode()


def test_a_life_event_checklist_fills_shared_answers_once(resident_client, resident, templates):
    moving = [adopt(slug) for slug in ("juminhyo", "suido-kaishi")]
    url = "/life-events/moving/o/141003/apply/"
    page = resident_client.get(url)
    assert page.status_code == 200
    for p in moving:
        assert p.name in page.content.decode()
    none = resident_client.post(url, {"_stage": "choose"})
    assert none.status_code == 422
    chosen = resident_client.post(
        url, {"_stage": "choose", "procedure": [str(p.pk) for p in moving]}
    )
    assert chosen.status_code == 302
    shared = resident_client.get(chosen["Location"])
    assert shared.status_code == 200
    response = resident_client.post(
        url + "?stage=shared",
        {
            "_stage": "shared",
            "person_name.family": "山田",
            "person_name.given": "花子",
            "person_name.family_kana": "やまだ",
            "person_name.given_kana": "はなこ",
            "phone": "045-000-0000",
            "address.postal_code": "2310023",
            "address.block": "1-1",
            "birth_date": "1985-04-01",
            "email": "hanako@example.jp",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    drafts = Draft.objects.filter(applicant=resident)
    assert drafts.count() == 2
    for draft in drafts:
        names = [v for v in draft.answers.values() if isinstance(v, dict) and "family" in v]
        assert names
        assert names[0]["family"] == "山田"


def test_the_confirmation_sends_back_to_the_first_incomplete_step_with_its_errors(
    resident_client, juminhyo
):
    response = resident_client.get(base(juminhyo) + "confirm/")
    assert response.status_code == 302
    assert "check=1" in response["Location"]
    page = resident_client.get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert "まだ入力されていない項目" in text
    assert "error-summary" in text
    assert not Application.objects.exists()


def test_the_decision_notice_is_on_my_page_for_its_applicant_only(
    resident_client, sent, organisation
):
    from madoguchi.applications.review import application_decide
    from madoguchi.identity.constants import StaffRole
    from madoguchi.identity.services import staff_upsert

    admin = staff_upsert(
        organisation=organisation,
        email="admin@yokohama.test",
        password="admin password 12345",
        role=StaffRole.ADMIN,
    )
    application_transition(
        organisation=organisation,
        application=sent,
        to_status=S.ACCEPTED,
        staff_user=admin.user,
        now=now(),
    )
    document = application_decide(
        organisation=organisation,
        application=sent,
        staff=admin,
        outcome="approve",
        reason="要件を満たしています。",
        expected_status=S.ACCEPTED,
        now=now(),
    )
    detail = resident_client.get(f"/mypage/{sent.receipt_number}/").content.decode()
    url = f"/mypage/{sent.receipt_number}/documents/{document.pk}.pdf"
    assert url in detail
    pdf = resident_client.get(url)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    other = Client()
    other.force_login(make_resident("other@example.jp"))
    assert other.get(url).status_code == 404
    assert (
        resident_client.get(f"/mypage/{sent.receipt_number}/documents/999999.pdf").status_code
        == 404
    )


def test_a_resident_issues_a_token_once_uses_it_and_revokes_it(resident_client, resident, juminhyo):
    from madoguchi.identity.models import AccessToken

    page = resident_client.post("/account/tokens/", {"name": "家計簿アプリ"})
    assert page.status_code == 200
    raw = found(r"<code class=\"secret\">(mdg_[^<]+)</code>", page.content.decode())
    assert raw not in resident_client.get("/account/tokens/").content.decode()  # shown once
    api = Client()
    listed = api.get("/api/v1/applications/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert listed.status_code == 200
    token = AccessToken.objects.get(user=resident)
    other = Client()
    other.force_login(make_resident("other@example.jp"))
    other.post("/account/tokens/", {"revoke": str(token.pk)})
    assert api.get("/api/v1/applications/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    resident_client.post("/account/tokens/", {"revoke": str(token.pk)})
    assert api.get("/api/v1/applications/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    bad = resident_client.post("/account/tokens/", {"name": "あ" * 101})
    assert bad.status_code == 422
    assert AccessToken.objects.filter(user=resident).count() == 1


# --- One upload for applying and for answering a correction ------------------------------------


def named(data: bytes, name: str) -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = name
    return upload


OVERSIZE = b"%PDF-1.7\n" + bytes(10 * 1024 * 1024)  # the field allows 10 MB
BIDI_NAME = "請求書\u202etxt.exe\u202c.pdf"  # a right-to-left override hides ".exe"


def upload_when_applying(client: Client, procedure: Procedure, files: list[io.BytesIO]) -> str:
    spec = form_spec(procedure.form_version)
    step = next(s for s in spec.steps if any(f.key == "residence_document" for f in s.fields))
    data = flatten(without_files(procedure), spec)
    response = client.post(
        base(procedure), {**data, "_step": step.key, "residence_document": files}
    )
    return str(response.content.decode())


def upload_in_correction(client: Client, application: Application, files: list[io.BytesIO]) -> str:
    response = client.post(
        f"/mypage/{application.receipt_number}/correct/", {"residence_document": files}
    )
    assert response.status_code == 422
    return str(response.content.decode())


@pytest.fixture
def correcting(sent, staff_member):
    correction_request(
        organisation=sent.organisation,
        application=sent,
        staff_user=staff_member.user,
        body="送付先に住んでいることがわかる書類を添付してください。",
        fields=["residence_document"],
        now=now(),
    )
    return sent


def test_a_correction_refuses_more_files_than_the_field_takes(resident_client, correcting):
    files = [named(png_bytes(), f"書類{n}.png") for n in range(5)]  # the field takes 3
    page = upload_in_correction(resident_client, correcting, files)
    assert "この項目に添付できるファイルは3個までです" in page
    assert Attachment.objects.count() == 3  # the two beyond were never stored
    correcting.refresh_from_db()
    assert correcting.revision == 1  # nothing sent


def test_a_correction_refuses_an_oversize_file_by_name_as_applying_does(
    resident_client, correcting, juminhyo
):
    message = "大きな書類.pdf: ファイルが大きすぎます（10MB）。10MB以下にしてから添付してください。"
    assert message in upload_in_correction(
        resident_client, correcting, [named(OVERSIZE + b"!", "大きな書類.pdf")]
    )
    assert message in upload_when_applying(
        resident_client, juminhyo, [named(OVERSIZE + b"!", "大きな書類.pdf")]
    )
    assert Attachment.objects.count() == 0


def test_a_correction_shows_a_refused_file_name_cleaned_as_applying_does(
    resident_client, correcting, juminhyo
):
    hostile = b"<html><script>alert(1)</script></html>"
    shown = "請求書txt.exe.pdf: ファイルの中身がPDFではありません。"
    for page in (
        upload_in_correction(resident_client, correcting, [named(hostile, BIDI_NAME)]),
        upload_when_applying(resident_client, juminhyo, [named(hostile, BIDI_NAME)]),
    ):
        assert shown in page
        assert "\u202e" not in page
    assert Attachment.objects.count() == 0


# --- Hostile requests and saved details (issue 9, findings 7, 9 and 10) -----------------------


@pytest.mark.parametrize("version", ["①", "²", "٣", "３", "9" * 40, "-1", "0"])
def test_a_form_version_that_is_not_ascii_digits_is_refused_with_a_message(
    resident_client, juminhyo, version
):
    fill_all_steps(resident_client, juminhyo, without_files(juminhyo))
    page = resident_client.get(base(juminhyo) + "confirm/").content.decode()
    key = found(r'name="idempotency_key" value="([^"]+)"', page)

    response = resident_client.post(
        base(juminhyo) + "confirm/", {"idempotency_key": key, "form_version": version}
    )

    assert response.status_code == 302
    assert response["Location"].endswith("confirm/")
    assert not Application.objects.exists()
    again = resident_client.get(response["Location"])
    assert "申請様式の指定が正しくありません" in again.content.decode()
    sent, _key = confirm_and_send(resident_client, juminhyo)
    assert sent.status_code == 302
    assert Application.objects.count() == 1


@pytest.mark.parametrize("index", ["①", "²", "٣", "9" * 40])
def test_group_indexes_that_are_not_ascii_digits_never_give_a_server_error(
    resident_client, juminhyo, index
):
    fill_all_steps(resident_client, juminhyo, without_files(juminhyo))

    posted = resident_client.post(
        base(juminhyo) + "?step=certificate",
        {"_step": "certificate", f"members.{index}.name.family": "攻撃", "_save": "1"},
    )
    removed = resident_client.post(
        base(juminhyo) + "?step=certificate",
        {"_step": "certificate", "_remove": f"members.{index}"},
    )

    assert posted.status_code == 302
    assert removed.status_code in (302, 422)
    assert "攻撃" not in str(Draft.objects.get().answers)


def test_nul_characters_in_a_step_are_removed_before_the_draft_is_stored(resident_client, juminhyo):
    response = resident_client.post(
        base(juminhyo),
        {
            "_step": "requester",
            "requester_name.family": "山\x00田",
            "requester_name.given": "\x00",
            "requester_phone": "045\x00-000-0000",
            "_save": "1",
        },
    )

    assert response.status_code == 302
    answers = Draft.objects.get().answers
    assert answers["requester_name"]["family"] == "山田"
    assert answers["requester_phone"] == "045-000-0000"
    assert "\x00" not in str(answers)


HOSTILE_PROFILES = {
    "address without prefecture or city": {"postal_code": "231-0021", "address": "中区日本大通1"},
    "address of another town": {"postal_code": "2310021", "address": "東京都千代田区1-1"},
    "address only spaces": {"postal_code": "2310021", "address": "\u3000 "},
    "full-width postal code": {"postal_code": "２３１００２１", "address": "日本大通1"},
    "postal code of nowhere": {"postal_code": "0000000", "address": "どこか1-1"},
    "postal code not digits": {"postal_code": "①②③-④⑤", "address": "横浜市中区1"},
    "postal code letters": {"postal_code": "abc", "address": ""},
    "invisible address": {"postal_code": "2310021", "address": "\u200b\ufeff"},
    "bidi override": {"postal_code": "2310021", "address": "横浜市中区\u202e1"},
    "garbled": {"postal_code": "2310021", "address": "\ufffd\ufffd"},
}


@pytest.mark.parametrize("saved", HOSTILE_PROFILES.values(), ids=HOSTILE_PROFILES.keys())
def test_whatever_address_was_saved_the_form_opens_and_the_resident_fills_the_rest(
    resident_client, resident, juminhyo, saved
):
    ResidentProfile.objects.create(
        user=resident, family_name="山田", given_name="花子", phone="045-000-0000", **saved
    )

    page = resident_client.get(base(juminhyo) + "start/")
    assert page.status_code == 200
    assert "登録している情報を使いますか" in page.content.decode()
    assert resident_client.post(base(juminhyo) + "start/", {"prefill": "yes"}).status_code == 302
    assert Draft.objects.get().answers["requester_name"]["family"] == "山田"
    step = resident_client.get(base(juminhyo))
    assert step.status_code == 200
    checked = resident_client.get(base(juminhyo) + "?step=requester&check=1")
    assert checked.status_code == 200


def test_a_saved_address_without_the_city_fills_what_the_postal_code_says(
    resident_client, resident, juminhyo
):
    ResidentProfile.objects.create(
        user=resident, family_name="山田", postal_code="231-0021", address="中区日本大通1"
    )

    resident_client.post(base(juminhyo) + "start/", {"prefill": "yes"})

    address = Draft.objects.get().answers["requester_address"]
    assert address["postal_code"] == "2310021"
    assert (address["prefecture"], address["city"]) == ("神奈川県", "横浜市中区")
    assert address["block"] == ""  # not guessed: the resident types it


def test_a_saved_address_that_starts_with_the_city_is_split(resident_client, resident, juminhyo):
    ResidentProfile.objects.create(
        user=resident, family_name="山田", postal_code="2310021", address="横浜市中区日本大通1"
    )

    resident_client.post(base(juminhyo) + "start/", {"prefill": "yes"})

    address = Draft.objects.get().answers["requester_address"]
    assert address["town"] == "日本大通"
    assert address["block"] == "1"


@pytest.mark.parametrize("value", ["①", "²", "٣", "9" * 40, ""])
def test_a_life_event_checklist_refuses_procedure_ids_that_are_not_ascii_digits(
    resident_client, templates, value
):
    moving = adopt("juminhyo")
    url = "/life-events/moving/o/141003/apply/"

    response = resident_client.post(url, {"_stage": "choose", "procedure": [str(moving.pk), value]})

    assert response.status_code == 422
    assert "手続の指定が正しくありません" in response.content.decode()
