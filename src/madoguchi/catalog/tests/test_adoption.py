"""An organisation admin adopts a national template, sets it at the extension points only,
moves to a new version when the nation publishes one, and uploads own forms."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from madoguchi.applications.publishing import procedure_set_status
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure, TemplateVersion
from madoguchi.catalog.selectors import procedure_diff
from madoguchi.catalog.services import (
    CatalogError,
    UpgradeConflict,
    procedure_adopt,
    procedure_create_own,
    procedure_update_settings,
    procedure_upgrade,
    procedure_upgrade_preview,
    template_changes,
)
from madoguchi.core.time import TOKYO, now
from madoguchi.forms.models import FormVersion
from madoguchi.forms.schema import InvalidDefinition
from madoguchi.tenants.constants import OrganisationKind
from madoguchi.tenants.models import Organisation
from madoguchi.testing import (
    add_field,
    field_keys,
    local_question,
    own_definition,
    publish_template_version,
    relabel_field,
    remove_field,
)

APRIL_FIRST = datetime(2026, 4, 1, 9, 0, tzinfo=TOKYO)


def problems_of(error: pytest.ExceptionInfo[CatalogError]) -> str:
    return "\n".join(error.value.problems)


def adopt(organisation: Organisation, version: TemplateVersion, **settings: Any) -> Procedure:
    return procedure_adopt(
        organisation=organisation, template_version=version, settings=settings, now=now()
    )


def update(
    organisation: Organisation, procedure: Procedure, settings: dict[str, Any], **reception: Any
) -> Procedure:
    return procedure_update_settings(
        organisation=organisation, procedure=procedure, settings=settings, now=now(), **reception
    )


def diff_texts(procedure: Procedure) -> list[str]:
    return [line.text for line in procedure_diff(procedure=procedure)]


# --- Adopting a template -----------------------------------------------------------------------


def test_adopting_the_child_allowance_template_makes_a_draft_with_the_composed_form(
    organisation, nintei
):
    procedure = adopt(organisation, nintei)

    assert procedure.status == ProcedureStatus.DRAFT
    assert procedure.organisation == organisation
    assert procedure.template_version == nintei
    assert procedure.slug == "jidou-teate-nintei"
    assert procedure.name == "児童手当等の受給資格及び児童手当の額についての認定請求"
    assert (procedure.ial, procedure.aal, procedure.signature_required) == (3, 2, True)
    assert {event.slug for event in procedure.life_events.all()} == {"birth", "moving"}
    # The form is the organisation's own version of the template's form.
    form = procedure.form_version
    assert form.definition.organisation == organisation
    assert form.version == 1
    keys = field_keys(form.schema)
    assert "separate_custody_document" in keys  # optional, on by default
    assert "income_certificate" not in keys  # optional, off by default
    assert [step["key"] for step in form.schema["steps"]] == [
        "claimant",
        "children",
        "payment",
        "consent",
    ]


def test_adopting_the_juminhyo_template_where_it_ships(organisation, juminhyo):
    procedure = adopt(organisation, juminhyo)

    assert procedure.status == ProcedureStatus.DRAFT
    assert procedure.template_version == juminhyo
    assert procedure.form_version.definition.organisation == organisation
    assert procedure.name == juminhyo.metadata["name"]


def test_settings_can_be_given_when_adopting(organisation, fee_template):
    procedure = adopt(
        organisation, fee_template, parameters={"unit_fee": 200}, contact="市民課 045-000-0000"
    )

    assert procedure.settings["contact"] == "市民課 045-000-0000"
    assert _fee_expression(procedure) == {"multiply": [{"field": "copies"}, 200]}


def _fee_expression(procedure: Procedure) -> Any:
    for step in procedure.form_version.schema["steps"]:
        for section in step["sections"]:
            for f in section["fields"]:
                if f["key"] == "fee":
                    return f["options"]["expression"]
    raise AssertionError("no fee field")


def test_the_template_default_fee_is_used_until_the_organisation_sets_its_own(
    organisation, fee_template
):
    procedure = adopt(organisation, fee_template)

    assert _fee_expression(procedure) == {"multiply": [{"field": "copies"}, 300]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "1通あたりの手数料は0以上にしてください。"),
        (1001, "1通あたりの手数料は1000以下にしてください。"),
    ],
)
def test_a_fee_out_of_its_range_is_refused(organisation, fee_template, value, message):
    with pytest.raises(CatalogError) as error:
        adopt(organisation, fee_template, parameters={"unit_fee": value})

    assert error.value.problems == [message]
    assert not Procedure.objects.filter(organisation=organisation).exists()


@pytest.mark.parametrize("value", [0, 1000])
def test_a_fee_at_the_ends_of_its_range_is_accepted(organisation, fee_template, value):
    procedure = adopt(organisation, fee_template, parameters={"unit_fee": value})

    assert _fee_expression(procedure) == {"multiply": [{"field": "copies"}, value]}


def test_an_unknown_parameter_is_refused(organisation, fee_template):
    with pytest.raises(CatalogError) as error:
        adopt(organisation, fee_template, parameters={"discount": 10})

    assert error.value.problems == ["パラメータ「discount」はこのひな形にありません。"]


def test_a_parameter_that_is_not_a_whole_number_is_refused(organisation, fee_template):
    with pytest.raises(CatalogError) as error:
        adopt(organisation, fee_template, parameters={"unit_fee": "300円"})

    assert "parameters.unit_fee" in problems_of(error)


def test_settings_outside_the_extension_points_are_refused(organisation, nintei):
    with pytest.raises(CatalogError) as error:
        adopt(organisation, nintei, form={"title": "独自の題名"})

    assert "form" in problems_of(error)


def test_a_field_that_is_not_optional_cannot_be_switched_off(organisation, nintei):
    with pytest.raises(CatalogError) as error:
        adopt(organisation, nintei, optional_fields={"claimant_phone": False})

    assert error.value.problems == ["項目「claimant_phone」は団体が選べる任意項目ではありません。"]


def test_switching_optional_fields_on_and_off_changes_the_composed_form(organisation, nintei):
    procedure = adopt(
        organisation,
        nintei,
        optional_fields={"income_certificate": True, "separate_custody_document": False},
    )

    keys = field_keys(procedure.form_version.schema)
    assert "income_certificate" in keys
    assert "separate_custody_document" not in keys
    assert "account_document" in keys  # required documents stay whatever is chosen


def test_a_local_question_is_added_in_its_own_marked_step_before_consent(organisation, nintei):
    procedure = adopt(organisation, nintei, local_questions=[local_question(required=True)])

    steps = procedure.form_version.schema["steps"]
    assert [step["key"] for step in steps] == [
        "claimant",
        "children",
        "payment",
        "local",
        "consent",
    ]
    section = steps[3]["sections"][0]
    assert section["local"] is True
    assert section["title"] == "横浜市からの質問"
    assert [f["key"] for f in section["fields"]] == ["local_q1"]


def test_a_local_question_may_depend_on_a_template_answer(organisation, nintei):
    question = local_question(
        "local_spouse_note",
        label="配偶者と別居している理由",
        visible_if={"field": "has_spouse", "equals": True},
    )

    procedure = adopt(organisation, nintei, local_questions=[question])

    assert "local_spouse_note" in field_keys(procedure.form_version.schema)


def test_a_local_question_key_must_start_with_local(organisation, nintei):
    with pytest.raises(CatalogError) as error:
        adopt(organisation, nintei, local_questions=[local_question("newsletter")])

    assert error.value.problems == [
        "団体独自の質問1: key は local_ で始めてください（「newsletter」）。"
    ]


def test_a_local_question_with_a_broken_condition_is_refused_with_its_path(organisation, nintei):
    question = local_question(visible_if={"field": "no_such_field", "equals": True})

    with pytest.raises(CatalogError) as error:
        adopt(organisation, nintei, local_questions=[question])

    assert error.value.problems == [
        "steps[3].sections[0].fields[0].visible_if: 条件が参照する項目「no_such_field」がありません。"
    ]
    assert not Procedure.objects.filter(organisation=organisation).exists()


def test_two_local_questions_with_the_same_key_are_refused(organisation, nintei):
    with pytest.raises(CatalogError) as error:
        adopt(organisation, nintei, local_questions=[local_question(), local_question()])

    assert "local_q1" in problems_of(error)
    assert "重複" in problems_of(error)


def test_adopting_the_same_template_twice_is_refused(organisation, adopted, nintei):
    with pytest.raises(CatalogError) as error:
        adopt(organisation, nintei)

    assert error.value.problems == [
        "横浜市はこのひな形（児童手当等の受給資格及び児童手当の額についての認定請求）をすでに採用しています。"
    ]
    assert Procedure.objects.filter(organisation=organisation).count() == 1


def test_another_organisation_adopts_the_same_template_independently(
    organisation, other_organisation, adopted, nintei
):
    theirs = adopt(other_organisation, nintei, contact="鎌倉市 子育て支援課")

    assert theirs.pk != adopted.pk
    assert theirs.form_version.definition.organisation == other_organisation
    adopted.refresh_from_db()
    assert adopted.settings == {}


def test_a_ward_cannot_adopt_a_template(organisation, nintei):
    ward = Organisation.objects.filter(parent=organisation, kind=OrganisationKind.WARD).first()
    assert ward is not None

    with pytest.raises(CatalogError) as error:
        adopt(ward, nintei)

    assert error.value.problems == [f"{ward.display_name} は手続を持てません。"]


def test_an_organisation_that_no_longer_exists_cannot_adopt_a_template(other_organisation, nintei):
    other_organisation.active = False  # merged into another municipality
    other_organisation.save(update_fields=["active"])

    with pytest.raises(CatalogError) as error:
        adopt(other_organisation, nintei)

    assert error.value.problems == ["鎌倉市 は手続を持てません。"]


# --- Changing the settings ---------------------------------------------------------------------


def test_saving_the_same_settings_keeps_the_same_form_version(organisation, adopted):
    before = adopted.form_version

    update(organisation, adopted, {})

    adopted.refresh_from_db()
    assert adopted.form_version == before


def test_settings_outside_the_form_keep_the_form_version(organisation, adopted):
    before = adopted.form_version

    update(
        organisation,
        adopted,
        {"contact": "こども家庭課 045-000-0000", "department": "こども家庭課"},
    )

    adopted.refresh_from_db()
    assert adopted.form_version == before
    assert adopted.settings["contact"] == "こども家庭課 045-000-0000"


def test_a_change_to_the_form_makes_a_new_version_and_keeps_the_old_one(organisation, adopted):
    before = adopted.form_version

    update(organisation, adopted, {"optional_fields": {"income_certificate": True}})

    adopted.refresh_from_db()
    assert adopted.form_version != before
    assert adopted.form_version.version == before.version + 1
    assert adopted.form_version.definition == before.definition
    # Applications made with the first version still point at it, unchanged.
    kept = FormVersion.objects.get(pk=before.pk)
    assert kept.digest == before.digest
    assert "income_certificate" not in field_keys(kept.schema)
    assert "income_certificate" in field_keys(adopted.form_version.schema)


def test_going_back_to_earlier_settings_never_rewrites_a_version(organisation, adopted):
    first = adopted.form_version
    update(organisation, adopted, {"optional_fields": {"income_certificate": True}})
    second = adopted.form_version

    update(organisation, adopted, {"optional_fields": {"income_certificate": False}})

    adopted.refresh_from_db()
    assert adopted.form_version.digest == first.digest
    assert FormVersion.objects.filter(pk__in=[first.pk, second.pk]).count() == 2


def test_invalid_settings_change_nothing(organisation, adopted):
    before = adopted.form_version

    with pytest.raises(CatalogError):
        update(organisation, adopted, {"optional_fields": {"claimant_name": False}})

    adopted.refresh_from_db()
    assert adopted.form_version == before
    assert adopted.settings == {}


def test_a_reception_period_is_kept_with_the_procedure(organisation, adopted):
    end = APRIL_FIRST + timedelta(days=365)

    update(organisation, adopted, {}, reception_starts_at=APRIL_FIRST, reception_ends_at=end)

    adopted.refresh_from_db()
    assert adopted.reception_starts_at == APRIL_FIRST
    assert adopted.reception_ends_at == end


@pytest.mark.parametrize("days", [-1, 0])
def test_a_reception_period_that_ends_before_it_starts_is_refused(organisation, adopted, days):
    with pytest.raises(CatalogError) as error:
        update(
            organisation,
            adopted,
            {"contact": "変更"},
            reception_starts_at=APRIL_FIRST,
            reception_ends_at=APRIL_FIRST + timedelta(days=days),
        )

    assert error.value.problems == ["受付終了は受付開始より後にしてください。"]
    adopted.refresh_from_db()
    assert adopted.reception_starts_at is None
    assert adopted.settings == {}


def test_an_own_procedure_has_no_extension_points(organisation):
    own = procedure_create_own(
        organisation=organisation,
        slug="kominkan",
        definition=own_definition("公民館の利用申込み"),
        now=now(),
    )

    with pytest.raises(CatalogError) as error:
        update(organisation, own, {"contact": "生涯学習課"})

    assert error.value.problems == ["独自の手続は様式ファイルを更新してください。"]


# --- How the procedure differs from the national template -------------------------------------


def test_an_adopted_procedure_untouched_says_only_which_template_it_follows(adopted):
    assert diff_texts(adopted) == [
        "国のひな形「児童手当等の受給資格及び児童手当の額についての認定請求」第2版をもとにしています。"
    ]


def test_the_difference_lists_every_local_choice(organisation, fee_template):
    procedure = adopt(organisation, fee_template)
    update(
        organisation,
        procedure,
        {
            "parameters": {"unit_fee": 200},
            "optional_fields": {"purpose": False},
            "local_questions": [local_question(required=True)],
            "contact": "市民課 045-000-0000",
            "counter": "区役所 戸籍課",
        },
        reception_starts_at=APRIL_FIRST,
    )

    assert diff_texts(procedure) == [
        "国のひな形「住民票の写しの交付請求」第1版をもとにしています。",
        "1通あたりの手数料: ひな形 300円 → 200円",
        "任意項目「使いみち」: 求めない（ひな形の既定は求める）",
        "団体独自の質問を追加: 「広報紙の送付を希望しますか」（文字（1行）、必須）",
        "問い合わせ先: 市民課 045-000-0000",
        "受付窓口: 区役所 戸籍課",
        "受付期間: 2026-04-01 09:00 〜 —",  # in Japan time, as the admin typed it
    ]


def test_a_setting_equal_to_the_template_default_is_no_difference(organisation, fee_template):
    procedure = adopt(
        organisation,
        fee_template,
        parameters={"unit_fee": 300},
        optional_fields={"purpose": True},
    )

    assert len(diff_texts(procedure)) == 1


def test_the_difference_says_when_a_newer_template_version_is_out(adopted, nintei):
    publish_template_version(nintei, version=nintei.version + 1)

    assert f"新しい版（第{nintei.version + 1}版）が公開されています。" in diff_texts(adopted)


def test_an_own_procedure_says_it_follows_no_template(organisation):
    own = procedure_create_own(
        organisation=organisation,
        slug="kominkan",
        definition=own_definition("公民館の利用申込み"),
        now=now(),
    )

    assert diff_texts(own) == ["国のひな形によらない、団体独自の手続です。"]


# --- Moving to a new template version ---------------------------------------------------------


@pytest.fixture
def customised(organisation, fee_template) -> Procedure:
    """横浜市's 住民票 procedure, with its own fee, an optional field off, a local question."""
    procedure = adopt(
        organisation,
        fee_template,
        parameters={"unit_fee": 200},
        optional_fields={"purpose": False},
        local_questions=[local_question()],
        contact="市民課",
    )
    return procedure_set_status(
        organisation=organisation, procedure=procedure, status=ProcedureStatus.PUBLISHED
    )


