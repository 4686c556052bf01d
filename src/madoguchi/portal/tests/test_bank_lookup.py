"""A resident finds the bank and branch of an account by name or reading: without JavaScript
(the search button posts the step and the page comes back with results; a result button fills
in the code) and with htmx (the results fragment while typing). The confirmation shows the
names. Hostile input is answered in Japanese, never a 500, and changes nothing stored."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from madoguchi.applications.models import Draft
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import now
from madoguchi.identity.models import User
from madoguchi.tenants.models import Organisation
from madoguchi.testing import procedure_publish

LOOKUP = "/apply/lookup/bank/"


@pytest.fixture
def suido(templates_loaded) -> Procedure:
    """横浜市's 水道の使用開始・中止の届出, whose step 「user」 holds the bank account 「account」."""
    return procedure_publish(Organisation.objects.get(lg_code="141003"), "suido-kaishi")


@pytest.fixture
def resident_client(client: Client, db: None) -> Client:
    user = User.objects.create_user("hanako@example.jp", "correct horse battery 42")
    user.email_verified_at = now()
    user.save(update_fields=["email_verified_at"])
    client.force_login(user)
    return client


def step_url(procedure: Procedure) -> str:
    return f"/o/{procedure.organisation.lg_code}/procedures/{procedure.pk}/apply/"


def draft_account() -> dict[str, Any]:
    return Draft.objects.get().answers.get("account") or {}


def test_without_javascript_a_resident_searches_picks_the_bank_then_the_branch(
    resident_client, suido
):
    url = step_url(suido)
    searched = resident_client.post(
        url,
        {
            "_step": "user",
            "account.holder": "ヨコハマ タロウ",
            "_bank_q.account": "よこはま",
            "_bank_search": "account.bank",
        },
    )
    assert searched.status_code == 302
    assert "lookup=account.bank" in searched["Location"]
    page = resident_client.get(searched["Location"]).content.decode()
    assert 'name="_bank_pick" value="account.bank_code.0138"' in page
    assert "件見つかりました。選ぶと金融機関コードが入ります。" in page
    assert draft_account()["holder"] == "ヨコハマ タロウ"  # what was typed is kept

    picked = resident_client.post(url, {"_step": "user", "_bank_pick": "account.bank_code.0138"})
    assert picked.status_code == 302
    assert draft_account()["bank_code"] == "0138"

    searched = resident_client.post(
        url,
        {
            "_step": "user",
            "account.bank_code": "0138",
            "_branch_q.account": "みなとみらい",
            "_bank_search": "account.branch",
        },
    )
    page = resident_client.get(searched["Location"]).content.decode()
    assert 'value="account.branch_code.307"' in page
    # The browser posts the whole step with the button (the bank code is in its box).
    resident_client.post(
        url,
        {"_step": "user", "account.bank_code": "0138", "_bank_pick": "account.branch_code.307"},
    )
    assert draft_account()["bank_code"] == "0138"
    assert draft_account()["branch_code"] == "307"

    page = resident_client.get(url + "?step=user").content.decode()
    assert 'id="f-account-bank_code-found">横浜<' in page
    assert 'id="f-account-branch_code-found">みなとみらい<' in page


def test_picking_another_bank_clears_the_branch_code(resident_client, suido):
    url = step_url(suido)
    resident_client.post(
        url,
        {"_step": "user", "account.bank_code": "0138", "account.branch_code": "307", "_save": "1"},
    )
    resident_client.post(
        url,
        {
            "_step": "user",
            "account.bank_code": "0138",
            "account.branch_code": "307",
            "_bank_pick": "account.bank_code.0001",
        },
    )
    assert draft_account()["bank_code"] == "0001"
    assert "branch_code" not in draft_account()


