"""An organisation admin uploads a form definition: every mistake is reported at once, with the
path in the definition and the line of the file, and nothing hostile gets through."""

import json
import textwrap
import time
from typing import Any

import pytest

from madoguchi.forms.constants import Privacy
from madoguchi.forms.schema import (
    DEFINITION_SCHEMA,
    MAX_DEFINITION_BYTES,
    DefinitionProblem,
    InvalidDefinition,
    check_definition,
    load_definition_text,
    parse_definition_text,
)

from .factories import CHOICES, definition, field

GOOD = textwrap.dedent(
    """\
    schema_version: 1
    key: jidou_teate
    title: 児童手当 認定請求書
    description: 児童を養育している方が請求します。
    steps:
      - key: applicant
        title: 請求者
        sections:
          - key: person
            title: 請求者の情報
            fields:
              - key: name
                type: person_name
                label: 氏名
                required: true
              - key: moved_in
                type: date
                label: 転入日
                options:
                  min: 2019-05-01
                  max: today
              - key: has_spouse
                type: yesno
                label: 配偶者の有無
              - key: spouse
                type: person_name
                label: 配偶者の氏名
                visible_if: {field: has_spouse, equals: true}
      - key: children
        title: 児童
        sections:
          - key: list
            title: 養育している児童
            fields:
              - key: children
                type: group
                label: 児童
                options: {min_items: 1, max_items: 10}
                fields:
                  - {key: name, type: text, label: 氏名, required: true}
                  - {key: birth_date, type: birth_date, label: 生年月日}
              - key: count
                type: computed
                label: 児童の数
                options:
                  expression: {count: children}
    """
)


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line of ``text`` containing ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def problems_of(text: str | bytes) -> list[DefinitionProblem]:
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition_text(text)
    return caught.value.problems


def problems_of_data(data: Any) -> list[DefinitionProblem]:
    with pytest.raises(InvalidDefinition) as caught:
        check_definition(data)
    return caught.value.problems


def test_a_good_definition_is_read_with_its_dates_as_text():
    spec, data = parse_definition_text(GOOD)
    assert spec.key == "jidou_teate"
    assert [f.key for f in spec.fields] == [
        "name",
        "moved_in",
        "has_spouse",
        "spouse",
        "children",
        "count",
    ]
    assert data["steps"][0]["sections"][0]["fields"][1]["options"]["min"] == "2019-05-01"
    assert json.loads(json.dumps(data)) == data


def test_json_is_read_as_well_as_yaml():
    spec, data = parse_definition_text(
        json.dumps(definition(field("a", "text")), ensure_ascii=False)
    )
    assert data == definition(field("a", "text"))
    assert spec.fields[0].key == "a"


def test_dates_in_yaml_stay_strings_wherever_they_are():
    data, _ = load_definition_text("a: 2025-04-01\nb: 2025-04-01 10:00:00\nc: [2019-05-01]\n")
    assert data == {"a": "2025-04-01", "b": "2025-04-01 10:00:00", "c": ["2019-05-01"]}


def test_a_utf8_file_with_a_byte_order_mark_is_read():
    spec, _ = parse_definition_text(b"\xef\xbb\xbf" + GOOD.encode())
    assert spec.title == "児童手当 認定請求書"


def test_the_definition_schema_is_itself_valid():
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(DEFINITION_SCHEMA)


# --- Each mistake, with its path and line -----------------------------------------------------


def broken(old: str, new: str, text: str = GOOD) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_an_unknown_type_lists_the_types_there_are():
    text = broken("type: yesno", "type: yes_no")
    [problem] = problems_of(text)
    assert problem.path == "steps[0].sections[0].fields[2].type"
    assert problem.line == line_of(text, "type: yes_no")
    assert "'yes_no'" in problem.message
    assert "yesno" in problem.message
    assert str(problem).startswith(f"{problem.line}行目 steps[0].sections[0].fields[2].type: ")


def test_a_key_written_twice_in_yaml_is_refused_rather_than_silently_overwritten():
    text = broken(
        "    label: 配偶者の有無\n", "    label: 配偶者の有無\n            label: 配偶者\n"
    )
    [problem] = problems_of(text)
    assert problem.path == "steps[0].sections[0].fields[2].label"
    assert problem.line == line_of(text, "label: 配偶者", 2)
    assert "2回" in problem.message