def _add_delivery_and_relabel(meta: dict[str, Any], form: dict[str, Any]) -> None:
    add_field(
        form,
        "requester",
        {"key": "delivery_note", "type": "text", "label": "送付先についての連絡事項"},
    )
    relabel_field(form, "copies", "必要な通数（10通まで）")


def test_a_clean_upgrade_carries_every_local_setting_over(organisation, customised):
    v2 = publish_template_version(
        customised.template_version, version=2, edit=_add_delivery_and_relabel
    )
    old_form = customised.form_version
    settings = dict(customised.settings)

    preview = procedure_upgrade_preview(procedure=customised, to=v2)
    assert preview.conflicts == []
    assert preview.template_changes == [
        "追加された項目: 「送付先についての連絡事項」（delivery_note）",
        "項目名の変更: 「必要な通数」→「必要な通数（10通まで）」",
    ]

    procedure_upgrade(organisation=organisation, procedure=customised, to=v2, now=now())

    customised.refresh_from_db()
    assert customised.template_version == v2
    assert customised.status == ProcedureStatus.PUBLISHED
    assert customised.settings == settings
    keys = field_keys(customised.form_version.schema)
    assert "delivery_note" in keys
    assert "local_q1" in keys
    assert "purpose" not in keys
    assert _fee_expression(customised) == {"multiply": [{"field": "copies"}, 200]}
    assert customised.form_version != old_form
    assert FormVersion.objects.filter(pk=old_form.pk).exists()
    assert not any("新しい版" in text for text in diff_texts(customised))


