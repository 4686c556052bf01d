"""The national category lists: each loads, cites its source, has unique codes found by
their names after NFKC, and a broken file is refused at load instead of shipping."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from madoguchi.catalog.definitions import national_files
from madoguchi.stats import categories as module
from madoguchi.stats.categories import (
    CategoryDataError,
    category,
    category_find,
    category_list,
    category_lists,
    template_defaults,
)

#: Codes other parts of the platform (imports, figures, demo data) rely on.
FIXED_CODES = ("library-reservation", "facility-reservation", "eltax-filing", "event-application")


def _halfwidth_variant(text: str) -> str:
    """The same name with the brackets and slashes people type instead of the official ones."""
    return text.replace("（", "(").replace("）", ")").replace("／", "/")


def test_every_list_loads_with_its_source_and_years():
    lists = category_lists()
    assert {item.code for item in lists} >= {
        "guideline-21",
        "priority-59",
        "kosodate-kaigo-26",
        "hisaisha-shien",
    }
    for item in lists:
        assert item.source.title
        assert item.source.publisher
        assert item.source.url.startswith("https://")
        assert item.first_fiscal_year >= 2000
        assert item.last_fiscal_year is None or item.last_fiscal_year >= item.first_fiscal_year
        codes = [found.code for found in item.categories]
        assert len(codes) == len(set(codes)), item.code
        if item.expected_count is not None and not item.incomplete:
            assert len(codes) == item.expected_count
        if item.incomplete:
            assert item.note, f"{item.code} is incomplete and must say what is missing"
            assert "。 " not in item.note  # folded lines joined without spaces in Japanese
            if item.expected_count is not None:
                assert item.missing_count > 0


def test_the_historical_and_current_lists_apply_to_their_fiscal_years():
    guideline = category_list("guideline-21")
    current = category_list("priority-59")
    assert guideline is not None
    assert current is not None
    assert guideline.applies_to(2018)
    assert not guideline.applies_to(2020)
    assert current.applies_to(2024)
    assert not current.applies_to(2019)
    assert current.last_fiscal_year is None


def test_the_26_childcare_and_care_procedures_are_complete_and_also_in_the_current_list():
    kosodate = category_list("kosodate-kaigo-26")
    current = category_list("priority-59")
    assert kosodate is not None
    assert current is not None
    assert len(kosodate.categories) == 26
    assert not kosodate.incomplete
    assert kosodate.codes <= current.codes
    assert category("disaster-certificate") in current.categories


def test_codes_others_rely_on_are_kept():
    for code in FIXED_CODES:
        found = category(code)
        assert found is not None, code
        assert "guideline-21" in found.lists


def test_every_name_and_alias_finds_its_category_after_nfkc():
    for item in category_lists():
        for found in item.categories:
            for spelling in (item.listed_name(found.code), found.name, *found.aliases):
                assert category_find(spelling) == found, spelling
                assert category_find(_halfwidth_variant(spelling)) == found, spelling
                wide = unicodedata.normalize("NFKC", spelling).replace("(", "（")
                assert category_find(f"  {wide} ") == found
            assert category_find(found.code.upper()) == found


def test_the_same_procedure_in_two_lists_is_one_category_under_each_lists_spelling():
    event = category("event-application")
    assert event is not None
    assert set(event.lists) == {"guideline-21", "priority-59"}
    guideline = category_list("guideline-21")
    current = category_list("priority-59")
    assert guideline is not None
    assert current is not None
    assert guideline.listed_name("event-application") == "研修・講習・イベント等の申込"
    assert current.listed_name("event-application") == "研修・講習・各種イベント等の申込"
    assert category_find("研修・講習・イベント等の申込") == event
    assert category_find("研修・講習・各種イベント等の申込") == event


def test_unknown_names_and_codes_find_nothing():
    for text in ("", " ", "存在しない手続", "library", "粗大ごみ", "<script>", "ｘ" * 500):
        assert category_find(text) is None


# --- A broken file is refused at load ------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    module._catalogue.cache_clear()
    template_defaults.cache_clear()
    monkeypatch.setattr(module, "DATA_DIR", tmp_path)
    yield tmp_path
    module._catalogue.cache_clear()
    template_defaults.cache_clear()


def _write(directory: Path, name: str, data: dict[str, object]) -> None:
    (directory / name).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _list(code: str = "a-list", **changes: Any) -> dict[str, object]:
    data: dict[str, object] = {
        "code": code,
        "name": "一覧",
        "version": "1",
        "first_fiscal_year": 2020,
        "source": {"title": "出典", "publisher": "総務省", "url": "https://example.go.jp/"},
        "categories": [
            {"code": "first", "name": "一つ目の手続"},
            {"code": "second", "name": "二つ目の手続（eLTAX）"},
        ],
    }
    data.update(changes)
    return data


def test_a_well_formed_pair_of_lists_loads(data_dir: Path):
    _write(data_dir, "a.yaml", _list(expected_count=2))
    _write(
        data_dir,
        "b.yaml",
        _list(
            "b-list",
            categories=[{"code": "first", "name": "一つ目", "aliases": ["一つ目の手続"]}],
        ),
    )
    assert [item.code for item in category_lists()] == ["a-list", "b-list"]
    assert category_find("二つ目の手続(ELTAX)") == category("second")
    assert category_find("一つ目") == category("first")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"source": None}, "source is missing"),
        ({"source": {"title": "出典", "publisher": "総務省"}}, "url is missing"),
        (
            {"source": {"title": "出典", "publisher": "総務省", "url": "http://example.jp/"}},
            "https",
        ),
        ({"expected_count": 3}, "the source has 3"),
        ({"expected_count": 2, "incomplete": True, "note": "未確認"}, "marked incomplete"),
        ({"expected_count": 3, "incomplete": True}, "must say why"),
        ({"expected_count": "21"}, "positive number"),
        ({"categories": [{"code": "Bad Code", "name": "手続"}]}, "bad category code"),
        ({"categories": [{"code": "x1", "name": ""}]}, "name is missing"),
        ({"categories": []}, "categories is missing"),
        (
            {"categories": [{"code": "x1", "name": "同じ"}, {"code": "x1", "name": "同じ"}]},
            "appears twice",
        ),
        (
            {
                "categories": [
                    {"code": "x1", "name": "同じ名前"},
                    {"code": "x2", "name": "同じ名前"},
                ]
            },
            "names both",
        ),
    ],
)
def test_a_broken_list_is_refused(data_dir: Path, changes: dict[str, Any], message: str):
    _write(data_dir, "a.yaml", _list(**changes))
    with pytest.raises(CategoryDataError, match=message):
        category_lists()


def test_one_code_for_two_different_procedures_is_refused(data_dir: Path):
    _write(data_dir, "a.yaml", _list())
    _write(data_dir, "b.yaml", _list("b-list", categories=[{"code": "first", "name": "別の手続"}]))
    with pytest.raises(CategoryDataError, match="alias"):
        category_lists()


def test_a_template_default_naming_an_unknown_category_is_refused(data_dir: Path):
    _write(data_dir, "a.yaml", _list())
    _write(data_dir, module.DEFAULTS_FILE, {"templates": {"juminhyo": "no-such-category"}})
    with pytest.raises(CategoryDataError, match="unknown category"):
        template_defaults()


# --- Template defaults ---------------------------------------------------------------------


def test_every_national_template_has_a_decided_default():
    """A new national template must be mapped (or explicitly null) in template-defaults.yaml,
    and the file names no template that does not exist."""
    slugs = {yaml.safe_load(data)["template"]["slug"] for _, data in national_files()}
    raw = yaml.safe_load((module.DATA_DIR / module.DEFAULTS_FILE).read_text(encoding="utf-8"))
    assert set(raw["templates"]) == slugs
    defaults = template_defaults()
    assert defaults["risai-shomei"] == "disaster-certificate"
    assert defaults["event-moushikomi"] == "event-application"
    assert defaults["hoiku-moushikomi"] == "childcare-application"
    assert defaults["kaigo-nintei"] == "care-certification"
    assert "juminhyo" not in defaults  # 住民票の写し is in no list
