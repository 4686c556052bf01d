"""The one walk over a form's answers, and the sealed values it gives."""

import json
from pathlib import Path
from typing import Any

import pytest

import madoguchi
from madoguchi.core.crypto import DecryptionFailed, encrypt
from madoguchi.forms.answers import DROP, answers_map, holds_specific, masked_answers, walk
from madoguchi.forms.base import FieldSpec, FormSpec, SectionSpec, StepSpec
from madoguchi.forms.constants import Privacy
from madoguchi.forms.engine import display_rows, validate
from madoguchi.forms.schema import check_definition
from madoguchi.forms.sealed import Sealed, must_seal, reveal, seal

from .factories import TODAY, field, form, stepped

NAME = {"family": "髙橋", "given": "𠮷子", "family_kana": "タカハシ", "given_kana": "ヨシコ"}
BANK = {
    "bank_code": "0001",
    "branch_code": "001",
    "account_type": "ordinary",
    "account_number": "1234567",
    "holder": "ヨコハマ タロウ",
}


@pytest.fixture(scope="module")
def household():
    """A 世帯 form over two steps: the applicant, then members (a repeated group)."""
    return check_definition(
        stepped(
            applicant=[
                field("name", "person_name", "申請者の氏名", required=True),
                field("my_number", "my_number", "個人番号"),
                field("has_spouse", "yesno", "配偶者の有無"),
                field(
                    "spouse",
                    "text",
                    "配偶者の氏名",
                    visible_if={"field": "has_spouse", "equals": True},
                ),
            ],
            members=[
                field(
                    "members",
                    "group",
                    "世帯員",
                    options={"max_items": 5, "item_label": "世帯員"},
                    fields=[
                        field("name", "text", "氏名", required=True),
                        field("my_number", "my_number", "個人番号"),
                        field("note", "text", "備考"),
                    ],
                ),
                field("account", "bank_account", "振込先口座"),
            ],
        )
    )


def _nested() -> FormSpec:
    """Groups in groups: not allowed in a definition today, but the walk must not care."""
    leaf = FieldSpec(key="c", type="text", label="C")
    inner = FieldSpec(
        key="b", type="group", label="B", options={"item_label": "内"}, fields=(leaf,)
    )
    outer = FieldSpec(
        key="a", type="group", label="A", options={"item_label": "外"}, fields=(inner,)
    )
    section = SectionSpec(key="s", title="S", description="", fields=(outer,))
    return FormSpec(
        key="f",
        title="F",
        description="",
        steps=(StepSpec(key="x", title="X", sections=(section,)),),
    )


def test_the_walk_follows_the_form_with_stable_dotted_paths_and_readable_labels(household):
    answers = {
        "members": [{"name": "一郎", "note": "長男"}, {"name": "花子"}],
        "name": {"family": "髙橋", "given": "𠮷子"},
        "account": BANK,
    }

    walked = [(a.path, a.label, a.step.key, a.depth) for a in walk(household, answers)]

    assert walked == [
        ("name", "申請者の氏名", "applicant", 0),
        ("members", "世帯員", "members", 0),
        ("members.0.name", "世帯員1 氏名", "members", 1),
        ("members.0.note", "世帯員1 備考", "members", 1),
        ("members.1.name", "世帯員2 氏名", "members", 1),
        ("account", "振込先口座", "members", 0),
    ]
    tops = [a.path for a in walk(household, answers, into_groups=False)]
    assert tops == ["name", "members", "account"]


def test_hidden_and_missing_answers_are_not_walked_but_a_present_empty_one_is(household):
    result = validate(
        household,
        {"name": NAME, "has_spouse": False, "spouse": "隠れた"},
        today=TODAY,
    )
    assert result.ok, result.errors

    paths = [a.path for a in walk(household, result.answers)]

    assert paths == ["name", "has_spouse", "members"]  # the spouse was hidden: never stored
    assert [a.value for a in walk(household, {"note": "x", "spouse": None})] == [None]
    assert list(walk(household, None)) == []
    assert list(walk(household, "not answers")) == []


def test_nested_groups_are_walked_to_any_depth():
    answers: dict[str, Any] = {"a": [{"b": [{"c": "1"}, {"c": "2"}]}, {"b": []}]}

    walked = [(a.path, a.label) for a in walk(_nested(), answers)]

    assert walked == [
        ("a", "A"),
        ("a.0.b", "外1 B"),
        ("a.0.b.0.c", "外1 内1 C"),
        ("a.0.b.1.c", "外1 内2 C"),
        ("a.1.b", "外2 B"),
    ]
    doubled = answers_map(_nested(), answers, lambda a: a.value * 2)
    assert doubled == {"a": [{"b": [{"c": "11"}, {"c": "22"}]}, {"b": []}]}
    assert answers["a"][0]["b"][0] == {"c": "1"}  # the original is left alone


def test_malformed_groups_neither_crash_nor_lose_what_is_there(household):
    answers = {"members": [{"name": "一郎"}, "壊れた項目", 3], "extra": {"kept": True}}

    assert [a.path for a in walk(household, answers)] == ["members", "members.0.name"]
    assert [a.path for a in walk(household, {"members": "一郎"})] == ["members"]
    assert answers_map(household, answers, lambda a: a.value + "様") == {
        "members": [{"name": "一郎様"}, "壊れた項目", 3],
        "extra": {"kept": True},
    }