def test_two_fields_with_the_same_key_are_refused():
    text = broken("key: has_spouse", "key: name")
    problems = problems_of(text)
    assert problems[0].path == "steps[0].sections[0].fields[2].key"
    assert problems[0].line == line_of(text, "- key: name", 2)
    assert "「name」が重複" in problems[0].message


def test_a_condition_on_a_field_that_does_not_exist():
    text = broken("{field: has_spouse, equals: true}", "{field: has_spuose, equals: true}")
    [problem] = problems_of(text)
    assert problem.path == "steps[0].sections[0].fields[3].visible_if"
    assert problem.line == line_of(text, "visible_if")
    assert problem.message == "条件が参照する項目「has_spuose」がありません。"


def test_a_field_cannot_depend_on_itself():
    text = broken("{field: has_spouse, equals: true}", "{field: spouse, filled: true}")
    [problem] = problems_of(text)
    assert problem.message == "自分自身を条件にはできません。"
    assert problem.line == line_of(text, "visible_if")


def test_computed_values_that_refer_to_each_other_in_a_circle_are_refused():
    data = definition(
        field("a", "computed", options={"expression": {"add": [{"field": "b"}, 1]}}),
        field("b", "computed", options={"expression": {"multiply": [{"field": "a"}, 2]}}),
        field("c", "computed", options={"expression": {"field": "c"}}),
    )
    problems = problems_of_data(data)
    messages = {(p.path, p.message) for p in problems}
    base = "steps[0].sections[0].fields"
    assert (f"{base}[0].options.expression", "計算式が循環しています。") in messages
    assert (f"{base}[1].options.expression", "計算式が循環しています。") in messages
    assert (f"{base}[2].options.expression", "計算式が自分自身を参照しています。") in messages


def test_a_group_cannot_hold_a_group():
    text = broken(
        "- {key: birth_date, type: birth_date, label: 生年月日}",
        "- {key: toys, type: group, label: おもちゃ, fields: [{key: x, type: text, label: X}]}",
    )
    [problem] = problems_of(text)
    assert problem.path == "steps[1].sections[0].fields[0].fields[1].type"
    assert problem.message == "グループの中にグループは置けません。"
    assert problem.line == line_of(text, "key: toys")


def test_a_notice_cannot_be_required():
    text = broken(
        "          - key: has_spouse",
        "          - key: caution\n            type: notice\n            label: 注意\n"
        "            required: true\n          - key: has_spouse",
    )
    [problem] = problems_of(text)
    assert problem.message == "notice 型の項目は必須にできません。"
    assert problem.line == line_of(text, "required: true", 2)


def test_choice_values_must_be_simple_and_unique():
    bad = [{"value": "a b", "label": "空白"}, {"value": "徒歩", "label": "漢字"}]
    problems = problems_of_data(definition(field("c", "choice", options={"choices": bad})))
    assert [p.path for p in problems] == [
        "steps[0].sections[0].fields[0].options.choices[0].value",
        "steps[0].sections[0].fields[0].options.choices[1].value",
    ]
    assert "半角英数字と _ -" in problems[0].message
    twice = [CHOICES[0], CHOICES[0]]
    [problem] = problems_of_data(definition(field("c", "choice", options={"choices": twice})))
    assert problem.message == "選択肢の value が重複しています。"


def test_a_missing_required_property_is_named():
    text = broken("            label: 配偶者の有無\n", "")
    [problem] = problems_of(text)
    assert problem.path == "steps[0].sections[0].fields[2]"
    assert problem.message == "必須の項目「label」がありません。"
    assert problem.line == line_of(text, "key: has_spouse")


def test_an_unknown_property_is_named_so_a_typo_is_found():
    text = broken("            required: true\n", "            requird: true\n")
    [problem] = problems_of(text)
    assert problem.message == "使えない項目 'requird' があります（綴りを確かめてください）。"
    assert problem.line == line_of(text, "key: name")


def test_an_unknown_option_of_a_type_is_named():
    text = broken("options: {min_items: 1, max_items: 10}", "options: {min_items: 1, max: 10}")
    [problem] = problems_of(text)
    assert problem.path == "steps[1].sections[0].fields[0].options"
    assert "'max'" in problem.message
    assert problem.line == line_of(text, "max: 10")


