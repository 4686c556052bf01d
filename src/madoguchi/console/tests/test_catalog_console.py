"""An organisation admin adopts national templates, sets them up, previews the form, moves to
a new template version and uploads own forms in the console. Reviewers may look, not change.
Nobody sees or touches another organisation's procedures: they are simply not there (404).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from madoguchi import testing as catalog
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.services import procedure_create_own, procedure_update_settings
from madoguchi.core.time import now
from madoguchi.forms.models import FormVersion
from madoguchi.testing import (
    console_login,
    field_keys,
    local_question,
    publish_template_version,
    remove_field,
)

# The catalog's fixtures (catalog/tests/conftest.py), for this module.

PROCEDURES = "/console/procedures/"
TEMPLATES = "/console/templates/"
NEW = "/console/procedures/new/"
ADMIN_ONLY = "この操作は団体管理者だけができます。"
NINTEI_NAME = "児童手当等の受給資格及び児童手当の額についての認定請求"


def text(response: Any) -> str:
    return str(response.content.decode())


def detail(procedure: Procedure) -> str:
    return f"/console/procedures/{procedure.pk}/"


def upgrade(procedure: Procedure) -> str:
    return f"/console/procedures/{procedure.pk}/upgrade/"


def preview(procedure: Procedure) -> str:
    return f"/console/procedures/{procedure.pk}/preview/"


def adopt_url(slug: str) -> str:
    return f"/console/templates/{slug}/adopt/"


def messages_of(response: Any) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", m)
        for m in re.findall(r'<p class="notice[^"]*">(.*?)</p>', text(response))
    ]


class Hidden(HTMLParser):
    """The hidden inputs of the preview form (the answers of the other steps)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.values: list[tuple[str, str]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if (
            tag == "input"
            and a.get("type") == "hidden"
            and a.get("name")
            not in (
                None,
                "csrfmiddlewaretoken",
                "_step",
            )
        ):
            self.values.append((str(a["name"]), a.get("value") or ""))


def carried(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, value in Hidden(text(response)).values:
        data.setdefault(name, []).append(value)
    return data


@pytest.fixture
def kamakura_admin_client(client: Client, other_admin: Any) -> Client:
    console_login(client, other_admin.user)
    return client


@pytest.fixture
def fee_procedure(admin_client, fee_template) -> Procedure:
    """The admin has adopted 住民票の写しの交付請求 through the console."""
    response = admin_client.post(adopt_url("test-juminhyo"))
    procedure = Procedure.objects.get(slug="test-juminhyo", organisation__lg_code="141003")
    assert response["Location"] == detail(procedure)
    return procedure


def settings_post(**changes: Any) -> dict[str, Any]:
    data = {
        "action": "save",
        "summary": "",
        "department": "市民課",
        "contact": "045-000-0000",
        "counter": "",
        "reception_starts_at": "",
        "reception_ends_at": "",
        "param_unit_fee": "300",
        "optional_purpose": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# --- A reviewer looks but cannot change -----------------------------------------------------


def test_a_reviewer_sees_the_procedures_and_the_templates(staff_client, published):
    procedures = staff_client.get(PROCEDURES)
    templates = staff_client.get(TEMPLATES)

    assert procedures.status_code == 200
    assert NINTEI_NAME in text(procedures)
    assert "国のひな形から採用する" not in text(procedures)
    assert templates.status_code == 200
    assert "採用済み（公開中）" in text(templates)
    assert "を採用する" not in text(templates)


def test_a_reviewer_sees_a_procedure_without_the_settings_form(staff_client, published):
    response = staff_client.get(detail(published))

    assert response.status_code == 200
    assert "国のひな形との違い" in text(response)
    assert 'value="save"' not in text(response)
    assert 'value="publish"' not in text(response)


def test_a_reviewer_can_try_the_form_in_the_preview(staff_client, published):
    assert staff_client.get(preview(published)).status_code == 200
    response = staff_client.post(preview(published), {"_step": "claimant"})
    assert response.status_code == 200
    assert "請求者の氏名を入力してください。" in text(response)


@pytest.mark.parametrize(
    ("url", "data"),
    [
        (lambda p: adopt_url("jidou-teate-genkyo"), {}),
        (lambda p: detail(p), {"action": "save", "contact": "改ざん"}),
        (lambda p: detail(p), {"action": "add_local", "q-label": "質問", "q-type": "text"}),
        (lambda p: detail(p), {"action": "remove_local", "key": "local_q1"}),
        (lambda p: detail(p), {"action": "publish"}),
        (lambda p: detail(p), {"action": "close"}),
        (lambda p: upgrade(p), {"accept": "yes"}),
        (lambda p: NEW, {"slug": "kominkan", "definition_text": catalog.own_definition("公民館")}),
    ],
)
def test_every_change_by_a_reviewer_is_403_in_japanese(staff_client, adopted, url, data):
    before = (adopted.status, adopted.form_version_id, dict(adopted.settings))

    response = staff_client.post(url(adopted), data)

    assert response.status_code == 403
    assert ADMIN_ONLY in text(response)
    assert "この操作はできません" in text(response)
    adopted.refresh_from_db()
    assert (adopted.status, adopted.form_version_id, adopted.settings) == before
    assert Procedure.objects.filter(organisation=adopted.organisation).count() == 1


def test_a_reviewer_cannot_even_open_the_upgrade_or_upload_pages(staff_client, adopted):
    assert staff_client.get(upgrade(adopted)).status_code == 403
    assert staff_client.get(NEW).status_code == 403


# --- An admin adopts and sets up a template ----------------------------------------------------


def test_an_admin_adopts_a_template(admin_client, nintei):
    response = admin_client.post(adopt_url("jidou-teate-nintei"))

    procedure = Procedure.objects.get(organisation__lg_code="141003")
    assert response.status_code == 302
    assert response["Location"] == detail(procedure)
    assert procedure.status == ProcedureStatus.DRAFT
    page = admin_client.get(response["Location"])
    assert "を採用しました（準備中）。内容を確認して公開してください。" in text(page)
    assert "準備中" in text(page)


def test_adopting_twice_says_it_is_already_adopted(admin_client, adopted):
    response = admin_client.post(adopt_url("jidou-teate-nintei"), follow=True)

    assert response.redirect_chain[-1][0] == TEMPLATES
    assert any("すでに採用しています" in m for m in messages_of(response))
    assert Procedure.objects.filter(organisation=adopted.organisation).count() == 1


@pytest.mark.parametrize("slug", ["no-such-template", "%00", "..", "x" * 300])
def test_adopting_an_unknown_template_is_404(admin_client, templates_loaded, slug):
    assert admin_client.post(adopt_url(slug)).status_code == 404
    assert not Procedure.objects.exists()


def test_adopting_is_post_only(admin_client, templates_loaded):
    assert admin_client.get(adopt_url("jidou-teate-nintei")).status_code == 405


def test_the_templates_page_offers_adoption_to_an_admin(admin_client, templates_loaded):
    page = text(admin_client.get(TEMPLATES))

    assert f"「{NINTEI_NAME}」を採用する" in page
    assert "出生・子育て" in page


def test_an_admin_sets_the_fee(admin_client, fee_procedure):
    form_before = fee_procedure.form_version

    response = admin_client.post(detail(fee_procedure), settings_post(param_unit_fee="250"))

    assert response.status_code == 302
    fee_procedure.refresh_from_db()
    assert fee_procedure.settings["parameters"] == {"unit_fee": 250}
    assert fee_procedure.settings["department"] == "市民課"
    assert fee_procedure.form_version != form_before
    page = text(admin_client.get(detail(fee_procedure)))
    assert "設定を保存しました。" in page
    assert "1通あたりの手数料: ひな形 300円 → 250円" in page
    assert 'name="param_unit_fee" value="250"' in page


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1001", "1000以下にしてください。"),
        ("-5", "0以上にしてください。"),
        ("三百", "整数で入力してください。"),
        ("", "値を入力してください。"),
    ],
)
def test_a_wrong_fee_is_shown_next_to_the_field(admin_client, fee_procedure, value, message):
    response = admin_client.post(detail(fee_procedure), settings_post(param_unit_fee=value))

    assert response.status_code == 200
    assert message in text(response)
    fee_procedure.refresh_from_db()
    assert fee_procedure.settings == {}


def test_an_optional_field_is_switched_off_by_unticking_it(admin_client, fee_procedure):
    admin_client.post(detail(fee_procedure), settings_post(optional_purpose=None))

    fee_procedure.refresh_from_db()
    assert fee_procedure.settings["optional_fields"] == {"purpose": False}
    assert "purpose" not in field_keys(fee_procedure.form_version.schema)


def test_a_reception_period_is_entered_and_shown_in_japan_time(admin_client, fee_procedure):
    admin_client.post(
        detail(fee_procedure),
        settings_post(reception_starts_at="2026-04-01 09:00", reception_ends_at="2027-03-31 17:00"),
    )

    page = text(admin_client.get(detail(fee_procedure)))
    assert "受付期間: 2026-04-01 09:00 〜 2027-03-31 17:00" in page
    assert 'value="2026-04-01 09:00:00"' in page


def test_a_reception_that_ends_before_it_starts_is_refused(admin_client, fee_procedure):
    response = admin_client.post(
        detail(fee_procedure),
        settings_post(reception_starts_at="2026-04-01 09:00", reception_ends_at="2026-03-31 17:00"),
    )

    assert response.status_code == 200
    assert "受付終了は受付開始より後にしてください。" in text(response)
    fee_procedure.refresh_from_db()
    assert fee_procedure.reception_starts_at is None


def test_an_unknown_action_is_answered_in_japanese(admin_client, fee_procedure):
    response = admin_client.post(detail(fee_procedure), {"action": "delete_everything"})

    assert response.status_code == 200
    assert "操作を選び直してください。" in text(response)


# --- Local questions ------------------------------------------------------------------------------


def test_an_admin_adds_and_removes_a_local_choice_question(admin_client, fee_procedure):
    original = fee_procedure.form_version

    response = admin_client.post(
        detail(fee_procedure),
        {
            "action": "add_local",
            "q-label": "この手続を何で知りましたか",
            "q-type": "choice",
            "q-required": "on",
            "q-choices": "広報紙\r\nホームページ\r\n\r\n窓口\r\n",
        },
    )

    assert response.status_code == 302
    fee_procedure.refresh_from_db()
    [question] = fee_procedure.settings["local_questions"]
    assert question == {
        "key": "local_q1",
        "type": "choice",
        "label": "この手続を何で知りましたか",
        "required": True,
        "options": {
            "choices": [
                {"value": "c1", "label": "広報紙"},
                {"value": "c2", "label": "ホームページ"},
                {"value": "c3", "label": "窓口"},
            ]
        },
    }
    assert "local_q1" in field_keys(fee_procedure.form_version.schema)
    page = text(admin_client.get(detail(fee_procedure)))
    assert "団体独自の質問を追加しました。" in page
    assert "団体独自の質問を追加: 「この手続を何で知りましたか」（選択（1つ）、必須）" in page

    response = admin_client.post(
        detail(fee_procedure), {"action": "remove_local", "key": "local_q1"}
    )

    assert response.status_code == 302
    fee_procedure.refresh_from_db()
    assert fee_procedure.settings["local_questions"] == []
    assert fee_procedure.form_version.digest == original.digest
    assert "団体独自の質問を削除しました。" in text(admin_client.get(detail(fee_procedure)))


def test_a_second_local_question_gets_the_next_key(admin_client, fee_procedure):
    for label in ("一つ目", "二つ目"):
        admin_client.post(
            detail(fee_procedure), {"action": "add_local", "q-label": label, "q-type": "text"}
        )

    fee_procedure.refresh_from_db()
    assert [q["key"] for q in fee_procedure.settings["local_questions"]] == [
        "local_q1",
        "local_q2",
    ]


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ("はい", "選択肢を2つ以上、1行に1つずつ入力してください。"),
        ("はい\nはい", "同じ選択肢が重複しています。"),
        ("", "選択肢を2つ以上、1行に1つずつ入力してください。"),
    ],
)
def test_a_choice_question_needs_two_different_choices(
    admin_client, fee_procedure, choices, message
):
    response = admin_client.post(
        detail(fee_procedure),
        {"action": "add_local", "q-label": "質問", "q-type": "choice", "q-choices": choices},
    )

    assert response.status_code == 200
    assert message in text(response)
    fee_procedure.refresh_from_db()
    assert "local_questions" not in fee_procedure.settings


