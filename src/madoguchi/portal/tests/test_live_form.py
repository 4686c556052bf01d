"""Live forms: the step answers questions as they change (htmx), the server stays the authority.

The live URL re-renders what changed by the same rules (forms.rendering.render_live): a
question shown or hidden by its rule, computed values, the address a postal code fills, the
message of the field just left. It saves nothing. Without JavaScript the step is the same HTML,
every question shown with the words of its rule; 「追加」 lands on the new item, its first field
focused.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from madoguchi.applications.models import Draft
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.engine import validate
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.models import User
from madoguchi.tenants.models import Organisation
from madoguchi.testing import procedure_publish


@pytest.fixture
def jidou(db: None) -> Procedure:
    """横浜市's 児童手当の認定請求 (level 1 for these stories, which are not about identity)."""
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


def url(procedure: Procedure, name: str = "form") -> str:
    return reverse(f"portal:apply:{name}", args=[procedure.organisation.lg_code, procedure.pk])


def live(client: Client, procedure: Procedure, data: dict[str, Any]) -> Any:
    return client.post(url(procedure, "live"), data, HTTP_HX_REQUEST="true")


def oob(html: str, element_id: str) -> str:
    """The out-of-band element with this id in a live answer, whole ("" when there is none)."""
    start = re.search(
        rf'<(\w+) [^>]*id="{re.escape(element_id)}"[^>]*hx-swap-oob="[^"]+"[^>]*>', html
    )
    if start is None:
        return ""
    tag, depth, position = start.group(1), 0, start.start()
    for found in re.finditer(rf"<(/?){tag}\b[^>]*>", html[position:]):
        depth += -1 if found.group(1) else 1
        if depth == 0 or tag in ("input",):
            return html[position : position + found.end()]
    return html[position:]


CLAIMANT = {"_step": "claimant"}


# --- The step as first drawn ----------------------------------------------------------------


def test_the_step_says_where_to_ask_and_which_questions_its_rules_hide_now(hanako_client, jidou):
    page = hanako_client.get(url(jidou)).content.decode()

    assert f'hx-post="{url(jidou, "live")}"' in page
    assert 'hx-trigger="change"' in page
    # 配偶者 is not answered yet: its questions are marked hidden for the live script …
    assert '<div class="live-cond live-cond--off" id="f-spouse_name-cond">' in page
    assert 'name="_live_hidden" value="spouse_name"' in page
    # … and still drawn with the words of their rule, for a browser without JavaScript.
    assert 'name="spouse_name.family"' in page
    assert "「配偶者はいますか」が「はい」の場合" in page
    assert "madoguchi/live.js" in page


def test_a_question_whose_rule_holds_is_drawn_shown(hanako_client, hanako, jidou):
    hanako_client.post(url(jidou), {"_step": "claimant", "has_spouse": "yes", "_save": "1"})

    page = hanako_client.get(url(jidou) + "?step=claimant").content.decode()

    assert '<div class="live-cond" id="f-spouse_name-cond">' in page
    assert 'value="spouse_name"' not in page


# --- Conditional questions --------------------------------------------------------------------


def test_answering_no_hides_the_spouse_questions_and_yes_shows_them(hanako_client, jidou):
    hidden_now = {"_live_hidden": ["spouse_name", "spouse_my_number"]}

    shown = live(
        hanako_client,
        jidou,
        {**CLAIMANT, **hidden_now, "has_spouse": "yes", "_live_touched": "has_spouse"},
    )
    html = shown.content.decode()
    assert shown.status_code == 200
    wrapper = oob(html, "f-spouse_name-cond")
    assert 'class="live-cond"' in wrapper
    assert 'name="spouse_name.family"' in wrapper
    assert oob(html, "f-spouse_my_number-cond")

    hidden = live(
        hanako_client, jidou, {**CLAIMANT, "has_spouse": "no", "_live_touched": "has_spouse"}
    ).content.decode()
    wrapper = oob(hidden, "f-spouse_name-cond")
    assert "live-cond--off" in wrapper
    assert 'name="_live_hidden" value="spouse_name"' in wrapper


def test_questions_whose_state_did_not_change_are_not_sent_again(hanako_client, jidou):
    """A question the resident may be typing in is never swapped under their fingers."""
    html = live(
        hanako_client,
        jidou,
        {**CLAIMANT, "has_spouse": "yes", "spouse_name.family": "山", "_live_touched": "x"},
    ).content.decode()

    assert "f-spouse_name-cond" not in html