def _drop_fee_parameter_and_optional_purpose(meta: dict[str, Any], form: dict[str, Any]) -> None:
    meta["parameters"] = {}
    meta["optional_fields"] = {}
    meta["fee"] = None
    remove_field(form, "fee")
    remove_field(form, "purpose")


def test_settings_that_cannot_be_carried_over_are_listed(customised):
    v2 = publish_template_version(
        customised.template_version, version=2, edit=_drop_fee_parameter_and_optional_purpose
    )

    preview = procedure_upgrade_preview(procedure=customised, to=v2)

    assert preview.conflicts == [
        "設定していたパラメータ「1通あたりの手数料」（200）は新しい版にありません。",
        "任意項目「purpose」の選択は新しい版では選べません（ひな形どおりになります）。",
    ]
    assert preview.settings["parameters"] == {}
    assert preview.settings["optional_fields"] == {}
    assert preview.settings["local_questions"] == [local_question()]
    assert "削除された項目: 「手数料」（fee）" in preview.template_changes
    assert "削除された項目: 「使いみち」（purpose）" in preview.template_changes


def test_an_upgrade_with_conflicts_needs_the_admin_to_accept_them(organisation, customised):
    v1 = customised.template_version
    v2 = publish_template_version(v1, version=2, edit=_drop_fee_parameter_and_optional_purpose)

    with pytest.raises(UpgradeConflict) as error:
        procedure_upgrade(organisation=organisation, procedure=customised, to=v2, now=now())

    assert len(error.value.problems) == 2
    customised.refresh_from_db()
    assert customised.template_version == v1
    assert customised.settings["parameters"] == {"unit_fee": 200}


