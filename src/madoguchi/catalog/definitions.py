"""National template files (``national/*.yaml``): their schema, and composing the effective
form of a procedure from a template version and an organisation's settings.

An organisation changes a template only at declared extension points (カスタマイズの抑制):
fee parameters, optional fields switched on or off, local questions appended in a marked
section, and contact/counter/department/reception period, which live outside the form.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from madoguchi.catalog.constants import (
    LOCAL_KEY_PREFIX,
    LOCAL_SECTION_KEY,
    LOCAL_STEP_KEY,
    Uniqueness,
)
from madoguchi.forms.schema import (
    DefinitionProblem,
    InvalidDefinition,
    check_definition,
    load_definition_text,
)

PARAMETER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["label", "default"],
    "properties": {
        "label": {"type": "string", "maxLength": 100},
        "default": {"type": "integer"},
        "min": {"type": "integer"},
        "max": {"type": "integer"},
        "unit": {"type": "string", "maxLength": 10},
    },
}

METADATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "slug",
        "version",
        "name",
        "kana",
        "category",
        "life_events",
        "ial",
        "aal",
        "retention_years",
        "source",
    ],
    "properties": {
        "slug": {"type": "string", "pattern": r"^[a-z][a-z0-9-]{1,63}$"},
        "version": {"type": "integer", "minimum": 1},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "kana": {
            "type": "string",
            "pattern": r"^[ァ-ヶー・　 （）()A-Za-z0-9]+$",
            "maxLength": 400,
        },
        "category": {"type": "string", "maxLength": 64},
        "summary": {"type": "string", "maxLength": 4000},
        "synonyms": {"type": "array", "items": {"type": "string", "maxLength": 64}, "maxItems": 50},
        "life_events": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
        "ial": {"enum": [1, 2, 3]},
        "aal": {"enum": [1, 2, 3]},
        "signature_required": {"type": "boolean"},
        "uniqueness": {"enum": list(Uniqueness.values)},
        "retention_years": {"type": "integer", "minimum": 1, "maximum": 100},
        "processing_days": {"type": ["integer", "null"], "minimum": 1, "maximum": 365},
        "fee": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "required": ["field"],
            "properties": {
                "field": {"type": "string"},
                "note": {"type": "string", "maxLength": 400},
            },
        },
        "delivery": {"type": "array", "items": {"enum": ["online", "mail", "counter"]}},
        "source": {"type": "string", "minLength": 10, "maxLength": 2000},
        "changes": {"type": "string", "maxLength": 4000},
        "parameters": {
            "type": "object",
            "propertyNames": {"pattern": r"^[a-z][a-z0-9_]{0,31}$"},
            "additionalProperties": PARAMETER_SCHEMA,
        },
        "optional_fields": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"default": {"type": "boolean"}},
            },
        },
    },
}

_METADATA = Draft202012Validator(METADATA_SCHEMA)


@dataclass(frozen=True)
class TemplateFile:
    """One parsed national template file."""

    file_name: str
    metadata: dict[str, Any]
    form: dict[str, Any]
    digest: str


def _substitute(node: Any, values: Mapping[str, int]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"param"}:
            return values[node["param"]]
        return {k: _substitute(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, values) for v in node]
    return node


def _params_used(node: Any) -> set[str]:
    if isinstance(node, dict):
        if set(node) == {"param"}:
            return {str(node["param"])}
        return set().union(*(_params_used(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_params_used(v) for v in node)) if node else set()
    return set()


def parameter_defaults(metadata: Mapping[str, Any]) -> dict[str, int]:
    return {name: int(p["default"]) for name, p in (metadata.get("parameters") or {}).items()}


def optional_defaults(metadata: Mapping[str, Any]) -> dict[str, bool]:
    return {
        key: bool(o.get("default", True))
        for key, o in (metadata.get("optional_fields") or {}).items()
    }


def _remove_fields(form: dict[str, Any], keys: set[str]) -> None:
    for step in form["steps"]:
        for section in step["sections"]:
            section["fields"] = [f for f in section["fields"] if f["key"] not in keys]


def compose(
    form: Mapping[str, Any],
    metadata: Mapping[str, Any],
    settings: Mapping[str, Any],
    *,
    organisation_name: str = "",
) -> dict[str, Any]:
    """The effective form: parameters filled in, optional fields as chosen, local questions added."""
    params = {**parameter_defaults(metadata), **(settings.get("parameters") or {})}
    result: dict[str, Any] = _substitute(copy.deepcopy(dict(form)), params)
    chosen = {**optional_defaults(metadata), **(settings.get("optional_fields") or {})}
    _remove_fields(result, {key for key, on in chosen.items() if not on})
    local = list(settings.get("local_questions") or [])
    if local:
        step = {
            "key": LOCAL_STEP_KEY,
            "title": "団体独自の質問",
            "sections": [
                {
                    "key": LOCAL_SECTION_KEY,
                    "title": f"{organisation_name}からの質問"
                    if organisation_name
                    else "団体独自の質問",
                    "description": "この質問は、国のひな形にはない、申請先の団体が独自に追加したものです。",
                    "local": True,
                    "fields": copy.deepcopy(local),
                }
            ],
        }
        steps = result["steps"]
        position = next((i for i, s in enumerate(steps) if s["key"] == "consent"), len(steps))
        steps.insert(position, step)
    return result


def template_digest(metadata: Mapping[str, Any], form: Mapping[str, Any]) -> str:
    text = json.dumps({"template": metadata, "form": form}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_template_text(text: str | bytes, file_name: str, life_events: set[str]) -> TemplateFile:
    """Parse and check one template file; raises InvalidDefinition with paths and lines."""
    data, lines = load_definition_text(text)
    problems: list[DefinitionProblem] = []
    if not isinstance(data, dict) or set(data) != {"template", "form"}:
        raise InvalidDefinition(
            [DefinitionProblem("", "ひな形ファイルは template: と form: の2つからなります。", 1)]
        )
    for error in _METADATA.iter_errors(data["template"]):
        path = "template" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
        )
        problems.append(DefinitionProblem(path, error.message, lines.get(path)))
    if problems:
        raise InvalidDefinition(problems)
    metadata: dict[str, Any] = data["template"]
    form: dict[str, Any] = data["form"]
    for event in metadata.get("life_events", []):
        if event not in life_events:
            problems.append(
                DefinitionProblem(
                    "template.life_events",
                    f"ライフイベント「{event}」は定義されていません。",
                    lines.get("template.life_events"),
                )
            )
    used = _params_used(form)
    declared = set(metadata.get("parameters") or {})
    for name in sorted(used - declared):
        problems.append(
            DefinitionProblem("form", f"パラメータ「{name}」が template.parameters にありません。")
        )
    if problems:
        raise InvalidDefinition(problems)
    # Check the form with every optional field present: each must be valid when switched on.
    all_on = dict.fromkeys(metadata.get("optional_fields") or {}, True)
    composed = compose(form, metadata, {"optional_fields": all_on})
    form_lines = {
        k.removeprefix("form.").removeprefix("form"): v
        for k, v in lines.items()
        if k.startswith("form")
    }
    spec = check_definition(composed, form_lines)
    # …and as published, with the defaults: a condition that refers to an optional field
    # that is off by default would otherwise pass here and fail when the template is stored.
    check_definition(compose(form, metadata, {}), form_lines)
    keys = {f.key for f in spec.fields}
    for key in metadata.get("optional_fields") or {}:
        if key not in keys:
            problems.append(
                DefinitionProblem(
                    "template.optional_fields",
                    f"任意項目「{key}」が様式にありません。",
                    lines.get(f"template.optional_fields.{key}"),
                )
            )
        elif any(f.key == key and (f.required or f.required_if) for f in spec.fields):
            problems.append(
                DefinitionProblem(
                    "template.optional_fields",
                    f"任意項目「{key}」が必須になっています。",
                    lines.get(f"template.optional_fields.{key}"),
                )
            )
    fee = metadata.get("fee")
    if fee and not any(f.key == fee["field"] and f.type == "computed" for f in spec.fields):
        problems.append(
            DefinitionProblem(
                "template.fee.field",
                f"手数料の項目「{fee['field']}」が計算値（computed）の項目として様式にありません。",
            )
        )
    for key in keys:
        if key.startswith(LOCAL_KEY_PREFIX):
            problems.append(
                DefinitionProblem(
                    "form",
                    f"項目「{key}」: local_ で始まる key は団体独自の質問のために予約されています。",
                )
            )
    if problems:
        raise InvalidDefinition(problems)
    return TemplateFile(file_name, metadata, form, template_digest(metadata, form))


def national_files() -> list[tuple[str, bytes]]:
    folder = resources.files("madoguchi.catalog").joinpath("national")
    return sorted(
        (entry.name, entry.read_bytes())
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml") and entry.name not in ("life_events.yaml", "synonyms.yaml")
    )


def national_life_events() -> list[dict[str, Any]]:
    data, _ = load_definition_text(
        resources.files("madoguchi.catalog").joinpath("national", "life_events.yaml").read_bytes()
    )
    return list(data)


def national_synonyms() -> dict[str, list[str]]:
    data, _ = load_definition_text(
        resources.files("madoguchi.catalog").joinpath("national", "synonyms.yaml").read_bytes()
    )
    return {str(k): [str(v) for v in values] for k, values in (data or {}).items()}