def test_the_htmx_fragment_lists_banks_and_branches(client, db):
    bank = client.get(LOOKUP, {"field": "account", "kind": "bank", "_bank_q.account": "ﾐｽﾞﾎ"})
    assert bank.status_code == 200
    html = bank.content.decode()
    assert 'value="account.bank_code.0001"' in html
    assert "<html" not in html  # a fragment, not a page

    branch = client.get(
        LOOKUP,
        {
            "field": "account",
            "kind": "branch",
            "_branch_q.account": "とうきょう",
            "account.bank_code": "0001",
        },
    )
    assert 'value="account.branch_code.001"' in branch.content.decode()

    no_bank = client.get(
        LOOKUP, {"field": "account", "kind": "branch", "_branch_q.account": "本店"}
    )
    assert "先に金融機関コードを入力するか" in no_bank.content.decode()

    nothing = client.get(LOOKUP, {"field": "account", "kind": "bank", "_bank_q.account": "ぬぬぬ"})
    assert "「ぬぬぬ」に当たる金融機関は見つかりませんでした" in nothing.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"field": "account", "kind": "evil"},
        {"field": "<script>", "kind": "bank"},
        {"field": "a" * 500, "kind": "bank"},
        {"field": "account\x00", "kind": "bank"},
    ],
)
def test_a_malformed_lookup_is_a_japanese_400(client, db, params):
    response = client.get(LOOKUP, params)
    assert response.status_code == 400
    assert "検索の指定が正しくありません" in response.content.decode()


@pytest.mark.parametrize(
    "query", ["x" * 10_000, "<script>alert(1)</script>", "\x00", "%' OR 1=1 --", "\u202e"]
)
def test_hostile_queries_are_answered_safely(client, db, query):
    response = client.get(LOOKUP + f"?field=account&kind=bank&_bank_q.account={quote(query)}")
    assert response.status_code == 200
    assert "<script>alert" not in response.content.decode()


@pytest.mark.parametrize(
    "pick",
    [
        "account.bank_code.01",
        "account.bank_code.０１３８",
        "account.holder.ABCD",
        "nothere.bank_code.0001",
        "account.bank_code.0001.extra",
        "children.0.bank_code.0001",
        "account",
        "x" * 5000,
    ],
)
def test_a_forged_pick_changes_nothing(resident_client, suido, pick):
    url = step_url(suido)
    resident_client.post(
        url,
        {"_step": "user", "account.bank_code": "0138", "account.branch_code": "307", "_save": "1"},
    )
    response = resident_client.post(
        url,
        {
            "_step": "user",
            "account.bank_code": "0138",
            "account.branch_code": "307",
            "_bank_pick": pick,
        },
    )
    assert response.status_code in (200, 302)
    assert draft_account()["bank_code"] == "0138"
    assert draft_account()["branch_code"] == "307"


@pytest.mark.parametrize(
    "target",
    [
        "<script>.evil",
        "<script>.bank",
        "account\r\nSet-Cookie: x=1.bank",
        "account#x.bank",
        "a.b.c.d.e.bank",
        "x" * 5000,
        ".bank",
    ],
)
def test_a_forged_search_target_returns_to_the_form(resident_client, suido, target):
    response = resident_client.post(step_url(suido), {"_step": "user", "_bank_search": target})
    assert response.status_code == 302
    assert "\n" not in response["Location"]
    assert "<" not in response["Location"]
    assert "Set-Cookie" not in response["Location"]
    page = resident_client.get(response["Location"])
    assert page.status_code == 200
    assert "<script>" not in page.content.decode()


def test_an_unknown_bank_code_is_refused_on_the_step_in_japanese(resident_client, suido):
    resident_client.post(step_url(suido), {"_step": "usage", "kind": "start", "_save": "1"})
    response = resident_client.post(
        step_url(suido),
        {
            "_step": "user",
            "payment_method": "transfer",
            "account.bank_code": "9999",
            "account.branch_code": "001",
        },
    )
    assert response.status_code == 422
    assert "金融機関コード 9999 の金融機関は見つかりません。" in response.content.decode()