def test_an_accepted_upgrade_applies_the_listed_adjustments(organisation, customised):
    old_form = customised.form_version
    v2 = publish_template_version(
        customised.template_version, version=2, edit=_drop_fee_parameter_and_optional_purpose
    )

    procedure_upgrade(
        organisation=organisation, procedure=customised, to=v2, accept_changes=True, now=now()
    )

    customised.refresh_from_db()
    assert customised.template_version == v2
    assert customised.settings["parameters"] == {}
    assert customised.settings["contact"] == "市民課"
    keys = field_keys(customised.form_version.schema)
    assert "fee" not in keys
    assert "local_q1" in keys
    assert FormVersion.objects.get(pk=old_form.pk).schema == old_form.schema


def test_a_new_field_with_the_key_of_a_local_question_is_a_conflict(organisation, customised):
    v1 = customised.template_version

    def collide(meta: dict[str, Any], form: dict[str, Any]) -> None:
        add_field(form, "requester", {"key": "local_q1", "type": "text", "label": "国の新しい質問"})

    v2 = publish_template_version(v1, version=2, edit=collide)

    preview = procedure_upgrade_preview(procedure=customised, to=v2)
    assert preview.conflicts == [
        "団体独自の質問「広報紙の送付を希望しますか」の key が新しい版の項目と重なっています。"
    ]
    with pytest.raises(UpgradeConflict):
        procedure_upgrade(organisation=organisation, procedure=customised, to=v2, now=now())
    # Accepting cannot make two questions out of one key: the admin must remove theirs first.
    with pytest.raises(CatalogError) as error:
        procedure_upgrade(
            organisation=organisation, procedure=customised, to=v2, accept_changes=True, now=now()
        )
    assert "local_q1" in problems_of(error)
    customised.refresh_from_db()
    assert customised.template_version == v1


