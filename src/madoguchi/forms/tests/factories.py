"""Small builders for form definitions, so that each test shows only the fields it is about."""

from __future__ import annotations

from datetime import date
from typing import Any

from madoguchi.forms.base import Context, FieldSpec
from madoguchi.forms.schema import check_definition

#: 令和7年4月1日, the first day of a fiscal year: "today" in every test.
TODAY = date(2025, 4, 1)
CTX = Context(today=TODAY)


def field(key: str, type_: str, label: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"key": key, "type": type_, "label": label or key, **extra}


def definition(*fields: dict[str, Any], key: str = "shinsei", **extra: Any) -> dict[str, Any]:
    """A one-step, one-section form holding ``fields``."""
    return {
        "schema_version": 1,
        "key": key,
        "title": "テスト申請",
        "steps": [
            {
                "key": "main",
                "title": "入力",
                "sections": [{"key": "main", "title": "申請内容", "fields": list(fields)}],
            }
        ],
        **extra,
    }


def stepped(**steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A form with one step per keyword argument, each holding one section."""
    return {
        "schema_version": 1,
        "key": "shinsei",
        "title": "テスト申請",
        "steps": [
            {
                "key": name,
                "title": name,
                "sections": [{"key": f"{name}_section", "title": name, "fields": fields}],
            }
            for name, fields in steps.items()
        ],
    }


def form(*fields: dict[str, Any]):
    """The checked spec of a one-step form."""
    return check_definition(definition(*fields))


def spec(type_: str, **options: Any) -> FieldSpec:
    """A bare field spec, for calling a field type directly."""
    return FieldSpec(key="item", type=type_, label="項目", options=options)


CHOICES = [
    {"value": "walk", "label": "徒歩"},
    {"value": "bus", "label": "バス"},
    {"value": "car", "label": "自動車"},
]