def test_a_date_bound_must_be_a_real_date_or_today_relative():
    for bound, says in (("2025-13-45", "日付として読めません"), ("2025/04/01", "today-18y")):
        [problem] = problems_of_data(definition(field("d", "date", options={"min": bound})))
        assert says in problem.message, problem.message


def test_a_date_bound_may_refer_only_to_another_date():
    data = definition(field("t", "text"), field("d", "date", options={"min": {"field": "t"}}))
    [problem] = problems_of_data(data)
    assert problem.message == "日付の範囲が参照する日付項目「t」がありません。"


def test_my_number_is_always_specific_personal_information_whatever_the_definition_says():
    spec = check_definition(definition(field("m", "my_number", privacy="ordinary")))
    assert spec.fields[0].privacy == Privacy.SPECIFIC


def test_only_groups_have_fields_and_a_group_is_not_empty():
    problems = problems_of_data(
        definition(
            field("t", "text", fields=[field("x", "text")]),
            field(
                "g", "group", options={"min_items": 5, "max_items": 2}, fields=[field("x", "text")]
            ),
        )
    )
    assert {p.message for p in problems} == {
        "fields を持てるのは group 型だけです。",
        "min_items が max_items より大きくなっています。",
    }


def test_every_problem_of_the_schema_is_reported_at_once():
    text = GOOD
    for old, new in (
        ("type: yesno", "type: yes_no"),
        ("            required: true\n", "            requird: true\n"),
        ("key: jidou_teate", "key: 児童手当"),
        ("    title: 児童\n", "    title: 123\n"),
    ):
        text = broken(old, new, text)
    problems = problems_of(text)
    assert len(problems) == 4
    assert all(p.line for p in problems)


def test_every_problem_of_meaning_is_reported_at_once():
    data = definition(
        field("a", "text", visible_if={"field": "zzz", "filled": True}),
        field("a", "notice", required=True),
        field("b", "text", required_if={"field": "b", "filled": True}),
    )
    assert len(problems_of_data(data)) == 4


# --- Text that is not a definition -------------------------------------------------------------


def test_a_yaml_syntax_error_says_on_which_line():
    text = broken("title: 児童手当 認定請求書\n", "title: [児童手当 認定請求書\n")
    [problem] = problems_of(text)
    assert problem.path == ""
    assert problem.message.startswith("YAML/JSON として読めません")
    assert problem.line is not None
    assert line_of(text, "title: [児童手当") <= problem.line <= line_of(text, "title: 請求者") + 1


def test_yaml_aliases_are_refused_so_a_billion_laughs_stays_small():
    bomb = textwrap.dedent(
        """\
        a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
        b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
        c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
        d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
        e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
        f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
        g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
        h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
        i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
        """
    )
    started = time.monotonic()
    [problem] = problems_of(bomb)
    assert time.monotonic() - started < 5
    assert "エイリアス" in problem.message
    assert problem.line == 2