@pytest.mark.parametrize(
    "data",
    [
        {"q-label": "", "q-type": "text"},
        {"q-label": "質問", "q-type": "my_number"},
        {"q-label": "質問", "q-type": "<script>"},
        {"q-label": "質\x00問", "q-type": "text"},
        {"q-label": "質" * 201, "q-type": "text"},
    ],
)
def test_a_bad_local_question_is_refused_on_the_page(admin_client, fee_procedure, data):
    response = admin_client.post(detail(fee_procedure), {"action": "add_local", **data})

    assert response.status_code == 200
    assert 'class="field-error"' in text(response)
    fee_procedure.refresh_from_db()
    assert "local_questions" not in fee_procedure.settings


def test_removing_a_question_that_is_not_there_changes_nothing(admin_client, fee_procedure):
    before = fee_procedure.form_version

    response = admin_client.post(
        detail(fee_procedure), {"action": "remove_local", "key": "local_q9"}
    )

    assert response.status_code == 302
    fee_procedure.refresh_from_db()
    assert fee_procedure.form_version == before


# --- Publishing -----------------------------------------------------------------------------------


def test_an_admin_publishes_and_closes_a_procedure(admin_client, adopted):
    response = admin_client.post(detail(adopted), {"action": "publish"}, follow=True)

    adopted.refresh_from_db()
    assert adopted.status == ProcedureStatus.PUBLISHED
    assert "状態を「公開中」にしました。" in messages_of(response)
    assert f'href="/o/141003/procedures/{adopted.pk}/"' in text(response)

    admin_client.post(detail(adopted), {"action": "close"})
    adopted.refresh_from_db()
    assert adopted.status == ProcedureStatus.CLOSED

    admin_client.post(detail(adopted), {"action": "draft"})
    adopted.refresh_from_db()
    assert adopted.status == ProcedureStatus.DRAFT


