"""The server checks every answer: a 児童手当-like form, filled in well and badly."""

from typing import Any

import pytest

from madoguchi.forms.engine import MAX_ANSWER_KEYS, display_rows, validate
from madoguchi.forms.schema import check_definition

from .factories import CHOICES, TODAY, definition, field, form, stepped

NAME = {"family": "髙橋", "given": "𠮷子", "family_kana": "たかはし", "given_kana": "ﾖｼｺ"}
NAME_STORED = {"family": "髙橋", "given": "𠮷子", "family_kana": "タカハシ", "given_kana": "ヨシコ"}
CHILD = {"name": "髙橋 一郎", "birth_date": "令和3年5月1日"}


@pytest.fixture(scope="module")
def allowance():
    """児童手当 認定請求: the applicant, a spouse if any, 1–3 children, and copies of a 証明書."""
    return form(
        field("applicant", "person_name", "請求者の氏名", required=True),
        field("my_number", "my_number", "個人番号"),
        field("has_spouse", "yesno", "配偶者の有無", required=True),
        field(
            "spouse",
            "person_name",
            "配偶者の氏名",
            visible_if={"field": "has_spouse", "equals": True},
            required_if={"field": "has_spouse", "equals": True},
        ),
        field(
            "children",
            "group",
            "児童",
            options={"min_items": 1, "max_items": 3, "item_label": "児童"},
            fields=[
                field("name", "text", "児童の氏名", required=True),
                field("birth_date", "birth_date", "児童の生年月日", required=True),
            ],
        ),
        field("copies", "number", "証明書の通数", options={"min": 0, "max": 10, "unit": "通"}),
        field(
            "fee",
            "computed",
            "手数料",
            options={
                "expression": {"multiply": [{"field": "copies"}, 300]},
                "unit": "円",
                "fee": True,
            },
        ),
        field("agree", "consent", "同意事項", required=True),
    )