def test_upgrading_to_the_same_or_an_older_version_is_refused(organisation, customised):
    v1 = customised.template_version
    v2 = publish_template_version(v1, version=2, edit=_add_delivery_and_relabel)
    procedure_upgrade(organisation=organisation, procedure=customised, to=v2, now=now())

    for target in (v2, v1):
        with pytest.raises(CatalogError) as error:
            procedure_upgrade(organisation=organisation, procedure=customised, to=target, now=now())
        assert error.value.problems == ["新しい版を指定してください。"]
    customised.refresh_from_db()
    assert customised.template_version == v2


def test_a_procedure_cannot_move_to_another_templates_version(customised, nintei):
    with pytest.raises(CatalogError) as error:
        procedure_upgrade_preview(procedure=customised, to=nintei)

    assert error.value.problems == ["この手続は、そのひな形から作られていません。"]


def test_an_older_template_version_cannot_be_published_after_a_newer_one(nintei):
    publish_template_version(nintei, version=nintei.version + 2)

    with pytest.raises(CatalogError, match=f"第{nintei.version + 2}版より古い版"):
        publish_template_version(nintei, version=nintei.version + 1)


# --- What changed between two template versions -----------------------------------------------


def test_template_changes_name_added_removed_and_relabelled_fields(nintei):
    def edit(meta: dict[str, Any], form: dict[str, Any]) -> None:
        add_field(
            form, "claimant_basic", {"key": "claimant_fax", "type": "phone", "label": "FAX番号"}
        )
        remove_field(form, "claimant_email")
        relabel_field(form, "claimant_phone", "日中の電話番号")
        meta["processing_days"] = 20

    v2 = publish_template_version(nintei, version=nintei.version + 1, edit=edit)

    assert template_changes(nintei.metadata, v2.metadata) == [
        "processing_days: 30 → 20",
        "削除された項目: 「メールアドレス」（claimant_email）",
        "追加された項目: 「FAX番号」（claimant_fax）",
        "項目名の変更: 「日中に連絡のとれる電話番号」→「日中の電話番号」",
    ]