# --- Moving to a new template version ------------------------------------------------------------


def _drop_the_purpose_field(meta: dict[str, Any], form: dict[str, Any]) -> None:
    meta["optional_fields"] = {}
    remove_field(form, "purpose")


@pytest.fixture
def customised_fee_procedure(admin_client: Client, fee_procedure: Procedure) -> Procedure:
    admin_client.post(
        detail(fee_procedure), settings_post(param_unit_fee="250", optional_purpose=None)
    )
    fee_procedure.refresh_from_db()
    return fee_procedure


def test_the_procedure_page_says_when_a_new_version_is_out(admin_client, customised_fee_procedure):
    publish_template_version(customised_fee_procedure.template_version, version=2)

    page = text(admin_client.get(detail(customised_fee_procedure)))

    assert "ひな形の新しい版（第2版）が公開されています。" in page
    assert f'href="{upgrade(customised_fee_procedure)}"' in page


def test_the_upgrade_page_shows_the_changes_and_the_conflicts(
    admin_client, customised_fee_procedure
):
    publish_template_version(
        customised_fee_procedure.template_version, version=2, edit=_drop_the_purpose_field
    )

    page = text(admin_client.get(upgrade(customised_fee_procedure)))

    assert "第1版から第2版への移行" in page
    assert "国の説明: 第2版（試験）" in page
    assert "削除された項目: 「使いみち」（purpose）" in page
    assert "そのままでは引き継げない設定があります。" in page
    assert "任意項目「purpose」の選択は新しい版では選べません（ひな形どおりになります）。" in page
    assert 'name="accept" value="yes"' in page