def answers(**changes: Any) -> dict[str, Any]:
    base = {
        "applicant": NAME,
        "has_spouse": "いいえ",
        "children": [CHILD],
        "copies": "２",
        "agree": True,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def test_a_complete_application_is_normalised(allowance):
    result = validate(allowance, answers(my_number="1234-5678-9018"), today=TODAY)
    assert result.ok, result.errors
    assert result.answers == {
        "applicant": NAME_STORED,
        "my_number": "123456789018",
        "has_spouse": False,
        "children": [{"name": "髙橋 一郎", "birth_date": "2021-05-01"}],
        "copies": 2,
        "fee": 600,
        "agree": True,
    }


def test_what_was_stored_validates_again_to_the_same_answers(allowance):
    first = validate(allowance, answers(), today=TODAY)
    again = validate(allowance, first.answers, today=TODAY)
    assert again.ok
    assert again.answers == first.answers


def test_every_missing_required_answer_is_named_in_words_that_fit_the_field(allowance):
    result = validate(allowance, {}, today=TODAY)
    assert result.errors == {
        "applicant": "請求者の氏名を入力してください。",
        "has_spouse": "「配偶者の有無」に「はい」か「いいえ」で答えてください。",
        "children": "児童を1件以上入力してください。",
        "agree": "内容を確認のうえ、同意する場合はチェックを入れてください。",
    }
    assert result.answers == {"children": [], "fee": 0}


def test_an_attachment_that_is_required_asks_to_be_attached():
    result = validate(
        form(field("proof", "attachment", "本人確認書類", required=True)), {}, today=TODAY
    )
    assert result.errors == {"proof": "本人確認書類を添付してください。"}


def test_the_spouse_is_asked_for_only_when_there_is_one(allowance):
    result = validate(allowance, answers(has_spouse="はい"), today=TODAY)
    assert result.errors == {"spouse": "配偶者の氏名を入力してください。"}
    result = validate(allowance, answers(has_spouse="はい", spouse=NAME), today=TODAY)
    assert result.ok
    assert result.answers["spouse"] == NAME_STORED


def test_the_answers_to_a_hidden_question_are_dropped_and_its_errors_forgotten(allowance):
    result = validate(
        allowance,
        answers(has_spouse="いいえ", spouse={"family": "\u202e", "family_kana": "漢字"}),
        today=TODAY,
    )
    assert result.ok, result.errors
    assert "spouse" not in result.answers


def test_an_error_in_a_child_is_keyed_by_its_position(allowance):
    children = [CHILD, {"name": "二郎", "birth_date": "令和8年1月1日"}, {"name": ""}]
    result = validate(allowance, answers(children=children), today=TODAY)
    assert result.errors == {
        "children[1].birth_date": "令和7年4月1日（2025-04-01）以前の日付を入力してください。",
        "children[2].name": "児童の氏名を入力してください。",
        "children[2].birth_date": "児童の生年月日を入力してください。",
    }


def test_a_group_has_at_most_its_max_items(allowance):
    result = validate(allowance, answers(children=[CHILD] * 4), today=TODAY)
    assert result.errors == {"children": "児童は3件までです。"}


@pytest.mark.parametrize("children", ["一郎", 3, {"name": "一郎"}, True])
def test_a_group_that_is_not_a_list_is_refused(allowance, children):
    result = validate(allowance, answers(children=children), today=TODAY)
    assert result.errors == {"children": "児童の形式が正しくありません。"}


def test_a_group_item_that_is_not_an_object_is_refused_by_position(allowance):
    result = validate(allowance, answers(children=[CHILD, "二郎", None]), today=TODAY)
    assert result.errors == {
        "children[1]": "児童の形式が正しくありません。",
        "children[2]": "児童の形式が正しくありません。",
    }


def test_unknown_keys_in_a_group_item_are_named(allowance):
    result = validate(allowance, answers(children=[{**CHILD, "nickname": "いっくん"}]), today=TODAY)
    assert result.errors == {"children[0].nickname": "この様式にない項目です。"}


def test_unknown_top_level_keys_mean_the_wrong_form_version(allowance):
    result = validate(allowance, answers(favourite_colour="青", is_admin=True), today=TODAY)
    assert result.errors == {
        "favourite_colour": "この様式にない項目です。",
        "is_admin": "この様式にない項目です。",
    }


@pytest.mark.parametrize("raw", [None, [], ["applicant"], "applicant=山田", 42, True])
def test_answers_that_are_not_an_object_are_refused_as_a_whole(allowance, raw):
    result = validate(allowance, raw, today=TODAY)
    assert result.errors == {"": "回答はオブジェクト（項目名: 値）の形で送ってください。"}
    assert result.answers == {}


def test_too_many_keys_are_refused_before_any_work(allowance):
    raw = {f"k{i}": "x" for i in range(MAX_ANSWER_KEYS + 1)}
    assert validate(allowance, raw, today=TODAY).errors == {"": "項目が多すぎます。"}
    raw = {f"k{i}": "x" for i in range(MAX_ANSWER_KEYS)}
    result = validate(allowance, raw, today=TODAY)
    assert sum(v == "この様式にない項目です。" for v in result.errors.values()) <= 50


def test_hostile_answers_become_errors_never_a_crash(allowance):
    deep: Any = "x"
    for _ in range(5000):
        deep = {"k": deep}
    hostile = {
        "applicant": deep,
        "my_number": [[["1234"]]],
        "has_spouse": {"yes": True},
        "children": [deep, [CHILD], {"name": deep, "birth_date": 10**100}],
        "copies": "'; DROP TABLE x; --",
        "fee": "<script>",
        "agree": "\u202eyes",
    }
    result = validate(allowance, hostile, today=TODAY)
    assert set(result.errors) >= {"applicant", "my_number", "has_spouse", "copies", "agree"}
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.errors.items())


def test_a_computed_fee_is_never_taken_from_the_client(allowance):
    result = validate(allowance, answers(copies=3, fee=1), today=TODAY)
    assert result.answers["fee"] == 900


# --- Steps -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_steps():
    return check_definition(
        stepped(
            applicant=[
                field("name", "text", "氏名", required=True),
                field(
                    "family", "group", "世帯員", fields=[field("member", "text", "世帯員の氏名")]
                ),
            ],
            request=[
                field(
                    "reason",
                    "text",
                    "理由",
                    required=True,
                    visible_if={"field": "name", "filled": True},
                ),
                field("copies", "number", "通数", required=True),
            ],
        )
    )


def test_checking_one_step_reports_only_its_errors(two_steps):
    result = validate(two_steps, {"name": "山田", "copies": "x"}, today=TODAY, step="request")
    assert result.errors == {
        "reason": "理由を入力してください。",
        "copies": "数字で入力してください（例: 1234）。",
    }
    result = validate(two_steps, {"copies": "x"}, today=TODAY, step="applicant")
    assert result.errors == {"name": "氏名を入力してください。"}


def test_checking_one_step_uses_and_keeps_the_answers_of_the_others(two_steps):
    raw = {"name": " 山田 ", "family": [{"member": "山田 花子"}], "reason": "転居", "copies": "1"}
    result = validate(two_steps, raw, today=TODAY, step="request")
    assert result.ok
    assert result.answers == {
        "name": "山田",
        "family": [{"member": "山田 花子"}],
        "reason": "転居",
        "copies": 1,
    }


