"""Answering a correction (補正): the form starts from what was submitted for the fields asked
about, compound answers keep their parts, My Number is never put back in clear, the bank
account shows its number masked and keeps it when sent back unchanged, and one attachment can
be replaced while the others stay."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.test import Client

from madoguchi.applications.constants import ApplicationStatus as S
from madoguchi.applications.models import Application
from madoguchi.applications.workflow import correction_request
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import now
from madoguchi.forms.sealed import reveal
from madoguchi.identity.models import User
from madoguchi.tenants.models import Organisation
from madoguchi.testing import png_bytes, procedure_publish, submit, valid_answers, with_real_files

MY_NUMBER = "123456789018"


@pytest.fixture
def jidou(db: None) -> Procedure:
    return procedure_publish(Organisation.objects.get(lg_code="141003"), "jidou-teate-nintei")


@pytest.fixture
def hanako(resident: User) -> User:
    resident.email_verified_at = now()
    resident.save(update_fields=["email_verified_at"])
    return resident


@pytest.fixture
def hanako_client(client: Client, hanako: User) -> Client:
    client.force_login(hanako)
    return client


@pytest.fixture
def application(jidou: Procedure, hanako: User) -> Application:
    answers = with_real_files(jidou, valid_answers(jidou), owner=hanako)
    answers.update(
        claimant_my_number=MY_NUMBER,
        claimant_address={"postal_code": "2310023", "block": "1-1", "building": "山下ハイツ101"},
        account={
            "bank_code": "0001",
            "branch_code": "001",
            "account_type": "ordinary",
            "account_number": "1234567",
            "holder": "ヤマダ　ハナコ",
        },
    )
    sent: Application = submit(jidou, hanako, answers).application
    return sent


def ask(application: Application, staff: Any, *fields: str) -> None:
    correction_request(
        organisation=application.organisation,
        application=application,
        staff_user=staff.user,
        body="直してください。",
        fields=list(fields),
        now=now(),
    )


def correct_url(application: Application) -> str:
    return f"/mypage/{application.receipt_number}/correct/"


def value_of(page: str, name: str) -> str:
    found = re.search(rf'<input [^>]*name="{re.escape(name)}" value="([^"]*)"', page)
    assert found, name
    return found.group(1)


def test_the_form_starts_from_the_submitted_answers_with_their_parts(
    hanako_client, application, staff_member
):
    ask(application, staff_member, "claimant_address", "account", "claimant_my_number")

    page = hanako_client.get(correct_url(application)).content.decode()

    assert value_of(page, "claimant_address.postal_code") == "2310023"
    assert value_of(page, "claimant_address.city") == "横浜市中区"
    assert value_of(page, "claimant_address.block") == "1-1"
    assert value_of(page, "claimant_address.building") == "山下ハイツ101"
    assert value_of(page, "account.bank_code") == "0001"
    assert value_of(page, "account.holder") == "ヤマダ ハナコ"  # as normalised when sent
    assert value_of(page, "account.account_number") == "●●●●567"
    assert '<option value="ordinary" selected>' in page
    # My Number: never in clear, never its ciphertext either; said to be asked again.
    assert value_of(page, "claimant_my_number") == ""
    assert MY_NUMBER not in page
    assert "1234567" not in page
    assert "$enc" not in page
    assert "もう一度入力してください（請求者の個人番号）" in page
    # Fields not asked about are not in the form.
    assert 'name="claimant_phone"' not in page


def test_changing_one_part_keeps_the_rest_and_the_masked_account_number(
    hanako_client, application, staff_member
):
    ask(application, staff_member, "claimant_address", "account")
    page = hanako_client.get(correct_url(application)).content.decode()
    form = {
        name: value_of(page, name)
        for name in re.findall(r'<input [^>]*name="((?:claimant_address|account)\.[a-z_]+)"', page)
    }
    form["account.account_type"] = "ordinary"
    form["claimant_address.prefecture"] = "神奈川県"
    form["claimant_address.block"] = "2-3"

    response = hanako_client.post(correct_url(application), form)

    assert response.status_code == 302, response.content.decode()
    application.refresh_from_db()
    assert application.revision == 2
    assert application.status == S.RESUBMITTED
    assert application.answers["claimant_address"]["block"] == "2-3"
    assert application.answers["claimant_address"]["building"] == "山下ハイツ101"
    assert reveal(application.answers["account"])["account_number"] == "1234567"
    assert reveal(application.answers["claimant_my_number"]) == MY_NUMBER


def test_a_new_account_number_replaces_the_masked_one(hanako_client, application, staff_member):
    ask(application, staff_member, "account")
    form = {
        "account.bank_code": "0001",
        "account.branch_code": "001",
        "account.account_type": "ordinary",
        "account.account_number": "7654321",
        "account.holder": "ヤマダ　ハナコ",
    }

    assert hanako_client.post(correct_url(application), form).status_code == 302

    application.refresh_from_db()
    assert reveal(application.answers["account"])["account_number"] == "7654321"


@pytest.mark.parametrize("number", ["●●●●999", "●●●●", "●●●●567 extra", "●" * 500])
def test_a_mask_that_is_not_the_shown_one_is_refused_and_nothing_changes(
    hanako_client, application, staff_member, number
):
    ask(application, staff_member, "account")
    before = dict(application.answers)
    form = {
        "account.bank_code": "0001",
        "account.branch_code": "001",
        "account.account_type": "ordinary",
        "account.account_number": number,
        "account.holder": "ヤマダ　ハナコ",
    }

    response = hanako_client.post(correct_url(application), form)

    assert response.status_code == 422
    assert "口座番号" in response.content.decode()
    application.refresh_from_db()
    assert application.revision == 1
    assert application.answers == before


def test_a_group_keeps_its_items_but_not_their_my_numbers(hanako_client, application, staff_member):
    ask(application, staff_member, "children")

    page = hanako_client.get(correct_url(application)).content.decode()

    child = application.answers["children"][0]
    assert value_of(page, "children.0.name.family") == child["name"]["family"]
    assert value_of(page, "children.0.my_number") == ""
    assert "$enc" not in page
    assert "もう一度入力してください（児童）" in page


def named_png(name: str) -> io.BytesIO:
    upload = io.BytesIO(png_bytes())
    upload.name = name
    return upload


def test_one_flagged_attachment_is_replaced_and_the_others_stay(
    hanako_client, application, staff_member
):
    old = application.answers["account_document"][0]
    others = {
        key: value
        for key, value in application.answers.items()
        if key.endswith("_document") or key == "income_certificate"
    }
    others.pop("account_document")
    ask(application, staff_member, "account_document")
    page = hanako_client.get(correct_url(application)).content.decode()
    assert "提出済みの「振込先口座を確認できる書類」" in page
    assert f"{old['name']}を差し替える" in page

    response = hanako_client.post(
        correct_url(application),
        {"_remove_file": old["id"], "account_document": named_png("通帳.png")},
    )

    assert response.status_code == 302, response.content.decode()
    application.refresh_from_db()
    files = application.answers["account_document"]
    assert [f["name"] for f in files] == ["通帳.png"]
    for key, value in others.items():
        assert application.answers[key] == value


def test_a_flagged_attachment_can_get_a_second_file_without_losing_the_first(
    hanako_client, application, staff_member
):
    old = application.answers["account_document"][0]
    ask(application, staff_member, "account_document")

    response = hanako_client.post(
        correct_url(application), {"account_document": named_png("キャッシュカード.png")}
    )

    assert response.status_code == 302, response.content.decode()
    application.refresh_from_db()
    names = [f["name"] for f in application.answers["account_document"]]
    assert names == [old["name"], "キャッシュカード.png"]


def test_the_correction_page_follows_the_language_switch(hanako_client, application, staff_member):
    """Regression (issue 11, "the same story in English"): the correction page and its
    confirmation were Japanese only, while the rest of the resident's side followed the switch.
    The organisation's request and the form's questions stay Japanese, marked as such."""
    from django.conf import settings
    from django.utils import translation

    ask(application, staff_member, "claimant_phone")
    hanako_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    try:
        page = hanako_client.get(correct_url(application)).content.decode()
        assert '<html lang="en">' in page
        assert "Send the correction" in page
        assert "The form holds the answers you sent" in page
        assert "補正した内容を送信する" not in page
        assert '<p lang="ja">直してください。</p>' in page

        response = hanako_client.post(
            correct_url(application), {"claimant_phone": "090-1111-2222"}, follow=True
        )
        assert "Your correction has been sent" in response.content.decode()
    finally:
        translation.deactivate()
    application.refresh_from_db()
    assert application.status == S.RESUBMITTED