def test_an_upgrade_with_conflicts_is_applied_only_when_accepted(
    admin_client, customised_fee_procedure
):
    procedure = customised_fee_procedure
    old_form = procedure.form_version
    v2 = publish_template_version(
        procedure.template_version, version=2, edit=_drop_the_purpose_field
    )

    refused = admin_client.post(upgrade(procedure), {})

    assert refused.status_code == 200
    assert "「上記の調整を受け入れる」にチェックを入れてください。" in text(refused)
    procedure.refresh_from_db()
    assert procedure.template_version.version == 1

    accepted = admin_client.post(upgrade(procedure), {"accept": "yes"}, follow=True)

    procedure.refresh_from_db()
    assert procedure.template_version == v2
    assert procedure.settings["parameters"] == {"unit_fee": 250}
    assert "ひな形の第2版に移行しました。団体の設定は引き継がれています。" in messages_of(accepted)
    assert FormVersion.objects.filter(pk=old_form.pk).exists()


def test_a_clean_upgrade_needs_no_acceptance(admin_client, customised_fee_procedure):
    procedure = customised_fee_procedure
    v2 = publish_template_version(procedure.template_version, version=2)

    page = text(admin_client.get(upgrade(procedure)))
    assert "はすべてそのまま引き継がれます。" in page
    assert 'name="accept"' not in page

    admin_client.post(upgrade(procedure), {})

    procedure.refresh_from_db()
    assert procedure.template_version == v2