def test_an_unknown_step_is_a_programming_error(two_steps):
    with pytest.raises(KeyError):
        validate(two_steps, {}, today=TODAY, step="nope")


# --- Conditions ------------------------------------------------------------------------------


def test_conditions_combine_with_all_any_and_not():
    spec = form(
        field("age", "number", "年齢"),
        field("commute", "multichoice", "通勤手段", options={"choices": CHOICES}),
        field(
            "parking",
            "text",
            "駐車場",
            required_if={
                "all": [
                    {"field": "age", "gte": 18},
                    {
                        "any": [
                            {"field": "commute", "equals": "car"},
                            {"field": "commute", "in": ["bus"]},
                        ]
                    },
                    {"not": {"field": "age", "gt": 120}},
                ]
            },
        ),
    )
    assert "parking" in validate(spec, {"age": "30", "commute": ["car"]}, today=TODAY).errors
    assert "parking" in validate(spec, {"age": "18", "commute": "bus"}, today=TODAY).errors
    assert validate(spec, {"age": "17", "commute": ["car"]}, today=TODAY).ok
    assert validate(spec, {"age": "30", "commute": ["walk"]}, today=TODAY).ok
    assert validate(spec, {"age": "121", "commute": ["car"]}, today=TODAY).ok
    assert validate(spec, {"commute": ["car"]}, today=TODAY).ok


@pytest.mark.parametrize("typed", ["NaN", "sNaN", "Infinity", "-inf", "1e999999999", "abc"])
def test_a_comparison_with_text_that_looks_like_a_special_number_is_simply_false(typed):
    spec = form(
        field("note", "text", "備考"),
        field("detail", "text", "詳細", required_if={"field": "note", "gt": 5}),
        field("other", "text", "その他", required_if={"field": "note", "equals": 5}),
    )
    result = validate(spec, {"note": typed}, today=TODAY)
    assert "other" not in result.errors


def test_a_question_hidden_behind_a_hidden_question_is_hidden_too():
    spec = form(
        field("has_spouse", "yesno", "配偶者の有無"),
        field(
            "spouse_name",
            "text",
            "配偶者の氏名",
            visible_if={"field": "has_spouse", "equals": True},
        ),
        field(
            "spouse_income",
            "number",
            "配偶者の所得",
            required=True,
            visible_if={"field": "spouse_name", "filled": True},
        ),
    )
    raw = {"has_spouse": "いいえ", "spouse_name": "山田 花子", "spouse_income": "100"}
    result = validate(spec, raw, today=TODAY)
    assert result.ok
    assert result.answers == {"has_spouse": False}
    assert validate(spec, result.answers, today=TODAY).answers == result.answers


# --- Computed values -------------------------------------------------------------------------


def test_a_fee_counts_children_sums_their_copies_and_waives_it_for_exempt_households():
    spec = form(
        field("exempt", "yesno", "減免の対象"),
        field(
            "children",
            "group",
            "児童",
            fields=[field("name", "text", "氏名"), field("copies", "number", "通数")],
        ),
        field("per_child", "computed", "児童数", options={"expression": {"count": "children"}}),
        field(
            "fee",
            "computed",
            "手数料",
            options={
                "expression": {
                    "if": {"field": "exempt", "equals": True},
                    "then": 0,
                    "else": {
                        "add": [
                            {"multiply": [{"sum": {"group": "children", "field": "copies"}}, 300]},
                            {"subtract": [{"max": [{"count": "children"}, 1]}, 1]},
                            {"min": [0.5, 2]},
                        ]
                    },
                }
            },
        ),
    )
    children = [{"name": "一郎", "copies": "2"}, {"name": "二郎", "copies": "1"}, {"name": "三郎"}]
    result = validate(spec, {"exempt": "no", "children": children}, today=TODAY)
    # 3 copies × 300 + (3 − 1) + 0.5, rounded half up.
    assert result.answers["fee"] == 903
    assert result.answers["per_child"] == 3
    result = validate(spec, {"exempt": "yes", "children": children}, today=TODAY)
    assert result.answers["fee"] == 0


def test_a_fee_too_large_to_compute_is_an_error_not_a_crash():
    spec = form(
        field("copies", "number", "通数"),
        field(
            "fee",
            "computed",
            "手数料",
            options={"expression": {"multiply": [{"field": "copies"}] * 20}},
        ),
    )
    result = validate(spec, {"copies": "9" * 19}, today=TODAY)
    assert set(result.errors) == {"fee"}
    assert "手数料" in result.errors["fee"]