def test_template_changes_see_inside_groups_and_required_ness(nintei):
    def edit(meta: dict[str, Any], form: dict[str, Any]) -> None:
        for step in form["steps"]:
            for section in step["sections"]:
                for f in section["fields"]:
                    if f["key"] == "children":
                        f["fields"].append({"key": "school", "type": "text", "label": "学校名"})
                    if f["key"] == "claimant_email":
                        f["required"] = True

    v2 = publish_template_version(nintei, version=nintei.version + 1, edit=edit)

    assert template_changes(nintei.metadata, v2.metadata) == [
        "「メールアドレス」: 必須になりました",
        "追加された項目: 「学校名」（children.school）",
    ]


def test_the_same_template_has_no_changes(nintei):
    assert template_changes(nintei.metadata, nintei.metadata) == []


# --- Own procedures ---------------------------------------------------------------------------


def test_an_own_procedure_is_created_from_a_yaml_file(organisation):
    procedure = procedure_create_own(
        organisation=organisation,
        slug="kominkan-riyo",
        definition=own_definition("公民館の利用申込み", description="公民館の部屋を予約します。"),
        kana="コウミンカンノリヨウモウシコミ",
        now=now(),
    )

    assert procedure.status == ProcedureStatus.DRAFT
    assert procedure.template_version is None
    assert procedure.name == "公民館の利用申込み"
    assert procedure.summary == "公民館の部屋を予約します。"
    assert procedure.form_version.definition.organisation == organisation
    assert field_keys(procedure.form_version.schema) == ["applicant_name", "applicant_phone"]