def test_dropping_answers_inside_repeated_items(household):
    answers: dict[str, Any] = {
        "my_number": "123456789018",
        "members": [{"name": "一郎", "my_number": "123456789018"}, {"name": "花子"}],
    }

    kept = answers_map(
        household, answers, lambda a: DROP if a.field.privacy == Privacy.SPECIFIC else a.value
    )

    assert kept == {"members": [{"name": "一郎"}, {"name": "花子"}]}
    assert answers["members"][0]["my_number"] == "123456789018"
    fields = {a.path: a.field for a in walk(household, answers, into_groups=False)}
    assert holds_specific(fields["members"])
    assert holds_specific(fields["my_number"])
    assert not holds_specific(next(f for f in household.fields if f.key == "account"))


def test_a_sealed_value_is_stored_in_the_format_rows_already_hold(household):
    my_number = next(f for f in household.fields if f.key == "my_number")
    account = next(f for f in household.fields if f.key == "account")
    assert must_seal(my_number)
    assert must_seal(account)
    assert not must_seal(next(f for f in household.fields if f.key == "name"))

    text = seal(my_number, "123456789018").to_stored()
    bank = seal(account, BANK).to_stored()

    assert set(text) == {"$enc", "masked"}
    assert text["masked"] == "●●●●●●●●9018"
    assert set(bank) == {"$enc", "format", "masked", "parts"}
    assert bank["format"] == "json"
    assert bank["parts"]["account_number"] == "●●●●567"
    assert "1234567" not in json.dumps(bank, ensure_ascii=False)
    assert reveal(text) == "123456789018"
    assert reveal(bank) == BANK
    # A row written before this type existed (the dict made by hand) still reads.
    old = {"$enc": encrypt("123456789018"), "masked": "●●●●●●●●9018"}
    sealed = Sealed.from_stored(old)
    assert sealed is not None
    assert sealed.reveal() == "123456789018"
    assert sealed.to_stored() == old
    assert Sealed.from_stored(bank) == Sealed.from_stored(bank.copy())
    again = Sealed.from_stored(bank)
    assert again is not None
    assert again.to_stored() == bank


def test_plain_values_are_not_sealed_and_a_foreign_token_is_refused():
    assert Sealed.from_stored({"family": "髙橋"}) is None
    assert Sealed.from_stored("$enc") is None
    assert reveal({"family": "髙橋"}) == {"family": "髙橋"}
    assert str(Sealed.from_stored({"$enc": "x"})) == "●●●●"  # no masked copy: nothing shown
    with pytest.raises(DecryptionFailed):
        reveal({"$enc": "not-a-token", "masked": "●●●●"})


def test_sealed_values_are_walked_as_sealed_and_shown_masked(household):
    spec_of = {f.key: f for f in household.fields}
    member_number = spec_of["members"].fields[1]
    stored: dict[str, Any] = {
        "name": {
            "family": "髙橋",
            "given": "𠮷子",
            "family_kana": "タカハシ",
            "given_kana": "ヨシコ",
        },
        "my_number": seal(spec_of["my_number"], "123456789018").to_stored(),
        "members": [{"name": "一郎", "my_number": seal(member_number, "123456789018").to_stored()}],
        "account": seal(spec_of["account"], BANK).to_stored(),
    }

    sealed = {a.path: a.value for a in walk(household, stored) if isinstance(a.value, Sealed)}
    masked = masked_answers(household, stored)
    rows = {label: text for _, label, text in display_rows(household, stored)}

    assert set(sealed) == {"my_number", "members.0.my_number", "account"}
    assert masked["my_number"] == "●●●●●●●●9018"
    assert masked["members"] == [{"name": "一郎", "my_number": "●●●●●●●●9018"}]
    assert masked["account"] == stored["account"]["masked"]
    assert "1234567" not in masked["account"]
    assert rows["個人番号"] == "●●●●●●●●9018"
    assert rows["世帯員1 個人番号"] == "●●●●●●●●9018"
    assert "123456789018" not in json.dumps(rows, ensure_ascii=False)
    # Back to plain, as re-validation of a correction needs, without touching the stored copy.
    plain = answers_map(household, stored, lambda a: reveal(a.value))
    assert plain["members"][0]["my_number"] == "123456789018"
    assert plain["account"] == BANK
    assert isinstance(stored["members"][0]["my_number"], dict)


def test_display_rows_of_fresh_answers_mask_unless_revealed():
    spec = form(field("my_number", "my_number", "個人番号"), field("memo", "text", "メモ"))

    assert display_rows(spec, {"my_number": "123456789018", "memo": "x"}) == [
        ("入力", "個人番号", "●●●●●●●●9018"),
        ("入力", "メモ", "x"),
    ]
    assert display_rows(spec, {"my_number": "123456789018"}, reveal=True)[0][2] == "123456789018"


def test_only_the_sealed_module_knows_how_a_sealed_value_is_stored():
    root = Path(madoguchi.__file__).parent
    knowing = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "tests" not in path.parts and "$enc" in path.read_text(encoding="utf-8")
    )

    assert knowing == ["forms/sealed.py"]