def test_a_question_inside_a_group_item_follows_its_own_item(hanako_client, jidou):
    html = live(
        hanako_client,
        jidou,
        {
            "_step": "children",
            "children.0.living": "together",
            "children.1.living": "separate",
            "_live_hidden": ["children[0].separate_address", "children[1].separate_address"],
        },
    ).content.decode()

    assert not oob(html, "f-children-0-separate_address-cond")
    assert 'name="children.1.separate_address.postal_code"' in oob(
        html, "f-children-1-separate_address-cond"
    )


# --- Postal code, computed values, messages ------------------------------------------------------


def test_a_postal_code_fills_the_empty_parts_of_the_address_while_typing(hanako_client, jidou):
    html = live(
        hanako_client,
        jidou,
        {
            **CLAIMANT,
            "_live_hidden": ["spouse_name", "spouse_my_number"],
            "claimant_address.postal_code": "２３１－００２３",
            "claimant_address.city": "",
            "_live_touched": "claimant_address.postal_code",
            "_live_event": "input",
        },
    ).content.decode()

    prefecture = oob(html, "f-claimant_address-prefecture")
    assert '<option value="神奈川県" selected>' in prefecture
    assert 'value="横浜市中区"' in oob(html, "f-claimant_address-city")
    assert 'value="山下町"' in oob(html, "f-claimant_address-town")
    # The postal code itself (where the resident types) and the block are left alone.
    assert not oob(html, "f-claimant_address-postal_code")
    assert not oob(html, "f-claimant_address-block")
    # While typing, no message at all; and the spouse questions, still hidden, are not sent.
    assert not re.search(r'id="[^"]*-live" hx-swap-oob', html)
    assert "spouse" not in html


def test_what_the_resident_typed_is_kept_the_postal_code_fills_only_the_rest(hanako_client, jidou):
    html = live(
        hanako_client,
        jidou,
        {
            **CLAIMANT,
            "claimant_address.postal_code": "2310023",
            "claimant_address.prefecture": "神奈川県",
            "claimant_address.city": "横浜市中区",
            "_live_touched": "claimant_address.postal_code",
            "_live_event": "input",
        },
    ).content.decode()

    assert not oob(html, "f-claimant_address-prefecture")
    assert not oob(html, "f-claimant_address-city")
    assert 'value="山下町"' in oob(html, "f-claimant_address-town")


def test_an_unknown_postal_code_says_so_when_the_field_is_left(hanako_client, jidou):
    html = live(
        hanako_client,
        jidou,
        {
            **CLAIMANT,
            "claimant_address.postal_code": "0000000",
            "_live_touched": "claimant_address.postal_code",
            "_live_event": "change",
        },
    ).content.decode()

    slot = oob(html, "f-claimant_address-postal_code-live")
    assert "この郵便番号に当たる住所が見つかりません。" in slot
    assert not oob(html, "f-claimant_address-prefecture")


def test_fields_not_touched_yet_get_no_message(hanako_client, jidou):
    """The phone was left, correctly: its slot is emptied; nothing is said of the empty name,
    address or My Number the resident has not reached yet."""
    html = live(
        hanako_client,
        jidou,
        {**CLAIMANT, "claimant_phone": "045-671-2121", "_live_touched": "claimant_phone"},
    ).content.decode()

    assert re.search(r'<div id="f-claimant_phone-live" hx-swap-oob="innerHTML"></div>', html)
    assert "入力してください" not in html
    assert "field-error" not in html


def test_a_wrong_answer_in_the_field_just_left_gets_its_message(hanako_client, jidou):
    html = live(
        hanako_client,
        jidou,
        {**CLAIMANT, "claimant_phone": "abc", "_live_touched": "claimant_phone"},
    ).content.decode()

    slot = oob(html, "f-claimant_phone-live")
    assert 'class="field-error"' in slot
    assert html.count("field-error") == 1


def test_the_number_of_children_is_computed_by_the_server(hanako_client, jidou):
    html = live(
        hanako_client,
        jidou,
        {
            "_step": "children",
            "children.0.name.family": "山田",
            "children.1.name.family": "山田",
            "children.2.name.family": "山田",
        },
    ).content.decode()

    assert re.search(r'<span id="f-children_count-value" hx-swap-oob="innerHTML">\s*3人', html), (
        html
    )


# --- Cheap and safe ------------------------------------------------------------------------------


def test_the_live_form_saves_nothing(hanako_client, hanako, jidou):
    hanako_client.post(
        url(jidou), {"_step": "claimant", "claimant_phone": "045-671-2121", "_save": "1"}
    )
    before = Draft.objects.get(applicant=hanako)

    live(
        hanako_client,
        jidou,
        {**CLAIMANT, "claimant_phone": "03-1234-5678", "has_spouse": "yes"},
    )

    after = Draft.objects.get(applicant=hanako)
    assert after.answers == before.answers
    assert after.updated_at == before.updated_at