def test_the_upgrade_page_of_an_up_to_date_procedure_goes_back(admin_client, adopted):
    response = admin_client.get(upgrade(adopted), follow=True)

    assert response.redirect_chain == [(detail(adopted), 302)]
    assert "この手続はひな形の最新の版を使っています。" in messages_of(response)


def test_an_own_procedure_has_no_upgrade_page(admin_client, organisation):
    own = procedure_create_own(
        organisation=organisation,
        slug="kominkan",
        definition=catalog.own_definition("公民館"),
        now=now(),
    )

    assert admin_client.get(upgrade(own)).status_code == 404


# --- Own procedures ---------------------------------------------------------------------------------

BROKEN = """\
schema_version: 1
key: kominkan
title: 公民館の利用申込み
steps:
  - key: main
    title: 申請内容
    sections:
      - key: applicant
        title: 申請者
        fields:
          - key: applicant_name
            type: person_name
            label: 申請者の氏名
          - key: room
            type: textbox
            label: 部屋の名前
"""


def test_an_admin_registers_an_own_procedure(admin_client, db):
    response = admin_client.post(
        NEW,
        {
            "slug": "kominkan-riyo",
            "kana": "コウミンカンノリヨウ",
            "definition_text": catalog.own_definition("公民館の利用申込み"),
        },
    )

    procedure = Procedure.objects.get(slug="kominkan-riyo")
    assert response["Location"] == detail(procedure)
    assert procedure.template_version is None
    assert procedure.kana == "コウミンカンノリヨウ"
    page = text(admin_client.get(detail(procedure)))
    assert "独自の手続「公民館の利用申込み」を登録しました（準備中）。" in page
    assert "国のひな形によらない、団体独自の手続です。" in page


def test_an_own_form_can_be_uploaded_as_a_file(admin_client, db):
    upload = SimpleUploadedFile(
        "kominkan.yaml", catalog.own_definition("公民館の利用申込み").encode(), "application/yaml"
    )

    response = admin_client.post(NEW, {"slug": "kominkan", "definition_file": upload})

    assert response.status_code == 302
    assert Procedure.objects.get(slug="kominkan").name == "公民館の利用申込み"


