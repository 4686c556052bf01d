"""Counter staff register counter and mail applications in the console, and open a resident's
draft with the QR code or short code the resident shows (書かない窓口)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.applications.models import Application, CounterHandoff, Draft
from madoguchi.applications.received import counter_handoff_issue, received_form_spec
from madoguchi.applications.services import draft_save
from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.constants import StaffRole
from madoguchi.testing import console_login, staff_create, valid_answers

NAME = {"family": "窓口", "given": "花子", "family_kana": "マドグチ", "given_kana": "ハナコ"}


def flat(answers: dict[str, Any]) -> list[tuple[str, str]]:
    """Answers as the form posts them (names as forms.rendering.input_name makes them)."""
    out: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}", v)
        elif isinstance(value, list):
            if value and all(isinstance(v, dict) for v in value):
                for i, v in enumerate(value):
                    walk(f"{prefix}.{i}", v)
            else:
                out.extend((prefix, str(v)) for v in value)
        elif value is not None:
            out.append((prefix, "yes" if value is True else "no" if value is False else str(value)))

    for key, value in answers.items():
        walk(key, value)
    return out


def full_answers(procedure: Any) -> dict[str, Any]:
    keys = {f.key for f in received_form_spec(form_spec(procedure.form_version), "full").fields}
    answers = {k: v for k, v in valid_answers(procedure).items() if k in keys}
    answers["requester_name"] = dict(NAME)
    return answers


def post_data(answers: dict[str, Any], **own: Any) -> dict[str, Any]:
    data: dict[str, list[str]] = {}
    for name, value in flat(answers):
        data.setdefault(name, []).append(value)
    base = {
        "form": "full",
        "channel": "counter",
        "received_date": to_tokyo(now()).date().isoformat(),
        "documents": ["my_number_card"],
        "idempotency_key": "counter-test-key-0001",
    }
    base.update(own)
    return {**data, **base}


def url(procedure: Any) -> str:
    return reverse("console:counter_register", args=[procedure.pk])


def test_staff_register_a_counter_application_and_land_on_its_page(staff_client, procedure):
    start = staff_client.get(reverse("console:counter"))
    assert start.status_code == 200
    assert procedure.name in start.content.decode()
    chosen = staff_client.get(
        reverse("console:counter"), {"procedure": procedure.pk, "form": "full"}
    )
    assert chosen.status_code == 302
    page = staff_client.get(chosen["Location"])
    assert page.status_code == 200
    assert 'name="requester_name.family"' in page.content.decode()

    data = post_data(full_answers(procedure), _action="confirm")
    confirm = staff_client.post(url(procedure), data)
    text = confirm.content.decode()
    assert confirm.status_code == 200, text[:3000]
    assert "受付内容の確認" in text
    assert not Application.objects.exists()

    carried = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', text)
    again: dict[str, list[str]] = {}
    for name, value in carried:
        if name != "csrfmiddlewaretoken":
            again.setdefault(name, []).append(value.replace("&amp;", "&").replace("&quot;", '"'))
    again["_action"] = ["register"]
    done = staff_client.post(url(procedure), again)
    assert done.status_code == 302
    application = Application.objects.get()
    assert done["Location"] == reverse("console:application", args=[application.pk])
    assert application.channel == "counter"
    assert application.ial == 2
    # A second click on 「登録する」 shows the same application, never a second one.
    twice = staff_client.post(url(procedure), again)
    assert twice.status_code == 302
    assert Application.objects.count() == 1

    detail = staff_client.get(done["Location"]).content.decode()
    assert "窓口で受付" in detail
    assert "マイナンバーカード" in detail
    assert "審査 一郎" in detail  # who registered it
    assert to_tokyo(application.arrived_at).date().isoformat() in detail
    inbox = staff_client.get(reverse("console:inbox"), {"channel": "counter"}).content.decode()
    assert application.receipt_number in inbox
    assert "窓口" in inbox


def test_a_mail_application_with_the_short_form(staff_client, procedure):
    arrived = (to_tokyo(now()).date() - timedelta(days=2)).isoformat()
    data = post_data(
        {
            "requester_name": NAME,
            "requester_birth_date": "1980-04-01",
            "requester_address": {
                "postal_code": "231-0017",
                "prefecture": "神奈川県",
                "city": "横浜市中区",
                "town": "港町",
                "block": "1-1",
            },
        },
        form="short",
        channel="mail",
        received_date=arrived,
        documents=["mail_copy"],
        summary="郵送の請求書（2通）",
        _action="register",
    )
    response = staff_client.post(url(procedure), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    application = Application.objects.get()
    assert application.channel == "mail"
    detail = staff_client.get(response["Location"]).content.decode()
    assert "郵送で受付" in detail
    assert arrived in detail


@pytest.mark.parametrize(
    ("own", "message"),
    [
        ({"received_date": "2025-13-45"}, "受付日"),
        ({"received_date": "<script>alert(1)</script>"}, "受付日"),
        ({"received_date": "9999-01-01"}, "未来の日付"),
        ({"channel": "fax"}, "受付方法"),
        ({"documents": ["x" * 5000]}, "本人確認書類"),
        ({"summary": "あ" * 100_000}, "2000文字以内"),
        ({"contact_email": "x@" + "y" * 3000}, "メールアドレス"),
        ({"idempotency_key": "short"}, "識別子"),
        ({"form": "short", "summary": ""}, "概要"),
    ],
)
def test_hostile_posts_get_a_japanese_message_and_store_nothing(
    staff_client, procedure, own, message
):
    data = post_data(full_answers(procedure), _action="register", **own)
    response = staff_client.post(url(procedure), data)
    assert response.status_code in (409, 422)
    assert message in response.content.decode()
    assert not Application.objects.exists()


def test_a_huge_answer_is_refused(staff_client, procedure):
    answers = full_answers(procedure)
    answers["requester_name"] = {**NAME, "family": "窓" * 50_000}
    response = staff_client.post(url(procedure), post_data(answers, _action="confirm"))
    assert response.status_code == 422
    assert not Application.objects.exists()


def test_unknown_or_foreign_procedures_are_not_found(
    staff_client, procedure, other_organisation, other_staff
):
    start = staff_client.get(reverse("console:counter"), {"procedure": "99999999"})
    assert start.status_code == 400
    assert "手続を一覧から選んでください" in start.content.decode()
    garbage = staff_client.get(reverse("console:counter"), {"procedure": "../../etc"})
    assert garbage.status_code == 400
    assert staff_client.get(reverse("console:counter_register", args=[99999999])).status_code == 404
    other = console_login(Client(), other_staff.user)
    assert other.get(url(procedure)).status_code == 404
    assert other.post(url(procedure), post_data(full_answers(procedure))).status_code == 404
    assert not Application.objects.exists()


def test_a_viewer_cannot_register(procedure, organisation):
    viewer = staff_create(organisation, email="viewer@yokohama.test", role=StaffRole.VIEWER)
    client = console_login(Client(), viewer.user)
    assert client.get(reverse("console:counter")).status_code == 403
    response = client.post(url(procedure), post_data(full_answers(procedure), _action="register"))
    assert response.status_code == 403
    assert not Application.objects.exists()


# --- 書かない窓口 -------------------------------------------------------------------------


@pytest.fixture
def draft(procedure, resident) -> Draft:
    return draft_save(
        organisation=procedure.organisation,
        procedure=procedure,
        applicant=resident,
        answers=full_answers(procedure),
        step="",
        now=now(),
    )


def test_the_resident_shows_a_qr_code_and_staff_finish_the_application(
    staff_client, procedure, resident, draft
):
    client = Client()  # the resident's own browser
    resident.email_verified_at = now()
    resident.save(update_fields=["email_verified_at"])
    client.force_login(resident)
    mypage = client.get(reverse("portal:apply:mypage")).content.decode()
    link = reverse("portal:apply:mypage_draft_counter", args=[draft.pk])
    assert link in mypage
    assert client.get(link).status_code == 200
    shown = client.post(link).content.decode()
    assert "<svg" in shown
    assert "窓口でこのコードを見せてください" in shown
    code = re.search(r"コード: <strong[^>]*>([A-Z0-9]{4}-[A-Z0-9]{4})</strong>", shown)
    assert code is not None

    opened = staff_client.post(reverse("console:counter_code"), {"code": code.group(1)})
    text = opened.content.decode()
    assert opened.status_code == 200
    assert "住民の方の下書きから開きました" in text
    assert 'value="窓口"' in text  # the draft's answers are filled in
    secret = re.search(r'name="handoff" value="([^"]+)"', text)
    assert secret is not None

    data = post_data(full_answers(procedure), _action="register", handoff=secret.group(1))
    done = staff_client.post(url(procedure), data)
    assert done.status_code == 302
    application = Application.objects.get()
    assert application.applicant_id == resident.pk
    assert not Draft.objects.exists()
    assert not CounterHandoff.objects.exists()
    assert application.receipt_number in client.get(reverse("portal:apply:mypage")).content.decode()


def test_the_qr_url_opens_the_draft_for_its_organisation_only(
    staff_client, other_staff, procedure, resident, draft
):
    issued = counter_handoff_issue(applicant=resident, draft_id=draft.pk, now=now())
    qr = reverse("console:counter_handoff", args=[issued.token])
    other = console_login(Client(), other_staff.user)
    foreign = other.get(qr)
    assert foreign.status_code == 404
    assert "マドグチ" not in foreign.content.decode()  # nothing of the draft
    assert staff_client.get(qr).status_code == 200
    assert AuditEvent.objects.filter(action="counter_handoff.opened").count() == 1


def test_expired_reused_garbage_and_deleted_codes_are_explained(
    staff_client, procedure, resident, draft
):
    issued = counter_handoff_issue(
        applicant=resident, draft_id=draft.pk, now=now() - timedelta(hours=25)
    )
    expired = staff_client.get(reverse("console:counter_handoff", args=[issued.token]))
    assert expired.status_code == 400
    assert "有効期限" in expired.content.decode()

    garbage = staff_client.get(reverse("console:counter_handoff", args=["garbage!"]))
    assert garbage.status_code == 400
    assert "このコードは使えません" in garbage.content.decode()

    fresh = counter_handoff_issue(applicant=resident, draft_id=draft.pk, now=now())
    Draft.objects.all().delete()
    gone = staff_client.post(reverse("console:counter_code"), {"code": fresh.code})
    assert gone.status_code == 400
    assert "すでに削除されたか送信されています" in gone.content.decode()
    register = staff_client.post(
        url(procedure), post_data(full_answers(procedure), _action="register", handoff=fresh.code)
    )
    assert register.status_code == 409
    assert "結び付けずに受け付ける" in register.content.decode()
    assert not Application.objects.exists()


def test_a_used_code_cannot_be_used_again(staff_client, procedure, resident, draft):
    issued = counter_handoff_issue(applicant=resident, draft_id=draft.pk, now=now())
    data = post_data(full_answers(procedure), _action="register", handoff=issued.token)
    assert staff_client.post(url(procedure), data).status_code == 302
    reused = staff_client.get(reverse("console:counter_handoff", args=[issued.token]))
    assert reused.status_code == 400
    assert "このコードは使えません" in reused.content.decode()


def test_typing_codes_is_rate_limited(staff_client, procedure):
    for _ in range(10):
        response = staff_client.post(reverse("console:counter_code"), {"code": "ACDE-FGHJ"})
        assert response.status_code == 400
    limited = staff_client.post(reverse("console:counter_code"), {"code": "ACDE-FGHJ"})
    assert limited.status_code == 429
    assert "しばらく" in limited.content.decode()


def test_a_resident_cannot_show_another_residents_draft(client, other_resident, draft):
    other_resident.email_verified_at = now()
    other_resident.save(update_fields=["email_verified_at"])
    client.force_login(other_resident)
    link = reverse("portal:apply:mypage_draft_counter", args=[draft.pk])
    assert client.get(link).status_code == 404
    assert client.post(link).status_code == 404
    assert not CounterHandoff.objects.exists()


def test_staff_attach_the_scanned_paper_form(staff_client, procedure):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from madoguchi.testing import png_bytes

    data = post_data(full_answers(procedure), _action="confirm")
    data["paper_form"] = SimpleUploadedFile("申請書.png", png_bytes(), content_type="image/png")
    confirm = staff_client.post(url(procedure), data)
    text = confirm.content.decode()
    assert confirm.status_code == 200
    assert "スキャンした申請書" in text
    paper_id = re.search(r'name="paper_form_id" value="([0-9a-f]{32})"', text)
    assert paper_id is not None
    data.pop("paper_form")
    data.update(_action="register", paper_form_id=paper_id.group(1))
    done = staff_client.post(url(procedure), data)
    assert done.status_code == 302
    detail = staff_client.get(done["Location"]).content.decode()
    assert "申請書.png" in detail


def test_a_file_that_is_not_a_scan_is_refused(staff_client, procedure):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = post_data(full_answers(procedure), _action="register")
    data["paper_form"] = SimpleUploadedFile("scan.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")
    response = staff_client.post(url(procedure), data)
    assert response.status_code == 422
    assert "スキャンした申請書" in response.content.decode()
    assert not Application.objects.exists()


def test_the_confirmation_warns_of_an_earlier_application_and_a_level_not_reached(
    staff_client, organisation, resident
):
    from madoguchi.testing import procedure_with_rule, rule_answers, submit

    ruled = procedure_with_rule(organisation, "person")
    first = submit(ruled, resident, rule_answers()).application
    data = post_data(rule_answers(), _action="confirm", documents=["none"])

    text = staff_client.post(url(ruled), data).content.decode()

    assert "同じ方（世帯）の申請がすでにあります" in text
    assert first.receipt_number in text
    assert Application.objects.count() == 1  # only warned: nothing stored yet


def test_the_confirmation_says_when_the_documents_fall_short_of_the_level(staff_client, procedure):
    procedure.ial = 2
    procedure.save(update_fields=["ial"])
    data = post_data(full_answers(procedure), _action="confirm", documents=["none"])

    text = staff_client.post(url(procedure), data).content.decode()

    assert "この手続が求める身元確認レベル2に届きません" in text


def test_files_uploaded_to_the_handed_over_draft_become_the_applications(
    staff_client, procedure, resident
):
    from madoguchi.applications.attachments import attachment_store, attachments_of_application
    from madoguchi.testing import png_bytes

    stored = attachment_store(
        procedure=procedure,
        field_key="residence_document",
        owner=resident,
        name="nyuin-shomei.png",
        data=png_bytes(),
        now=now(),
    )
    answers = {
        **full_answers(procedure),
        "residence_document": [{"id": stored.pk.hex, "name": "nyuin-shomei.png"}],
    }
    handed = draft_save(
        organisation=procedure.organisation,
        procedure=procedure,
        applicant=resident,
        answers=answers,
        step="",
        now=now(),
    )
    issued = counter_handoff_issue(applicant=resident, draft_id=handed.pk, now=now())

    data = post_data(full_answers(procedure), _action="register", handoff=issued.token)
    assert staff_client.post(url(procedure), data).status_code == 302

    application = Application.objects.get()
    files = attachments_of_application(organisation=procedure.organisation, application=application)
    assert [f.pk for f in files] == [stored.pk]