@pytest.mark.parametrize(
    "data",
    [
        {"_step": "claimant", "_live_hidden": ["x" * 1_000] * 500},
        {"_step": "claimant", "_live_touched": "claimant_address.postal_code\x00\r\n<script>"},
        {"_step": "claimant", "claimant_address.postal_code": "２３１\x00００２３" * 100},
        {"_step": "children", "children.999.living": "separate"},
        {"_step": "children", "children.①.living": "separate"},
        {"_step": "claimant", "has_spouse": ["yes", "no", "maybe"]},
        {"_step": "claimant", "claimant_name": "not parts"},
    ],
)
def test_hostile_live_requests_never_give_a_server_error(hanako_client, hanako, jidou, data):
    response = live(hanako_client, jidou, data)

    assert response.status_code == 200
    assert "<script>" not in response.content.decode()
    assert not Draft.objects.filter(applicant=hanako).exists()


def test_an_unknown_step_is_refused_in_japanese(hanako_client, jidou):
    response = live(hanako_client, jidou, {"_step": "../../etc"})

    assert response.status_code == 400
    assert "入力画面はありません" in response.content.decode()


def test_the_live_form_answers_only_whoever_may_apply(client, jidou):
    assert live(client, jidou, CLAIMANT).status_code == 403
    assert client.get(url(jidou, "live")).status_code == 405


def test_another_organisations_procedure_number_is_404(hanako_client, jidou):
    response = hanako_client.post(reverse("portal:apply:live", args=["131016", jidou.pk]), CLAIMANT)

    assert response.status_code == 404


def test_the_live_form_needs_the_csrf_token(hanako, jidou):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(hanako)

    assert browser.post(url(jidou, "live"), CLAIMANT).status_code == 403


# --- 「児童を追加」 without JavaScript ------------------------------------------------------------


def test_adding_a_child_lands_on_the_new_child_with_its_first_field_focused(hanako_client, jidou):
    response = hanako_client.post(
        url(jidou), {"_step": "children", "children.0.name.family": "山田", "_add": "children"}
    )

    assert response.status_code == 302
    assert response["Location"].endswith("?step=children&focus=children.1")
    page = hanako_client.get(response["Location"]).content.decode()
    assert '<fieldset class="form-group__item" id="f-children-1">' in page
    focused = re.findall(r"<(?:input|select|textarea)[^>]*autofocus[^>]*>", page)
    assert len(focused) == 1
    assert 'id="f-children-1-name-family"' in focused[0]


@pytest.mark.parametrize("add", ["claimant_name", "nothing", "children\r\nSet-Cookie: x=1"])
def test_adding_to_something_that_is_not_a_group_of_the_step_adds_nothing(
    hanako_client, hanako, jidou, add
):
    response = hanako_client.post(url(jidou), {"_step": "children", "_add": add})

    assert response.status_code == 302
    assert "focus" not in response["Location"]
    assert set(Draft.objects.get(applicant=hanako).answers) <= {"children"}


@pytest.mark.parametrize("focus", ["children.7", "claimant_name", "children.1<x>", "x" * 500])
def test_a_focus_that_names_no_item_focuses_nothing(hanako_client, jidou, focus):
    page = hanako_client.get(url(jidou) + "?step=children&focus=" + focus).content.decode()

    assert " autofocus" not in page


# --- The rule engine says what it hides ------------------------------------------------------


def test_validation_says_which_questions_the_rules_hide(jidou):
    spec = form_spec(jidou.form_version)
    today = to_tokyo(now()).date()

    result = validate(
        spec,
        {"has_spouse": "no", "children": [{"living": "together"}, {"living": "separate"}]},
        today=today,
    )

    assert {"spouse_name", "spouse_my_number"} <= result.hidden
    assert "children[0].separate_address" in result.hidden
    assert "children[1].separate_address" not in result.hidden
    assert "spouse_name" not in validate(spec, {"has_spouse": "yes"}, today=today).hidden


# --- A fee computed as the number of copies changes ----------------------------------------------


def test_the_fee_follows_the_number_of_copies(hanako_client, db):
    juminhyo = procedure_publish(Organisation.objects.get(lg_code="141003"), "juminhyo")
    step = form_spec(juminhyo.form_version).steps[
        next(
            i
            for i, s in enumerate(form_spec(juminhyo.form_version).steps)
            if any(f.key == "fee" for f in s.fields)
        )
    ]

    html = live(
        hanako_client,
        juminhyo,
        {"_step": step.key, "copies": "３", "_live_touched": "copies", "_live_event": "change"},
    ).content.decode()

    assert re.search(r'<span id="f-fee-value" hx-swap-oob="innerHTML">\s*900円', html), html
