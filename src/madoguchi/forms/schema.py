"""Form definitions: the schema of the schema, loading from YAML/JSON with line numbers,
and the checks that make a definition safe to publish.

A definition is data. :func:`check_definition` reports every problem at once, each with the
path in the definition (``steps[0].sections[1].fields[2].options``) and, when the text came
from a file, its line, so an organisation admin can fix an uploaded form without guessing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from madoguchi.forms import field_types as _field_types  # noqa: F401  (registers the types)
from madoguchi.forms.base import Condition, FieldSpec, FormSpec, SectionSpec, StepSpec, field_types
from madoguchi.forms.constants import KEY_PATTERN, MAX_FIELDS, SCHEMA_VERSION, Privacy
from madoguchi.forms.rules import (
    CONDITION_SCHEMA,
    EXPRESSION_SCHEMA,
    condition_fields,
    expression_fields,
)

MAX_DEFINITION_BYTES = 1024 * 1024
#: A real form nests about 15 levels (steps, sections, fields, a group, a condition); far
#: deeper data would only exhaust the stack of the checks below.
MAX_DEFINITION_DEPTH = 64


@dataclass(frozen=True)
class DefinitionProblem:
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.line}行目 " if self.line else ""
        return f"{where}{self.path or '（全体）'}: {self.message}"


class InvalidDefinition(ValueError):
    """The definition cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[DefinitionProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _field_schema() -> dict[str, Any]:
    per_type = [
        {
            "if": {"properties": {"type": {"const": key}}, "required": ["type"]},
            "then": {
                "properties": {"options": ftype.options_schema},
                # A type whose options have required parts (choices, expression) needs options.
                **({"required": ["options"]} if ftype.options_schema.get("required") else {}),
            },
        }
        for key, ftype in field_types.items()
    ]
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["key", "type", "label"],
        "properties": {
            "key": {"type": "string", "pattern": KEY_PATTERN},
            "type": {"enum": list(field_types)},
            "label": {"type": "string", "minLength": 1, "maxLength": 200},
            "help": {"type": "string", "maxLength": 2000},
            "required": {"type": "boolean"},
            "required_if": {"$ref": "#/$defs/condition"},
            "visible_if": {"$ref": "#/$defs/condition"},
            "privacy": {"enum": list(Privacy.values)},
            "options": {"type": "object"},
            "fields": {
                "type": "array",
                "minItems": 1,
                "maxItems": 100,
                "items": {"$ref": "#/$defs/field"},
            },
        },
        "allOf": per_type,
    }


