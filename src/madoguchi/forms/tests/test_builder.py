"""The form builder's edits: pure operations on a definition that the engine's own check
judges, with each problem attached to the element that causes it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from madoguchi.forms.builder import (
    BLOCKS,
    MAX_CHOICES,
    MAX_DRAFT_FIELDS,
    BuilderError,
    blank_definition,
    block_insert,
    computed_guided,
    computed_set,
    computed_words,
    condition_set,
    definition_yaml,
    element_add,
    element_at,
    element_move,
    element_of,
    element_remove,
    field_type_choices,
    field_update,
    key_from_label,
    problems_by_element,
    references,
)
from madoguchi.forms.engine import validate
from madoguchi.forms.schema import check_definition, parse_definition_text

SECTION = "steps[0].sections[0]"


def with_fields(*types: str) -> dict[str, Any]:
    definition = blank_definition(title="テスト様式")
    for position, ftype in enumerate(types):
        definition, _ = element_add(
            definition, parent=SECTION, position=position, kind="field", field_type=ftype
        )
    return definition


def test_a_blank_form_is_a_valid_definition():
    definition = blank_definition(title="イベント申込")
    check_definition(definition)
    assert problems_by_element(definition) == {}


def test_every_field_type_of_the_engine_is_in_the_palette_and_checks_when_added():
    types = [key for key, _ in field_type_choices()]
    assert {"text", "choice", "computed", "group", "attachment", "my_number"} <= set(types)
    definition = with_fields(*types)
    assert problems_by_element(definition) == {}
    keys = [f["key"] for f in element_at(definition, SECTION)["fields"]]
    assert len(keys) == len(set(keys))


def test_an_edit_returns_a_new_definition_and_leaves_the_argument_alone():
    before = with_fields("text")
    snapshot = repr(before)
    element_add(before, parent=SECTION, position=0, kind="field", field_type="number")
    field_update(before, path=f"{SECTION}.fields[0]", changes={"label": "別の名前"})
    element_remove(before, path=f"{SECTION}.fields[0]")
    assert repr(before) == snapshot


def test_keys_come_from_the_label_and_stay_when_the_label_changes():
    assert key_from_label("Email address", taken=set(), fallback="email") == "email_address"
    assert key_from_label("氏名", taken=set(), fallback="text") == "text"
    assert key_from_label("氏名", taken={"text", "text_2"}, fallback="text") == "text_3"
    definition, path = element_add(
        blank_definition(title="t"), parent=SECTION, position=0, kind="field", label="品目"
    )
    key = element_at(definition, path)["key"]
    renamed = field_update(definition, path=path, changes={"label": "品目の名前"})
    assert element_at(renamed, path)["key"] == key


def test_a_rename_to_a_key_already_used_is_refused():
    definition = with_fields("text", "number")
    first = element_at(definition, f"{SECTION}.fields[0]")["key"]
    with pytest.raises(BuilderError, match="すでに使われています"):
        field_update(definition, path=f"{SECTION}.fields[1]", changes={"key": first})
    with pytest.raises(BuilderError, match="半角英小文字"):
        field_update(definition, path=f"{SECTION}.fields[1]", changes={"key": "品目"})


def test_move_up_and_down_and_insert_at_a_position():
    definition = with_fields("text", "number", "email")
    moved, path = element_move(definition, path=f"{SECTION}.fields[2]", offset=-1)
    assert path == f"{SECTION}.fields[1]"
    assert [f["type"] for f in element_at(moved, SECTION)["fields"]] == ["text", "email", "number"]
    same, path = element_move(moved, path=f"{SECTION}.fields[0]", offset=-1)
    assert path == f"{SECTION}.fields[0]"
    assert same == moved
    inserted, path = element_add(moved, parent=SECTION, position=1, kind="field", field_type="date")
    assert path == f"{SECTION}.fields[1]"
    assert [f["type"] for f in element_at(inserted, SECTION)["fields"]][:2] == ["text", "date"]


def test_steps_and_sections_are_added_moved_and_the_last_one_kept():
    definition, step = element_add(blank_definition(title="t"), parent="", position=1, kind="step")
    assert step == "steps[1]"
    definition, section = element_add(definition, parent=step, position=0, kind="section")
    assert section == "steps[1].sections[0]"
    assert problems_by_element(definition) == {}
    with pytest.raises(BuilderError, match="最後の"):
        element_remove(blank_definition(title="t"), path="steps[0]")
    with pytest.raises(BuilderError, match="その要素はありません"):
        element_remove(definition, path="steps[9]")
    with pytest.raises(BuilderError, match="その要素はありません"):
        element_move(definition, path="steps[0].<script>", offset=1)


def test_a_repeatable_group_holds_fields_but_no_group():
    definition = with_fields("group")
    group = f"{SECTION}.fields[0]"
    definition, child = element_add(
        definition, parent=group, position=1, kind="child", field_type="number", label="数量"
    )
    assert child == f"{group}.fields[1]"
    assert problems_by_element(definition) == {}
    with pytest.raises(BuilderError, match="グループの中にグループ"):
        element_add(definition, parent=group, position=0, kind="child", field_type="group")
    with pytest.raises(BuilderError, match="繰り返しグループだけ"):
        element_add(with_fields("text"), parent=f"{SECTION}.fields[0]", position=0, kind="child")


def test_a_block_is_inserted_in_one_step_with_unique_keys():
    definition, path = block_insert(
        blank_definition(title="t"), parent=SECTION, position=0, block="applicant"
    )
    assert path == f"{SECTION}.fields[0]"
    definition, _ = block_insert(definition, parent=SECTION, position=4, block="contact")
    fields = element_at(definition, SECTION)["fields"]
    assert [f["type"] for f in fields] == [
        "person_name",
        "birth_date",
        "address",  # with its own postal code: not asked twice
        "phone",
        "phone",
        "email",
    ]
    assert fields[4]["key"] == "phone_2"
    assert problems_by_element(definition) == {}
    assert set(BLOCKS) >= {"applicant", "contact"}
    with pytest.raises(BuilderError):
        block_insert(definition, parent=SECTION, position=0, block="nope")


def test_options_are_edited_and_the_engine_uses_them():
    definition = with_fields("text", "number", "choice", "attachment")
    text, number, choice, attachment = (f"{SECTION}.fields[{i}]" for i in range(4))
    definition = field_update(
        definition,
        path=text,
        changes={"label": "品目", "help": "例）自転車", "required": "on", "max_length": "10"},
    )
    definition = field_update(
        definition, path=number, changes={"min": "１", "max": "10", "unit": "点"}
    )
    definition = field_update(
        definition, path=choice, changes={"choices": "a:一戸建て\n集合住宅", "widget": "radio"}
    )
    definition = field_update(
        definition,
        path=attachment,
        changes={
            "accept": ["pdf"],
            "max_bytes": "1048576",
            "max_files": "2",
            "privacy": "personal",
        },
    )
    assert element_at(definition, number)["options"] == {"min": 1, "max": 10, "unit": "点"}
    assert element_at(definition, choice)["options"]["choices"] == [
        {"value": "a", "label": "一戸建て"},
        {"value": "choice_2", "label": "集合住宅"},
    ]
    spec = check_definition(definition)
    keys = [f.key for f in spec.fields]
    result = validate(
        spec, {keys[0]: "あ" * 11, keys[1]: "11", keys[2]: "a"}, today=date(2026, 1, 5)
    )
    assert "10文字以内" in result.errors[keys[0]]
    assert keys[1] in result.errors
    with pytest.raises(BuilderError, match="数字"):
        field_update(definition, path=number, changes={"min": "たくさん"})
    with pytest.raises(BuilderError, match="大きすぎ"):
        field_update(definition, path=number, changes={"max": "1e400"})


def test_a_condition_offers_only_valid_references_and_runs():
    definition = with_fields("choice", "notice", "text")
    choice, notice, text = (f"{SECTION}.fields[{i}]" for i in range(3))
    choice_key = element_at(definition, choice)["key"]
    offered = [r.key for r in references(definition, path=notice)]
    assert choice_key in offered
    assert element_at(definition, notice)["key"] not in offered  # no value, and itself
    definition = condition_set(
        definition,
        path=notice,
        which="visible_if",
        ref=choice_key,
        operator="equals",
        value="choice_2",
    )
    definition = condition_set(
        definition,
        path=text,
        which="required_if",
        ref=choice_key,
        operator="equals",
        value="choice_1",
    )
    assert element_at(definition, notice)["visible_if"] == {
        "field": choice_key,
        "equals": "choice_2",
    }
    spec = check_definition(definition)
    text_key = element_at(definition, text)["key"]
    assert text_key in validate(spec, {choice_key: "choice_1"}, today=date(2026, 1, 5)).errors
    assert text_key not in validate(spec, {choice_key: "choice_2"}, today=date(2026, 1, 5)).errors
    with pytest.raises(BuilderError, match="一覧から"):
        condition_set(
            definition, path=text, which="visible_if", ref="nothing", operator="equals", value="x"
        )
    with pytest.raises(BuilderError, match="比べ方"):
        condition_set(
            definition, path=text, which="visible_if", ref=choice_key, operator="eval", value="x"
        )
    cleared = condition_set(definition, path=notice, which="visible_if", ref="", operator="")
    assert "visible_if" not in element_at(cleared, notice)


def test_a_fee_is_computed_from_the_sum_of_a_group_times_a_unit_price():
    definition = with_fields("group", "computed")
    group, fee = f"{SECTION}.fields[0]", f"{SECTION}.fields[1]"
    definition, quantity = element_add(
        definition, parent=group, position=1, kind="child", field_type="number", label="数量"
    )
    group_key = element_at(definition, group)["key"]
    quantity_key = element_at(definition, quantity)["key"]
    definition = computed_set(
        definition, path=fee, kind="sum_times", ref=f"{group_key}.{quantity_key}", factor="300"
    )
    spec = check_definition(definition)
    fee_key = element_at(definition, fee)["key"]
    child_key = element_at(definition, f"{group}.fields[0]")["key"]
    answers = {
        group_key: [{child_key: "机", quantity_key: "2"}, {child_key: "椅子", quantity_key: "3"}]
    }
    result = validate(spec, answers, today=date(2026, 1, 5))
    assert result.answers[fee_key] == 1500
    with pytest.raises(BuilderError):
        computed_set(definition, path=fee, kind="sum_times", ref=f"{group_key}.nothing")
    with pytest.raises(BuilderError, match="計算値の項目だけ"):
        computed_set(definition, path=group, kind="constant")


def test_problems_are_attached_to_the_element_that_causes_them():
    definition = with_fields("choice", "text")
    choice, text = f"{SECTION}.fields[0]", f"{SECTION}.fields[1]"
    key = element_at(definition, choice)["key"]
    definition = condition_set(
        definition, path=text, which="visible_if", ref=key, operator="filled"
    )
    removed = element_remove(definition, path=choice)
    problems = problems_by_element(removed)
    assert list(problems) == [f"{SECTION}.fields[0]"]  # the text field, now first
    assert "参照する項目" in problems[f"{SECTION}.fields[0]"][0]
    assert element_of("steps[0].sections[1].fields[2].options.expression") == (
        "steps[0].sections[1].fields[2]"
    )
    assert element_of("title") == ""


def test_a_cycle_in_computed_values_is_shown_on_the_computed_field():
    definition = with_fields("number", "computed", "computed")
    number, first, second = (f"{SECTION}.fields[{i}]" for i in range(3))
    keys = [element_at(definition, p)["key"] for p in (number, first, second)]
    definition = computed_set(definition, path=first, kind="field_times", ref=keys[2], factor="2")
    definition = computed_set(definition, path=second, kind="field_times", ref=keys[1], factor="2")
    problems = problems_by_element(definition)
    assert any("循環" in m for m in problems[first])
    assert any("循環" in m for m in problems[second])


def test_hostile_labels_are_kept_as_text_without_invisible_controls():
    hostile = "<script>alert(1)</script>\u202e申請\u2066者\u200b"
    definition, path = element_add(
        blank_definition(title="t"), parent=SECTION, position=0, kind="field", label=hostile
    )
    assert element_at(definition, path)["label"] == "<script>alert(1)</script>申請者"
    with pytest.raises(BuilderError, match="入力してください"):
        field_update(definition, path=path, changes={"label": "\u202e\u200b "})
    with pytest.raises(BuilderError, match="200文字以内"):
        field_update(definition, path=path, changes={"label": "あ" * 201})
    with pytest.raises(BuilderError):
        field_update(definition, path=path, changes={"label": ["not", "text"]})


def test_ten_thousand_choices_are_refused_with_a_message():
    definition = with_fields("choice")
    text = "\n".join(f"選択肢{n}" for n in range(10_000))
    with pytest.raises(BuilderError, match=f"{MAX_CHOICES}個まで"):
        field_update(definition, path=f"{SECTION}.fields[0]", changes={"choices": text})
    with pytest.raises(BuilderError, match="2回"):
        field_update(definition, path=f"{SECTION}.fields[0]", changes={"choices": "a:一\na:二"})


def test_a_thousand_fields_stop_at_the_draft_limit_and_the_check_says_too_many():
    definition = blank_definition(title="t")
    for step in range(1, 6):
        definition, _ = element_add(definition, parent="", position=step, kind="step")
    added, refused = 0, ""
    for n in range(1000):
        parent = f"steps[{n // 200}].sections[0]"
        try:
            definition, _ = element_add(
                definition, parent=parent, position=n, kind="field", field_type="text"
            )
        except BuilderError as error:
            refused = str(error)
            break
        added += 1
    assert added == MAX_DRAFT_FIELDS
    assert "項目が多すぎます" in refused
    problems = problems_by_element(definition)
    assert any("項目が多すぎます" in m for m in problems[""])


def test_yaml_export_reads_back_unchanged():
    definition, _ = block_insert(
        with_fields("choice", "date", "yesno", "computed"),
        parent=SECTION,
        position=0,
        block="applicant",
    )
    definition = field_update(
        definition, path=f"{SECTION}.fields[5]", changes={"min": "2025-04-01", "max": "today+60d"}
    )
    definition = field_update(
        definition, path=f"{SECTION}.fields[4]", changes={"choices": "yes:はい\nno:いいえ\n1:一"}
    )
    text = definition_yaml(definition)
    assert "氏名" in text
    _, data = parse_definition_text(text)
    assert data == definition


def test_a_condition_on_a_choice_takes_the_label_residents_see_and_refuses_what_is_no_choice():
    """Staff type 「選択肢2」 as residents see it; the condition compares the choice's value
    (choice_2), so it holds when that choice is picked. A text that is no choice would make a
    condition that never holds: refused, with the choices named."""
    definition = with_fields("choice", "text")
    choice, text = (f"{SECTION}.fields[{i}]" for i in range(2))
    choice_key = element_at(definition, choice)["key"]
    shown = condition_set(
        definition,
        path=text,
        which="visible_if",
        ref=choice_key,
        operator="equals",
        value="選択肢2",
    )
    assert element_at(shown, text)["visible_if"] == {"field": choice_key, "equals": "choice_2"}
    listed = condition_set(
        definition,
        path=text,
        which="visible_if",
        ref=choice_key,
        operator="in",
        value="選択肢1、choice_2",
    )
    assert element_at(listed, text)["visible_if"]["in"] == ["choice_1", "choice_2"]
    for operator, value in (("equals", "大会議室"), ("in", "選択肢1, 大会議室")):
        with pytest.raises(BuilderError, match=r"「大会議室」は.*選択肢にありません.*「選択肢1」"):
            condition_set(
                definition,
                path=text,
                which="visible_if",
                ref=choice_key,
                operator=operator,
                value=value,
            )


@pytest.mark.parametrize(
    ("kind", "target", "factor", "offset", "words"),
    [
        ("constant", "", "1", "500", "いつも 500"),
        ("field_times", "number", "2", "0", "「人数」 × 2"),
        ("sum_times", "group.quantity", "300", "100", "「品目」の「数量」の合計 × 300 ＋ 100"),
        ("count_times", "group", "500", "0", "「品目」の件数 × 500"),
    ],
)
def test_the_editor_reopens_on_the_formula_a_computed_field_has(
    kind, target, factor, offset, words
):
    """QA: the 計算値 panel showed raw JSON and reset to 決まった数, so pressing its button
    turned a fee of 件数 × 500 into 0. The guided choices are read back from the expression."""
    definition = with_fields("number", "group", "computed")
    number, group, fee = (f"{SECTION}.fields[{i}]" for i in range(3))
    definition = field_update(definition, path=number, changes={"label": "人数"})
    definition = field_update(definition, path=group, changes={"label": "品目"})
    definition, quantity = element_add(
        definition, parent=group, position=1, kind="child", field_type="number", label="数量"
    )
    keys = {
        "number": element_at(definition, number)["key"],
        "group": element_at(definition, group)["key"],
    }
    keys["group.quantity"] = f"{keys['group']}.{element_at(definition, quantity)['key']}"
    ref = keys.get(target, "")
    definition = computed_set(
        definition, path=fee, kind=kind, ref=ref, factor=factor, offset=offset
    )
    expression = element_at(definition, fee)["options"]["expression"]

    guided = computed_guided(expression)

    assert guided == {"kind": kind, "ref": ref, "factor": factor, "offset": offset}
    labels = {keys["number"]: "人数", keys["group"]: "品目", keys["group.quantity"]: "数量"}
    assert computed_words(guided, labels) == words
    assert computed_guided({"multiply": [{"field": "a"}, {"field": "b"}]}) is None  # YAML only