def test_uploading_the_own_form_again_gives_it_a_new_version(organisation):
    first = procedure_create_own(
        organisation=organisation,
        slug="kominkan",
        definition=own_definition("公民館の利用申込み"),
        now=now(),
    )
    old_version = first.form_version

    again = procedure_create_own(
        organisation=organisation,
        slug="kominkan",
        definition=own_definition(
            "公民館の利用申込み",
            extra_fields="- {key: room, type: text, label: 部屋の名前}",
        ),
        now=now(),
    )

    assert again.pk == first.pk
    assert again.form_version.version == old_version.version + 1
    assert FormVersion.objects.filter(pk=old_version.pk).exists()


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


def test_a_broken_own_form_is_refused_with_the_line_of_the_mistake(organisation):
    with pytest.raises(InvalidDefinition) as error:
        procedure_create_own(
            organisation=organisation, slug="kominkan", definition=BROKEN, now=now()
        )

    [problem] = error.value.problems
    assert problem.path == "steps[0].sections[0].fields[1].type"
    assert problem.line == 15  # the line "type: textbox"
    assert BROKEN.splitlines()[problem.line - 1].strip() == "type: textbox"
    assert "textbox" in problem.message
    assert not Procedure.objects.filter(organisation=organisation).exists()


def test_a_yaml_syntax_error_says_its_line(organisation):
    text = (
        "schema_version: 1\nkey: kominkan\ntitle: 公民館\n  description: 字下げの誤り\nsteps: []\n"
    )

    with pytest.raises(InvalidDefinition) as error:
        procedure_create_own(organisation=organisation, slug="kominkan", definition=text, now=now())

    [problem] = error.value.problems
    assert problem.line == 4
    assert problem.message.startswith("YAML/JSON として読めません")


@pytest.mark.parametrize("escape", ["\\0", "\\ud800"])
def test_a_character_no_database_can_store_is_refused_with_its_line(organisation, escape):
    text = own_definition(
        "公民館", extra_fields=f'- {{key: room, type: text, label: "部屋{escape}"}}'
    )

    with pytest.raises(InvalidDefinition) as error:
        procedure_create_own(organisation=organisation, slug="kominkan", definition=text, now=now())

    [problem] = error.value.problems
    assert problem.path == "steps[0].sections[0].fields[2].label"
    assert problem.line == len(text.splitlines())
    assert not Procedure.objects.filter(organisation=organisation).exists()


def test_an_own_form_cannot_replace_an_adopted_procedure(organisation, adopted):
    before = adopted.form_version

    with pytest.raises(CatalogError) as error:
        procedure_create_own(
            organisation=organisation,
            slug="jidou-teate-nintei",
            definition=own_definition("児童手当（独自）"),
            now=now(),
        )

    assert error.value.problems == [
        "「jidou-teate-nintei」はひな形から作った手続です。独自の様式には置き換えられません。"
    ]
    adopted.refresh_from_db()
    assert adopted.form_version == before
    assert adopted.template_version is not None


def test_a_ward_cannot_have_an_own_procedure(organisation):
    ward = Organisation.objects.filter(parent=organisation, kind=OrganisationKind.WARD).first()
    assert ward is not None

    with pytest.raises(CatalogError):
        procedure_create_own(
            organisation=ward, slug="kominkan", definition=own_definition("公民館"), now=now()
        )

    assert not Procedure.objects.filter(organisation=ward).exists()


# --- Another organisation's procedure ---------------------------------------------------------


def test_another_organisations_procedure_cannot_be_changed(other_organisation, customised):
    v2 = publish_template_version(customised.template_version, version=2)
    before = (customised.form_version_id, customised.template_version_id, customised.status)

    with pytest.raises(Procedure.DoesNotExist):
        update(other_organisation, customised, {"contact": "鎌倉市"})
    with pytest.raises(Procedure.DoesNotExist):
        procedure_upgrade(organisation=other_organisation, procedure=customised, to=v2, now=now())
    with pytest.raises(Procedure.DoesNotExist):
        procedure_set_status(
            organisation=other_organisation, procedure=customised, status=ProcedureStatus.CLOSED
        )

    customised.refresh_from_db()
    assert (customised.form_version_id, customised.template_version_id, customised.status) == before
    assert customised.settings["contact"] == "市民課"