@pytest.mark.parametrize("text", ["a: 1\n" * (MAX_DEFINITION_BYTES // 5 + 1)])
def test_a_file_over_one_megabyte_is_refused_unread(text):
    assert problems_of(text)[0].message == "ファイルが大きすぎます（1MBまで）。"
    assert problems_of(text.encode())[0].message == "ファイルが大きすぎます（1MBまで）。"


@pytest.mark.parametrize(
    "encoded", [GOOD.encode("shift_jis"), GOOD.encode("utf-16"), b"\xff\xfe\x00"]
)
def test_a_file_that_is_not_utf8_is_refused(encoded):
    [problem] = problems_of(encoded)
    assert problem.message == "文字コードは UTF-8 にしてください。"


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system ['echo owned']\n",
        "a: !!python/name:os.system\n",
        "a: !!binary aGVsbG8=\n",
        "a: !custom x\n",
    ],
)
def test_yaml_tags_that_build_objects_are_not_followed(text):
    problems = problems_of(text)
    assert problems
    assert all(isinstance(p.message, str) for p in problems)


@pytest.mark.parametrize("text", ["", "null", "[]", "1", "'text'", "- a\n- b\n"])
def test_a_file_that_is_not_a_mapping_is_refused(text):
    [problem] = problems_of(text)
    assert problem.message == "値の型が正しくありません（object が必要です）。"


@pytest.mark.parametrize("depth", [100, 1000, 100_000])
def test_deep_nesting_is_refused_without_exhausting_the_stack(depth):
    problems_of("[" * depth + "]" * depth)
    problems_of("a: " + "{b: " * depth + "1" + "}" * depth)
    data: Any = []
    for _ in range(depth):
        data = [data]
    problems_of_data(data)
    problems_of_data({**definition(), "description": data})


@pytest.mark.parametrize("depth", [60, 200, 5000])
def test_a_condition_nested_too_deep_is_refused_in_japanese(depth):
    condition = {"field": "a", "filled": True}
    for _ in range(depth):
        condition = {"not": condition}
    problems = problems_of_data(
        definition(field("a", "text"), field("b", "text", visible_if=condition))
    )
    assert problems[0].message.startswith("入れ子が深すぎます")


@pytest.mark.parametrize(
    "text",
    [
        "min: .nan",
        "min: .inf",
        "min: -.inf",
    ],
)
def test_numbers_that_json_cannot_hold_are_refused(text):
    yaml_text = broken("type: yesno", "type: number\n            options: {" + text + "}")
    [problem] = problems_of(yaml_text)
    assert problem.message == "数値に .nan や .inf は使えません。"
    assert problem.path == "steps[0].sections[0].fields[2].options.min"
    assert problem.line == line_of(yaml_text, "options: {" + text)


def test_nul_and_lone_surrogates_are_refused_before_they_reach_the_database():
    problems = problems_of(broken("title: 児童手当 認定請求書", 'title: "児童\\0手当\\ud800"'))
    assert problems[0].path == "title"


@pytest.mark.parametrize("type_", ["choice", "multichoice", "computed"])
def test_a_type_that_needs_options_cannot_leave_them_out(type_):
    [problem] = problems_of_data(definition(field("a", type_)))
    assert problem.path == "steps[0].sections[0].fields[0]"
    assert problem.message == "必須の項目「options」がありません。"


def test_json_is_read_by_json_rules_so_escaped_names_and_exponents_survive():
    data = definition(
        field("name", "text", "𠮷野の氏名"),
        field("n", "number", "数", options={"min": 1e-05, "max": 1e16}),
    )
    spec, stored = parse_definition_text(json.dumps(data))  # 𠮷 as "\ud842\udfb7"
    assert spec.fields[0].label == "𠮷野の氏名"
    assert spec.fields[1].options == {"min": 1e-05, "max": 1e16}
    assert stored == data


def test_json_with_a_problem_still_reports_the_line():
    text = json.dumps(
        definition(field("a", "text"), field("b", "txt")), ensure_ascii=False, indent=2
    )
    [problem] = problems_of(text)
    assert problem.path == "steps[0].sections[0].fields[1].type"
    assert problem.line == line_of(text, '"txt"')


def test_a_character_yaml_cannot_read_is_named_with_its_line():
    [problem] = problems_of("schema_version: 1\ntitle: 児童\x7f手当\n")
    assert problem.message == "YAML/JSON として読めません: 使えない文字（U+007F）が含まれています。"
    assert problem.line == 2


def test_a_definition_checked_again_gets_the_same_verdict_and_a_change_is_checked_afresh():
    """The schema's verdicts are remembered by the definition's content (a builder checks the
    same definition after every edit): the same problems each time, and an edit is never
    answered with the verdict of the definition before it."""
    good = definition(field("name", "text", "氏名"))
    bad = definition(field("name", "text", "氏名", colour="red"))

    check_definition(good)
    for _ in range(2):
        with pytest.raises(InvalidDefinition) as first:
            check_definition(bad)
        assert [p.path for p in first.value.problems] == ["steps[0].sections[0].fields[0]"]
    good["steps"][0]["sections"][0]["fields"][0]["colour"] = "red"  # now the same content
    with pytest.raises(InvalidDefinition):
        check_definition(good)
    del good["steps"][0]["sections"][0]["fields"][0]["colour"]
    assert [f.key for f in check_definition(good).fields] == ["name"]