def test_a_computed_value_from_text_that_is_not_a_finite_number_counts_as_zero():
    spec = form(
        field("note", "text", "備考"),
        field(
            "fee", "computed", "手数料", options={"expression": {"add": [{"field": "note"}, 300]}}
        ),
    )
    for typed in ("NaN", "sNaN", "Infinity", "abc"):
        assert validate(spec, {"note": typed}, today=TODAY).answers["fee"] == 300


# --- Dates that depend on other answers -------------------------------------------------------


@pytest.fixture(scope="module")
def stay():
    return form(
        field("arrival", "date", "転入日"),
        field(
            "children",
            "group",
            "児童",
            fields=[
                field("arrival", "date", "児童の転入日"),
                field("school", "date", "入学日", options={"min": {"field": "arrival"}}),
            ],
        ),
        field("start", "date", "開始日", options={"min": {"field": "arrival", "offset_days": 1}}),
        field("end", "date", "終了日", options={"min": {"field": "start"}, "max": "today+1y"}),
    )


def test_a_date_may_not_come_before_the_date_it_refers_to(stay):
    result = validate(stay, {"arrival": "2025-04-01", "start": "2025-04-01"}, today=TODAY)
    assert result.errors == {
        "start": "令和7年4月2日以降の日付を入力してください（転入日との関係）。"
    }
    result = validate(
        stay, {"arrival": "2025-04-01", "start": "2025-04-02", "end": "2025-04-01"}, today=TODAY
    )
    assert result.errors == {"end": "令和7年4月2日以降の日付を入力してください（開始日との関係）。"}
    assert validate(stay, {"start": "2025-04-02", "end": "2025-04-02"}, today=TODAY).ok


def test_a_date_in_a_group_refers_to_its_sibling_and_names_it(stay):
    result = validate(
        stay,
        {"arrival": "2020-01-01", "children": [{"arrival": "2025-04-01", "school": "2025-03-01"}]},
        today=TODAY,
    )
    assert result.errors == {
        "children[0].school": "令和7年4月1日以降の日付を入力してください（児童の転入日との関係）。"
    }


def test_a_date_bound_far_beyond_the_calendar_does_not_crash():
    spec = form(
        field("arrival", "date", "転入日"),
        field(
            "start", "date", "開始日", options={"min": {"field": "arrival", "offset_days": 10**12}}
        ),
        field(
            "end", "date", "終了日", options={"max": {"field": "arrival", "offset_days": -(10**12)}}
        ),
    )
    result = validate(
        spec, {"arrival": "9999-12-31", "start": "2025-04-01", "end": "2025-04-01"}, today=TODAY
    )
    assert set(result.errors) == {"start", "end"}


# --- What is shown back -----------------------------------------------------------------------


def test_display_rows_mask_my_number_unless_revealed(allowance):
    result = validate(allowance, answers(my_number="123456789018"), today=TODAY)
    rows = display_rows(allowance, result.answers)
    assert ("入力", "個人番号", "●●●●●●●●9018") in rows
    assert not any("123456789018" in text for _, _, text in rows)
    revealed = display_rows(allowance, result.answers, reveal=True)
    assert ("入力", "個人番号", "123456789018") in revealed


def test_display_rows_read_like_the_confirmation_page(allowance):
    result = validate(allowance, answers(), today=TODAY)
    rows = [(label, text) for _, label, text in display_rows(allowance, result.answers)]
    assert rows == [
        ("請求者の氏名", "髙橋 𠮷子（タカハシ ヨシコ）"),
        ("配偶者の有無", "いいえ"),
        ("児童1 児童の氏名", "髙橋 一郎"),
        ("児童1 児童の生年月日", "令和3年5月1日（2021年）"),
        ("証明書の通数", "2通"),
        ("手数料", "600円"),
        ("同意事項", "同意する"),
    ]


def test_a_definition_with_a_required_consent_cannot_be_skipped():
    spec = check_definition(definition(field("agree", "consent", "同意", required=True)))
    assert validate(spec, {"agree": False}, today=TODAY).errors == {
        "agree": "内容を確認のうえ、同意する場合はチェックを入れてください。"
    }


def test_a_question_shown_because_another_is_hidden_is_shown():
    spec = form(
        field("phone", "phone", "電話番号"),
        field(
            "how",
            "choice",
            "連絡方法",
            options={"choices": CHOICES},
            visible_if={"field": "phone", "filled": True},
        ),
        field(
            "address",
            "text",
            "郵送先",
            required=True,
            visible_if={"not": {"field": "how", "filled": True}},
        ),
    )
    # No telephone: the contact method is not asked, so a postal address is.
    result = validate(spec, {"how": "bus", "address": "横浜市中区"}, today=TODAY)
    assert result.ok, result.errors
    assert result.answers == {"address": "横浜市中区"}
    assert validate(spec, result.answers, today=TODAY).answers == result.answers