@pytest.mark.parametrize("as_file", [False, True])
def test_an_own_form_with_a_mistake_shows_its_line(admin_client, db, as_file):
    data: dict[str, Any] = {"slug": "kominkan"}
    if as_file:
        data["definition_file"] = SimpleUploadedFile("kominkan.yaml", BROKEN.encode())
    else:
        data["definition_text"] = BROKEN

    response = admin_client.post(NEW, data)

    assert response.status_code == 200
    page = text(response)
    assert "様式に1件の誤りがあります。" in page
    assert "15行目 steps[0].sections[0].fields[1].type:" in page
    assert "textbox" in page
    assert not Procedure.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"slug": "Kominkan", "definition_text": "x: 1"}, "半角英小文字で始まり"),
        ({"slug": "kominkan"}, "様式ファイルを選ぶか、内容を貼り付けてください。"),
        ({"slug": "kominkan", "definition_text": "\x00"}, "Null"),
    ],
)
def test_an_incomplete_upload_form_is_answered_on_the_page(admin_client, db, data, message):
    response = admin_client.post(NEW, data)

    assert response.status_code == 200
    assert message in text(response) or "field-error" in text(response)
    assert not Procedure.objects.exists()


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe\x00\x00",  # not UTF-8
        "title: 公民館".encode("shift_jis"),
        b"a: &x [1]\nb: *x\n",  # YAML aliases
        b"[" * 10_000 + b"]" * 10_000,
        b'schema_version: 1\nkey: k\ntitle: "\\ud800"\nsteps: []\n',
        b'schema_version: 1\nkey: k\ntitle: "\\0"\nsteps: []\n',
        b"- just\n- a\n- list\n",
        b"",
    ],
)
def test_hostile_own_form_files_are_refused_in_japanese(admin_client, db, content):
    upload = SimpleUploadedFile("form.yaml", content)

    response = admin_client.post(NEW, {"slug": "kominkan", "definition_file": upload})

    assert response.status_code == 200
    assert "notice--error" in text(response) or "field-error" in text(response)
    assert not Procedure.objects.exists()


def test_an_own_form_cannot_take_the_place_of_an_adopted_procedure(admin_client, adopted):
    response = admin_client.post(
        NEW, {"slug": "jidou-teate-nintei", "definition_text": catalog.own_definition("偽物")}
    )

    assert response.status_code == 200
    assert "ひな形から作った手続です。独自の様式には置き換えられません。" in text(response)
    adopted.refresh_from_db()
    assert adopted.name == NINTEI_NAME


# --- The preview, step by step ---------------------------------------------------------------------

PREVIEW_FORM = """\
schema_version: 1
key: kyushoku_josei
title: 給食費の助成申請
steps:
  - key: applicant
    title: 申請者
    sections:
      - key: applicant
        title: 申請者
        fields:
          - {key: applicant_name, type: person_name, label: 申請者の氏名, required: true}
          - {key: applicant_my_number, type: my_number, label: 申請者の個人番号, required: true}
  - key: children
    title: 児童
    sections:
      - key: children_list
        title: 児童
        fields:
          - key: children
            type: group
            label: 児童
            options: {min_items: 1, max_items: 3, item_label: 児童}
            fields:
              - {key: name, type: text, label: 氏名, required: true}
              - {key: school, type: text, label: 学校名}
  - key: consent
    title: 確認
    sections:
      - key: declaration
        title: 申立て
        fields:
          - {key: truth, type: consent, label: 申立て, required: true}
"""


@pytest.fixture
def kyushoku(organisation) -> Procedure:
    return procedure_create_own(
        organisation=organisation, slug="kyushoku", definition=PREVIEW_FORM, now=now()
    )