DEFINITION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema_version", "key", "title", "steps"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "key": {"type": "string", "pattern": KEY_PATTERN},
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": "string", "maxLength": 8000},
        "steps": {
            "type": "array",
            "minItems": 1,
            "maxItems": 30,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "title", "sections"],
                "properties": {
                    "key": {"type": "string", "pattern": KEY_PATTERN},
                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                    "sections": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 50,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["key", "title", "fields"],
                            "properties": {
                                "key": {"type": "string", "pattern": KEY_PATTERN},
                                "title": {"type": "string", "minLength": 1, "maxLength": 200},
                                "description": {"type": "string", "maxLength": 4000},
                                "local": {"type": "boolean"},
                                "fields": {
                                    "type": "array",
                                    "maxItems": 200,
                                    "items": {"$ref": "#/$defs/field"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "$defs": {
        "field": _field_schema(),
        "condition": CONDITION_SCHEMA,
        "expression": EXPRESSION_SCHEMA,
    },
}

_VALIDATOR = Draft202012Validator(DEFINITION_SCHEMA)


def _path(parts: Iterator[Any] | tuple[Any, ...] | list[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: SchemaError) -> str:
    v = error.validator
    if v == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else ""
        return f"必須の項目「{missing}」がありません。"
    if v == "additionalProperties":
        schema: Any = error.schema
        instance: Any = error.instance
        known = schema.get("properties") or {} if isinstance(schema, dict) else {}
        extra = ", ".join(repr(k) for k in instance if k not in known)
        return f"使えない項目 {extra} があります（綴りを確かめてください）。"
    if v == "type":
        return f"値の型が正しくありません（{error.validator_value} が必要です）。"
    if v == "enum":
        options: Any = error.validator_value
        allowed = "、".join(str(x) for x in options)
        return f"使えない値 {error.instance!r} です（{allowed} のいずれか）。"
    if v == "const":
        return f"値は {error.validator_value!r} でなければなりません。"
    if v == "pattern":
        pattern = str(error.validator_value)
        hint = _PATTERN_HINTS.get(pattern, "today、today-18y、2025-04-01 のような形で")
        return f"{error.instance!r} は使えない形です（{hint}）。"
    if v in ("minLength", "minItems"):
        return (
            "空にはできません。"
            if error.validator_value == 1
            else f"{error.validator_value}個（文字）以上必要です。"
        )
    if v in ("maxLength", "maxItems"):
        return f"多すぎます（{error.validator_value}まで）。"
    if v in ("minimum", "maximum"):
        return f"値 {error.instance!r} は範囲外です。"
    if v == "oneOf":
        return "条件（または計算式）の書き方が正しくありません。"
    return f"正しくありません（{v}）。"


_PATTERN_HINTS = {
    KEY_PATTERN: "半角英小文字で始まる英数字と _ で、64文字まで",
    r"^[A-Za-z0-9_\-]{1,64}$": "半角英数字と _ - で、64文字まで",
}


def _shape_problems(data: Any) -> list[DefinitionProblem]:
    """What must be refused before the schema: nesting too deep, numbers JSON cannot hold."""
    problems = []
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEFINITION_DEPTH:
            return [
                DefinitionProblem(path, f"入れ子が深すぎます（{MAX_DEFINITION_DEPTH}段まで）。")
            ]
        if isinstance(node, float) and not math.isfinite(node):
            problems.append(DefinitionProblem(path, "数値に .nan や .inf は使えません。"))
        elif isinstance(node, str) and _UNSTORABLE.search(node):
            problems.append(DefinitionProblem(path, _UNSTORABLE_MESSAGE))
        elif isinstance(node, dict):
            for key, value in node.items():
                child = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    problems.append(
                        DefinitionProblem(_UNSTORABLE.sub("\ufffd", child), _UNSTORABLE_MESSAGE)
                    )
                else:
                    stack.append((value, child, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(node))
    return sorted(problems, key=lambda p: p.path)[:200]


#: The schema's verdicts on recent definitions, by the digest of their canonical JSON: checking
#: is a pure function of the definition and costs about 0.1 s for a national template (most of
#: an adoption, a preview or a builder's edit), while the same definitions are checked again
#: and again. Cleared whole when full; a definition that is not plain JSON is not cached.
_SCHEMA_VERDICTS: dict[bytes, tuple[DefinitionProblem, ...]] = {}
_SCHEMA_VERDICTS_MAX = 256


def _schema_problems(data: Any) -> list[DefinitionProblem]:
    try:
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):  # keys of mixed types, dates from YAML …: check, no cache
        return _schema_problems_checked(data)
    key = hashlib.blake2b(canonical.encode("utf-8", "surrogatepass"), digest_size=32).digest()
    verdict = _SCHEMA_VERDICTS.get(key)
    if verdict is None:
        verdict = tuple(_schema_problems_checked(data))
        if len(_SCHEMA_VERDICTS) >= _SCHEMA_VERDICTS_MAX:
            _SCHEMA_VERDICTS.clear()
        _SCHEMA_VERDICTS[key] = verdict
    return list(verdict)


def _schema_problems_checked(data: Any) -> list[DefinitionProblem]:
    problems = []
    for error in sorted(
        _VALIDATOR.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))
    ):
        # For oneOf/if-then, report the most specific underlying error.
        best = error
        if error.context:
            best = min(error.context, key=lambda e: (-len(e.absolute_path), str(e.validator)))
        problems.append(DefinitionProblem(_path(best.absolute_path), _message(best)))
    return problems[:200]


def _build_field(data: Mapping[str, Any], path: str) -> FieldSpec:
    ftype = field_types[data["type"]]
    privacy = ftype.forced_privacy or Privacy(data.get("privacy", ftype.default_privacy))
    return FieldSpec(
        key=data["key"],
        type=data["type"],
        label=data["label"],
        help=data.get("help", ""),
        required=bool(data.get("required", False)),
        required_if=Condition(data["required_if"]) if "required_if" in data else None,
        visible_if=Condition(data["visible_if"]) if "visible_if" in data else None,
        privacy=privacy,
        options=dict(data.get("options") or {}),
        fields=tuple(
            _build_field(child, f"{path}.fields[{i}]")
            for i, child in enumerate(data.get("fields") or [])
        ),
        path=path,
    )


def build_spec(data: Mapping[str, Any]) -> FormSpec:
    """Turn an already checked definition into the typed spec the engine uses."""
    steps = []
    for si, step in enumerate(data["steps"]):
        sections = []
        for ci, section in enumerate(step["sections"]):
            fields = tuple(
                _build_field(f, f"steps[{si}].sections[{ci}].fields[{fi}]")
                for fi, f in enumerate(section["fields"])
            )
            sections.append(
                SectionSpec(
                    section["key"],
                    section["title"],
                    section.get("description", ""),
                    fields,
                    bool(section.get("local")),
                )
            )
        steps.append(StepSpec(step["key"], step["title"], tuple(sections)))
    return FormSpec(data["key"], data["title"], data.get("description", ""), tuple(steps))


def _semantic_problems(spec: FormSpec) -> list[DefinitionProblem]:
    problems: list[DefinitionProblem] = []
    add = problems.append
    seen_steps: set[str] = set()
    seen_sections: set[str] = set()
    top: dict[str, FieldSpec] = {}
    for si, step in enumerate(spec.steps):
        if step.key in seen_steps:
            add(
                DefinitionProblem(
                    f"steps[{si}].key", f"ステップの key「{step.key}」が重複しています。"
                )
            )
        seen_steps.add(step.key)
        for ci, section in enumerate(step.sections):
            if section.key in seen_sections:
                add(
                    DefinitionProblem(
                        f"steps[{si}].sections[{ci}].key",
                        f"セクションの key「{section.key}」が重複しています。",
                    )
                )
            seen_sections.add(section.key)
            for field in section.fields:
                if field.key in top:
                    add(
                        DefinitionProblem(
                            f"{field.path}.key",
                            f"項目の key「{field.key}」が重複しています（{top[field.key].path}）。",
                        )
                    )
                top[field.key] = field
    count = sum(1 + len(f.fields) for f in top.values())
    if count > MAX_FIELDS:
        add(DefinitionProblem("steps", f"項目が多すぎます（{count}個。{MAX_FIELDS}個まで）。"))

    def check_field(field: FieldSpec, scope: dict[str, FieldSpec], group: FieldSpec | None) -> None:
        ftype = field_types[field.type]
        for message in ftype.check_definition(field):
            add(DefinitionProblem(f"{field.path}.options", message))
        if field.type == "group":
            if group is not None:
                add(DefinitionProblem(f"{field.path}.type", "グループの中にグループは置けません。"))
            children: dict[str, FieldSpec] = {}
            for child in field.fields:
                if child.key in children:
                    add(
                        DefinitionProblem(
                            f"{child.path}.key",
                            f"グループ内で key「{child.key}」が重複しています。",
                        )
                    )
                children[child.key] = child
            for child in field.fields:
                check_field(child, {**scope, **children}, field)
        elif field.fields:
            add(DefinitionProblem(f"{field.path}.fields", "fields を持てるのは group 型だけです。"))
        if not ftype.has_value or field.type in ("computed", "group"):
            if field.required or field.required_if:
                add(
                    DefinitionProblem(
                        f"{field.path}.required", f"{field.type} 型の項目は必須にできません。"
                    )
                )
        if ftype.forced_privacy and field.privacy != ftype.forced_privacy:
            add(
                DefinitionProblem(
                    f"{field.path}.privacy", "この型の項目は特定個人情報として扱われます。"
                )
            )
        for attr in ("visible_if", "required_if"):
            condition = getattr(field, attr)
            if condition is None:
                continue
            for ref in condition_fields(condition.raw):
                if ref == field.key:
                    add(DefinitionProblem(f"{field.path}.{attr}", "自分自身を条件にはできません。"))
                elif ref not in scope:
                    add(
                        DefinitionProblem(
                            f"{field.path}.{attr}", f"条件が参照する項目「{ref}」がありません。"
                        )
                    )
        if field.type == "computed":
            for ref in expression_fields(field.option("expression")):
                base = ref.split(".", 1)[0]
                if ref == field.key:
                    add(
                        DefinitionProblem(
                            f"{field.path}.options.expression", "計算式が自分自身を参照しています。"
                        )
                    )
                elif ref not in scope and base not in scope:
                    add(
                        DefinitionProblem(
                            f"{field.path}.options.expression",
                            f"計算式が参照する項目「{ref}」がありません。",
                        )
                    )
        if field.type in ("date", "birth_date"):
            for bound in ("min", "max"):
                value = field.option(bound)
                if isinstance(value, dict):
                    other = scope.get(value["field"])
                    if other is None or other.type not in ("date", "birth_date"):
                        add(
                            DefinitionProblem(
                                f"{field.path}.options.{bound}",
                                f"日付の範囲が参照する日付項目「{value['field']}」がありません。",
                            )
                        )

    for field in spec.fields:  # each one, even a field whose key is used twice
        check_field(field, top, None)
    problems.extend(_computed_cycles(top))
    return problems


def _computed_cycles(top: Mapping[str, FieldSpec]) -> list[DefinitionProblem]:
    graph = {
        key: {ref.split(".", 1)[0] for ref in expression_fields(f.option("expression"))}
        for key, f in top.items()
        if f.type == "computed"
    }
    problems = []
    for start in graph:
        stack, seen = [start], set()
        while stack:
            node = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    problems.append(
                        DefinitionProblem(
                            f"{top[start].path}.options.expression", "計算式が循環しています。"
                        )
                    )
                    stack.clear()
                    break
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
    return problems


def check_definition(data: Any, lines: Mapping[str, int] | None = None) -> FormSpec:
    """Check a definition completely and return its spec.

    Raises :class:`InvalidDefinition` listing every problem with its path (and line, when
    ``lines`` maps paths to lines, as :func:`load_definition_text` does).
    """
    spec = None
    try:
        problems = _shape_problems(data) or _schema_problems(data)
        if not problems:
            spec = build_spec(data)
            problems = _semantic_problems(spec)
    except RecursionError:  # only when called from an already deep stack
        problems = [DefinitionProblem("", "入れ子が深すぎます。")]
    if problems:
        if lines:
            problems = [
                DefinitionProblem(p.path, p.message, _line_for(p.path, lines)) for p in problems
            ]
        raise InvalidDefinition(problems)
    assert spec is not None
    return spec


def _line_for(path: str, lines: Mapping[str, int]) -> int | None:
    candidate = path
    while candidate:
        if candidate in lines:
            return lines[candidate]
        cut = max(candidate.rfind("."), candidate.rfind("["))
        candidate = candidate[:cut] if cut > 0 else ""
    return lines.get("")


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors or aliases: they are how a small file becomes a huge one."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.constructor.ConstructorError(
                None, None, "YAML のエイリアス（*名前）は使えません。", event.start_mark
            )
        return super().compose_node(parent, index)


# Dates stay strings ("2025-04-01"): the engine parses them, and JSON cannot hold a date.
_NoAliasLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _node_lines(
    node: yaml.Node, path: str, out: dict[str, int], duplicates: list[DefinitionProblem]
) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            if key in seen:  # YAML would silently keep only the last one
                duplicates.append(
                    DefinitionProblem(
                        child,
                        f"「{key}」が同じ場所に2回書かれています。1つにまとめてください。",
                        key_node.start_mark.line + 1,
                    )
                )
            seen.add(key)
            out[child] = key_node.start_mark.line + 1
            _node_lines(value_node, child, out, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _node_lines(item, f"{path}[{i}]", out, duplicates)


def load_definition_text(text: str | bytes) -> tuple[Any, dict[str, int]]:
    """Parse YAML (or JSON, which is YAML too) into data and a path → line map.

    Raises :class:`InvalidDefinition` for text that is too large, not UTF-8, or not YAML,
    with the line of the syntax error.
    """
    if isinstance(text, bytes):
        if len(text) > MAX_DEFINITION_BYTES:
            raise InvalidDefinition([DefinitionProblem("", "ファイルが大きすぎます（1MBまで）。")])
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidDefinition(
                [DefinitionProblem("", "文字コードは UTF-8 にしてください。")]
            ) from None
    if len(text) > MAX_DEFINITION_BYTES:
        raise InvalidDefinition([DefinitionProblem("", "ファイルが大きすぎます（1MBまで）。")])
    as_json = _json_data(text)
    try:
        node = yaml.compose(text, Loader=_NoAliasLoader)
        data = as_json if as_json is not None else yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506
    except yaml.reader.ReaderError as error:
        code = error.character if isinstance(error.character, int) else ord(error.character)
        raise InvalidDefinition(
            [
                DefinitionProblem(
                    "",
                    f"YAML/JSON として読めません: 使えない文字（U+{code:04X}）が含まれています。",
                    text.count("\n", 0, error.position) + 1,
                )
            ]
        ) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise InvalidDefinition(
            [DefinitionProblem("", f"YAML/JSON として読めません: {error.problem or error}", line)]
        ) from None
    except (yaml.YAMLError, RecursionError) as error:
        raise InvalidDefinition(
            [DefinitionProblem("", f"YAML/JSON として読めません: {type(error).__name__}")]
        ) from None
    lines: dict[str, int] = {}
    duplicates: list[DefinitionProblem] = []
    if node is not None:
        _node_lines(node, "", lines, duplicates)
    problems = duplicates + [
        DefinitionProblem(
            _UNSTORABLE.sub("\ufffd", path),
            "文字として使えないコード（\\0 や対になっていないサロゲート）が含まれています。",
            lines.get(path),
        )
        for path in _unstorable_paths(data, "")
    ]
    if problems:
        raise InvalidDefinition(problems[:50])
    return data, lines


# NUL and lone surrogates ("\0", "\ud800" in a quoted YAML string) are valid escapes but no
# database can store them: refuse them here rather than fail when the form is saved.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_UNSTORABLE_MESSAGE = (
    "文字として使えないコード（\\0 や対になっていないサロゲート）が含まれています。"
)


def _unstorable_paths(node: Any, path: str) -> Iterator[str]:
    if isinstance(node, str):
        if _UNSTORABLE.search(node):
            yield path
    elif isinstance(node, dict):
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _UNSTORABLE.search(key):
                yield child
            else:
                yield from _unstorable_paths(value, child)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _unstorable_paths(item, f"{path}[{i}]")


def _json_data(text: str) -> Any:
    """JSON text, read as JSON (YAML still gives the lines): YAML 1.1 reads 1e-05 as text and
    the escaped pair "\\ud842\\udfb7" (𠮷, as many JSON writers put it) as two broken halves."""
    if text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


class _NoAliasDumper(yaml.SafeDumper):
    """YAML as :func:`load_definition_text` reads it: no anchors or aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def definition_yaml(data: Any) -> str:
    """A stored definition as YAML (keys in their order, Japanese as written) that
    :func:`parse_definition_text` reads back to the same data."""
    return str(
        yaml.dump(
            data,
            Dumper=_NoAliasDumper,
            allow_unicode=True,
            sort_keys=False,
            default_flow_style=False,
            width=100,
        )
    )


def parse_definition_text(text: str | bytes) -> tuple[FormSpec, Any]:
    """Load and check a definition file; returns the spec and the plain data to store."""
    data, lines = load_definition_text(text)
    spec = check_definition(data, lines)
    # Round-trip through JSON so that what is stored is exactly what JSON can hold.
    return spec, json.loads(json.dumps(data, ensure_ascii=False))