def test_the_preview_walks_through_the_steps_to_a_masked_confirmation(admin_client, kyushoku):
    url = preview(kyushoku)
    first = admin_client.get(url)
    assert first.status_code == 200
    assert "これはプレビューです。" in text(first)
    assert 'aria-current="step">1. 申請者' in text(first)

    # A wrong step stays where it is, with the errors in Japanese.
    wrong = admin_client.post(
        url,
        {"_step": "applicant", "applicant_name.family": "", "applicant_my_number": "123456789012"},
    )
    assert "入力内容に2件の誤りがあります" in text(wrong)
    assert "申請者の氏名を入力してください。" in text(wrong)
    assert "個人番号が正しくありません。" in text(wrong)
    assert 'aria-current="step">1. 申請者' in text(wrong)

    # A right step moves on, carrying its answers along.
    step2 = admin_client.post(
        url,
        {
            "_step": "applicant",
            "applicant_name.family": "髙橋",
            "applicant_name.given": "𠮷子",
            "applicant_name.family_kana": "たかはし",
            "applicant_name.given_kana": "よしこ",
            "applicant_my_number": "１２３４５６７８９０１８",
        },
    )
    assert 'aria-current="step">2. 児童' in text(step2)
    assert "児童1" in text(step2)
    answers = carried(step2)
    assert answers["applicant_name.family"] == ["髙橋"]

    # Add a second child, then remove it again: the group buttons work without JavaScript.
    added = admin_client.post(
        url, {**answers, "_step": "children", "children.0.name": "一郎", "_add": "children"}
    )
    assert "児童2" in text(added)
    assert 'value="一郎"' in text(added)
    assert "入力内容に" not in text(added)  # adding never checks the step
    removed = admin_client.post(
        url,
        {
            **answers,
            "_step": "children",
            "children.0.name": "一郎",
            "children.1.name": "次郎",
            "_remove": "children.0",
        },
    )
    assert "児童2" not in text(removed)
    assert 'value="次郎"' in text(removed)
    assert 'value="一郎"' not in text(removed)

    step3 = admin_client.post(url, {**answers, "_step": "children", "children.0.name": "次郎"})
    assert 'aria-current="step">3. 確認' in text(step3)

    # Going back keeps what was typed.
    back = admin_client.post(url, {**carried(step3), "_step": "consent", "_back": "1"})
    assert 'aria-current="step">2. 児童' in text(back)
    assert 'value="次郎"' in text(back)

    done = admin_client.post(url, {**carried(step3), "_step": "consent", "truth": "yes"})
    page = text(done)
    assert "入力内容の確認" in page
    assert "●●●●●●●●9018" in page
    assert "123456789018" not in page
    assert "髙橋 𠮷子（タカハシ ヨシコ）" in page
    assert "児童1 氏名" in page
    assert "同意する" in page
    # Nothing was stored.
    assert kyushoku.form_version.definition.versions.count() == 1


def test_the_preview_of_an_adopted_template_checks_each_step(admin_client, adopted):
    response = admin_client.post(preview(adopted), {"_step": "claimant"})

    assert "請求者の氏名を入力してください。" in text(response)
    assert "「配偶者はいますか」に「はい」か「いいえ」で答えてください。" in text(response)


@pytest.mark.parametrize(
    "data",
    [
        {"_step": "no-such-step"},
        {"_step": "\x00"},
        {"_add": "children" * 100},
        {"_add": "applicant_name"},
        {"_remove": "children.999999999999999999999"},
        {"_remove": "children.-1"},
        {"_remove": "."},
        {"children.49.name": "x", "_step": "children"},
        {"children.50.name": "x", "_step": "children"},
        {"applicant_name.family.deeper": "x"},
        {"applicant_my_number": "x" * 100_000},
    ],
)
def test_hostile_preview_posts_never_fail(admin_client, kyushoku, data):
    response = admin_client.post(preview(kyushoku), data)

    assert response.status_code == 200


def test_a_preview_step_in_the_query_string_that_does_not_exist_starts_at_the_beginning(
    admin_client, kyushoku
):
    response = admin_client.get(preview(kyushoku) + "?step=%00")

    assert 'aria-current="step">1. 申請者' in text(response)


# --- Another organisation's admin: not found, and nothing of it shown -------------------------------


@pytest.fixture
def yokohama_secret(organisation, published) -> Procedure:
    """横浜市's published procedure, with settings only 横浜市 should see."""
    return procedure_update_settings(
        organisation=organisation,
        procedure=published,
        settings={
            "contact": "横浜市こども家庭課 内線1234",
            "local_questions": [local_question(label="横浜市独自の秘密の質問")],
        },
        now=now(),
    )


def _assert_nothing_of_yokohama(response: Any) -> None:
    page = text(response)
    for secret in ("横浜市", "内線1234", "秘密の質問", NINTEI_NAME):
        assert secret not in page, secret


@pytest.mark.parametrize("page", [detail, upgrade, preview])
@pytest.mark.parametrize(
    ("method", "data"),
    [
        ("get", {}),
        ("get", {"step": "consent"}),
        ("post", {}),
        ("post", {"action": "publish"}),
        ("post", {"action": "close"}),
        ("post", {"action": "save", "contact": "鎌倉市が書き換え"}),
        ("post", {"action": "add_local", "q-label": "鎌倉の質問", "q-type": "text"}),
        ("post", {"action": "remove_local", "key": "local_q1"}),
        ("post", {"accept": "yes"}),
        ("post", {"_step": "claimant"}),
    ],
)
def test_another_organisations_admin_gets_404_and_sees_nothing(
    kamakura_admin_client, yokohama_secret, method, page, data
):
    publish_template_version(
        yokohama_secret.template_version, version=yokohama_secret.template_version.version + 1
    )
    before = (
        yokohama_secret.status,
        yokohama_secret.form_version_id,
        yokohama_secret.template_version_id,
        dict(yokohama_secret.settings),
    )

    response = getattr(kamakura_admin_client, method)(page(yokohama_secret), data)

    assert response.status_code == 404
    _assert_nothing_of_yokohama(response)
    yokohama_secret.refresh_from_db()
    assert (
        yokohama_secret.status,
        yokohama_secret.form_version_id,
        yokohama_secret.template_version_id,
        yokohama_secret.settings,
    ) == before


def test_another_organisations_procedures_are_not_listed(kamakura_admin_client, yokohama_secret):
    procedures = kamakura_admin_client.get(PROCEDURES)
    templates = kamakura_admin_client.get(TEMPLATES)

    assert "まだ手続はありません。" in text(procedures)
    _assert_nothing_of_yokohama(procedures)
    assert "採用済み" not in text(templates)
    assert f"「{NINTEI_NAME}」を採用する" in text(templates)


def test_adopting_the_same_template_in_kamakura_leaves_yokohama_alone(
    kamakura_admin_client, yokohama_secret
):
    response = kamakura_admin_client.post(adopt_url("jidou-teate-nintei"))

    theirs = Procedure.objects.get(organisation__lg_code="142042")
    assert response["Location"] == detail(theirs)
    assert theirs.settings == {}
    assert Procedure.objects.filter(organisation__lg_code="141003").count() == 1


# --- Nobody logged in -------------------------------------------------------------------------------

ANONYMOUS_URLS = [
    lambda p: PROCEDURES,
    lambda p: TEMPLATES,
    lambda p: NEW,
    lambda p: detail(p),
    lambda p: upgrade(p),
    lambda p: preview(p),
]


@pytest.mark.parametrize("url", ANONYMOUS_URLS)
def test_an_anonymous_visitor_is_sent_to_the_login_page(client, published, url):
    target = url(published)

    response = client.get(target)

    assert response.status_code == 302
    assert response["Location"] == f"/console/login/?next={target}"


@pytest.mark.parametrize("url", [*ANONYMOUS_URLS, lambda p: adopt_url("jidou-teate-genkyo")])
def test_an_anonymous_post_changes_nothing_and_asks_for_a_login(client, published, url):
    target = url(published)

    response = client.post(target, {"action": "close", "accept": "yes"})

    assert response.status_code == 302
    assert response["Location"] == f"/console/login/?next={target}"
    published.refresh_from_db()
    assert published.status == ProcedureStatus.PUBLISHED
    assert Procedure.objects.count() == 1


@pytest.mark.parametrize("index", ["①", "²", "٣", "9" * 40])
def test_the_preview_ignores_group_indexes_that_are_not_ascii_digits(
    staff_client, published, index
):
    for data in (
        {f"children.{index}.name.family": "攻撃", "_add": "children"},
        {"children.0.name.family": "山田", "_remove": f"children.{index}"},
    ):
        response = staff_client.post(preview(published), data)

        assert response.status_code in (200, 422)
        assert "攻撃" not in text(response)
