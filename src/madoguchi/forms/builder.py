"""The form builder's edits: pure operations on a definition dict.

A builder draft is the same data :func:`madoguchi.forms.schema.check_definition` checks — no
second format. Every operation here takes a definition and returns a new one (the argument is
never changed), or raises :class:`BuilderError` with a Japanese message when the edit itself is
impossible (an element that is not there, a key used twice, a draft grown past the limits).
An edit that leaves the form incomplete (a choice without a sensible label, a condition on a
removed field) is allowed: :func:`problems_by_element` says what is wrong and where, and
publishing refuses until it is fixed.

Elements are addressed by the paths the checks use: ``steps[0]``, ``steps[0].sections[1]``,
``steps[0].sections[1].fields[2]`` and, inside a repeatable group, ``….fields[2].fields[0]``.
"""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from madoguchi.forms.base import field_types
from madoguchi.forms.constants import KEY_PATTERN, MAX_FIELDS, SCHEMA_VERSION, Privacy
from madoguchi.forms.rules import OPERATORS
from madoguchi.forms.schema import (
    MAX_DEFINITION_BYTES,
    InvalidDefinition,
    check_definition,
)
from madoguchi.forms.schema import definition_yaml as _definition_yaml

#: A draft may hold a little more than a publishable form (so that one can be trimmed back),
#: never without bound.
MAX_DRAFT_FIELDS = MAX_FIELDS + 100
MAX_STEPS = 30
MAX_SECTIONS = 50
MAX_SECTION_FIELDS = 200
MAX_GROUP_FIELDS = 100
MAX_CHOICES = 500
MAX_LABEL = 200
MAX_HELP = 2000

_PATH = re.compile(
    r"^steps\[(\d{1,3})\](?:\.sections\[(\d{1,3})\](?:\.fields\[(\d{1,3})\](?:\.fields\[(\d{1,3})\])?)?)?$"
)
_KEY = re.compile(KEY_PATTERN)
# Bidi controls and other invisible format characters make a label read differently from what
# it is (an "Trojan source" label); they have no place in a form's wording.
_FORMAT_CHARS = re.compile(
    "[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
)


class BuilderError(ValueError):
    """The edit cannot be made; ``str(error)`` says why, in Japanese."""


@dataclass(frozen=True)
class Reference:
    """A field a condition or a computed value may refer to."""

    key: str
    label: str
    type: str
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Block:
    """A reusable set of fields inserted in one step (よく使う項目のまとまり)."""

    name: str
    label: str
    fields: tuple[Mapping[str, Any], ...]


BLOCKS: dict[str, Block] = {
    block.name: block
    for block in (
        Block(
            "applicant",
            "申請者（氏名・フリガナ・生年月日・住所・電話番号）",
            (
                {
                    "key": "name",
                    "type": "person_name",
                    "label": "氏名",
                    "required": True,
                    "options": {"kana_required": True},
                },
                {"key": "birth_date", "type": "birth_date", "label": "生年月日", "required": True},
                # The address asks for its postal code itself (and fills in the town from it):
                # a separate postal-code field would ask residents twice (QA).
                {"key": "address", "type": "address", "label": "住所", "required": True},
                {"key": "phone", "type": "phone", "label": "電話番号", "required": True},
            ),
        ),
        Block(
            "contact",
            "連絡先（電話番号・メールアドレス）",
            (
                {
                    "key": "phone",
                    "type": "phone",
                    "label": "日中に連絡のとれる電話番号",
                    "required": True,
                },
                {"key": "email", "type": "email", "label": "メールアドレス", "required": True},
            ),
        ),
        Block(
            "consent",
            "同意（個人情報の取扱い）",
            (
                {
                    "key": "privacy_consent",
                    "type": "consent",
                    "label": "個人情報の取扱いへの同意",
                    "required": True,
                    "options": {
                        "statement": "入力した個人情報は、この手続の事務にだけ使われることに同意します。"
                    },
                },
            ),
        ),
    )
}


def field_type_choices() -> list[tuple[str, str]]:
    """Every field type of the engine (the palette), as (key, Japanese label)."""
    return [(key, ftype.label) for key, ftype in field_types.items()]


# --- Reading paths -----------------------------------------------------------------------------


def _parse(path: str) -> tuple[int, ...]:
    match = _PATH.match(path or "")
    if match is None:
        raise BuilderError("その要素はありません（画面を開き直してください）。")
    return tuple(int(g) for g in match.groups() if g is not None)


def _children(definition: Mapping[str, Any], parts: tuple[int, ...]) -> list[Any]:
    """The list that holds the element at ``parts`` (its siblings)."""
    try:
        node: Any = definition["steps"]
        for depth, index in enumerate(parts[:-1]):
            element = node[index]
            node = element["sections"] if depth == 0 else element["fields"]
        if not isinstance(node, list) or not 0 <= parts[-1] < len(node):
            raise IndexError(parts[-1])
        return node
    except (KeyError, IndexError, TypeError):
        raise BuilderError("その要素はありません（画面を開き直してください）。") from None


def element_at(definition: Mapping[str, Any], path: str) -> dict[str, Any]:
    parts = _parse(path)
    element = _children(definition, parts)[parts[-1]]
    if not isinstance(element, dict):
        raise BuilderError("その要素はありません（画面を開き直してください）。")
    return element


def kind_of(path: str) -> str:
    """ "step", "section", "field" or "child" (a field inside a group)."""
    return ("step", "section", "field", "child")[len(_parse(path)) - 1]


def _join(parts: tuple[int, ...]) -> str:
    names = ("steps", "sections", "fields", "fields")
    return ".".join(f"{names[d]}[{i}]" for d, i in enumerate(parts))


def iter_fields(definition: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every field with its path, group children after their group."""
    for si, step in enumerate(definition.get("steps") or []):
        for ci, section in enumerate(step.get("sections") or []):
            for fi, field in enumerate(section.get("fields") or []):
                path = f"steps[{si}].sections[{ci}].fields[{fi}]"
                yield path, field
                for gi, child in enumerate(field.get("fields") or []):
                    yield f"{path}.fields[{gi}]", child


def _field_count(definition: Mapping[str, Any]) -> int:
    return sum(1 for _ in iter_fields(definition))


def _keys(definition: Mapping[str, Any], kind: str) -> set[str]:
    if kind == "field":
        return {str(f.get("key")) for _, f in iter_fields(definition)}
    if kind == "step":
        return {str(s.get("key")) for s in definition.get("steps") or []}
    return {
        str(c.get("key")) for s in definition.get("steps") or [] for c in s.get("sections") or []
    }


# --- Keys --------------------------------------------------------------------------------------


def key_from_label(label: str, *, taken: set[str], fallback: str) -> str:
    """A stable, unique key for a new element: from the label's ASCII letters where it has
    some (``Email`` → ``email``), else ``fallback`` (the field type) with a number."""
    ascii_part = unicodedata.normalize("NFKC", label).lower()
    base = re.sub(r"[^a-z0-9]+", "_", ascii_part).strip("_")
    base = re.sub(r"^[0-9_]+", "", base)[:40] or fallback
    if base not in taken:
        return base
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def _clean_text(value: Any, *, what: str, maximum: int, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise BuilderError(f"{what}は文字で入力してください。")
    text = _FORMAT_CHARS.sub("", unicodedata.normalize("NFC", value)).strip()
    if re.search("[\ud800-\udfff]", text):
        raise BuilderError(f"{what}に文字として使えないコードが含まれています。")
    if not text and not allow_empty:
        raise BuilderError(f"{what}を入力してください。")
    if len(text) > maximum:
        raise BuilderError(f"{what}は{maximum}文字以内にしてください（現在{len(text)}文字）。")
    return text


# --- Starting points ---------------------------------------------------------------------------


def blank_definition(*, title: str) -> dict[str, Any]:
    """A new form: one step, one empty section. It checks as a valid (empty) form."""
    return {
        "schema_version": SCHEMA_VERSION,
        "key": "form",
        "title": _clean_text(title, what="様式の名称", maximum=MAX_LABEL),
        "steps": [
            {
                "key": "step_1",
                "title": "入力",
                "sections": [{"key": "section_1", "title": "申請の内容", "fields": []}],
            }
        ],
    }


def copied_definition(source: Mapping[str, Any], *, title: str = "") -> dict[str, Any]:
    """A copy of a published form to start from (a procedure's or a national template's).
    団体独自の質問 sections stay ordinary sections in an own form."""
    definition: dict[str, Any] = json.loads(json.dumps(source, ensure_ascii=False))
    for step in definition.get("steps") or []:
        for section in step.get("sections") or []:
            section.pop("local", None)
    if title:
        definition["title"] = _clean_text(title, what="様式の名称", maximum=MAX_LABEL)
    return definition


# --- Edits -------------------------------------------------------------------------------------


def _new_field(field_type: str, label: str, taken: set[str]) -> dict[str, Any]:
    ftype = (
        field_types[field_type]
        if isinstance(field_type, str) and field_type in field_types
        else None
    )
    if ftype is None:
        raise BuilderError("項目の種類を一覧から選んでください。")
    label = _clean_text(label or ftype.label, what="項目の名前", maximum=MAX_LABEL)
    field: dict[str, Any] = {
        "key": key_from_label(label, taken=taken, fallback=field_type),
        "type": field_type,
        "label": label,
    }
    if field_type in ("choice", "multichoice"):
        field["options"] = {
            "choices": [
                {"value": "choice_1", "label": "選択肢1"},
                {"value": "choice_2", "label": "選択肢2"},
            ]
        }
    elif field_type == "computed":
        field["options"] = {"expression": 0}
    elif field_type == "notice":
        field["options"] = {"text": "お知らせの文"}
    elif field_type == "consent":
        field["options"] = {"statement": "上記の内容に同意します。"}
    elif field_type == "group":
        child_key = key_from_label("", taken=taken | {field["key"]}, fallback="text")
        field["options"] = {"min_items": 1, "max_items": 10}
        field["fields"] = [{"key": child_key, "type": "text", "label": "項目"}]
    return field


def element_add(
    definition: Mapping[str, Any],
    *,
    parent: str,
    position: int,
    kind: str,
    field_type: str = "text",
    label: str = "",
) -> tuple[dict[str, Any], str]:
    """Insert a new step (``parent`` ""), section (parent a step), field (parent a section) or
    group child (parent a group field) at ``position``; returns the new definition and the
    new element's path."""
    result = copy.deepcopy(dict(definition))
    parts = _parse(parent) if parent else ()
    expected = {"step": 0, "section": 1, "field": 2, "child": 3}.get(kind)
    if expected is None or len(parts) != expected:
        raise BuilderError("そこには追加できません。")
    if kind == "step":
        siblings = result["steps"]
        limit = MAX_STEPS
        key = key_from_label(label, taken=_keys(result, "step"), fallback="step")
        title = _clean_text(label or "入力", what="ステップの名前", maximum=MAX_LABEL)
        new: dict[str, Any] = {
            "key": key,
            "title": title,
            "sections": [
                {
                    "key": key_from_label("", taken=_keys(result, "section"), fallback="section"),
                    "title": "申請の内容",
                    "fields": [],
                }
            ],
        }
    elif kind == "section":
        siblings = element_at(result, parent)["sections"]
        limit = MAX_SECTIONS
        new = {
            "key": key_from_label(label, taken=_keys(result, "section"), fallback="section"),
            "title": _clean_text(
                label or "項目のまとまり", what="まとまりの名前", maximum=MAX_LABEL
            ),
            "fields": [],
        }
    else:
        owner = element_at(result, parent)
        if kind == "child":
            if owner.get("type") != "group":
                raise BuilderError("項目の中に項目を置けるのは繰り返しグループだけです。")
            if field_type == "group":
                raise BuilderError("グループの中にグループは置けません。")
            limit = MAX_GROUP_FIELDS
        else:
            limit = MAX_SECTION_FIELDS
        siblings = owner.setdefault("fields", [])
        if _field_count(result) + (2 if field_type == "group" else 1) > MAX_DRAFT_FIELDS:
            raise BuilderError(f"項目が多すぎます（{MAX_FIELDS}個まで）。")
        new = _new_field(field_type, label, _keys(result, "field"))
    if len(siblings) >= limit:
        raise BuilderError(f"ここにはこれ以上追加できません（{limit}個まで）。")
    index = max(0, min(int(position), len(siblings)))
    siblings.insert(index, new)
    return result, _join((*parts, index))


def element_move(
    definition: Mapping[str, Any], *, path: str, offset: int
) -> tuple[dict[str, Any], str]:
    """Move an element one place up (-1) or down (+1) among its siblings; returns the new
    definition and the element's new path. At either end it stays where it is."""
    if offset not in (-1, 1):
        raise BuilderError("上か下を選んでください。")
    result = copy.deepcopy(dict(definition))
    parts = _parse(path)
    siblings = _children(result, parts)
    index, target = parts[-1], parts[-1] + offset
    if not 0 <= target < len(siblings):
        return result, path
    siblings[index], siblings[target] = siblings[target], siblings[index]
    return result, _join((*parts[:-1], target))


def element_remove(definition: Mapping[str, Any], *, path: str) -> dict[str, Any]:
    """Remove an element. The last step and a step's last section stay (a form needs one);
    conditions that referred to a removed field are then shown as problems."""
    result = copy.deepcopy(dict(definition))
    parts = _parse(path)
    siblings = _children(result, parts)
    if len(parts) <= 2 and len(siblings) == 1:
        raise BuilderError("最後のステップ・まとまりは削除できません（様式には1つ以上必要です）。")
    if len(parts) == 4 and len(siblings) == 1:
        raise BuilderError("グループには項目が1つ以上必要です。グループごと削除してください。")
    siblings.pop(parts[-1])
    return result


def block_insert(
    definition: Mapping[str, Any], *, parent: str, position: int, block: str
) -> tuple[dict[str, Any], str]:
    """Insert a reusable block of fields into a section in one step; keys that are already
    taken get a number (``phone_2``)."""
    chosen = BLOCKS.get(block)
    if chosen is None:
        raise BuilderError("挿入するまとまりを一覧から選んでください。")
    if len(_parse(parent)) != 2:
        raise BuilderError("まとまりはステップの中の「項目のまとまり」に挿入します。")
    result = copy.deepcopy(dict(definition))
    fields = element_at(result, parent)["fields"]
    if len(fields) + len(chosen.fields) > MAX_SECTION_FIELDS:
        raise BuilderError(f"ここにはこれ以上追加できません（{MAX_SECTION_FIELDS}個まで）。")
    if _field_count(result) + len(chosen.fields) > MAX_DRAFT_FIELDS:
        raise BuilderError(f"項目が多すぎます（{MAX_FIELDS}個まで）。")
    taken = _keys(result, "field")
    index = max(0, min(int(position), len(fields)))
    for offset, template in enumerate(chosen.fields):
        field = copy.deepcopy(dict(template))
        field["key"] = key_from_label(field["key"], taken=taken, fallback=field["type"])
        taken.add(field["key"])
        fields.insert(index + offset, field)
    return result, f"{parent}.fields[{index}]"


def _number(value: Any, *, what: str, integer: bool = False) -> int | float | None:
    if value is None or value == "":
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "")
    try:
        number = int(text) if integer else float(text)
    except ValueError:
        raise BuilderError(f"{what}は{'整数' if integer else '数字'}で入力してください。") from None
    if not integer and isinstance(number, float):
        if number != number or number in (float("inf"), float("-inf")) or abs(number) > 1e15:
            raise BuilderError(f"{what}が大きすぎます。")
        if number.is_integer():
            return int(number)
    if integer and abs(int(number)) > 10**9:
        raise BuilderError(f"{what}が大きすぎます。")
    return number


def parse_choices(text: str) -> list[dict[str, str]]:
    """Choices typed one a line, ``value:label`` or just the label (values are generated)."""
    if not isinstance(text, str):
        raise BuilderError("選択肢は1行に1つずつ入力してください。")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_CHOICES:
        raise BuilderError(f"選択肢が多すぎます（{MAX_CHOICES}個まで。現在{len(lines)}個）。")
    choices: list[dict[str, str]] = []
    values: set[str] = set()
    for n, line in enumerate(lines, start=1):
        value, sep, label = line.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", value.strip()):
            value, label = f"choice_{n}", line
        value = value.strip()
        if value in values:
            raise BuilderError(f"選択肢の値「{value}」が2回使われています。")
        values.add(value)
        choices.append(
            {
                "value": value,
                "label": _clean_text(label, what=f"{n}行目の選択肢", maximum=MAX_LABEL),
            }
        )
    if not choices:
        raise BuilderError("選択肢を1つ以上入力してください。")
    return choices


def choices_text(choices: Any) -> str:
    if not isinstance(choices, list):
        return ""
    return "\n".join(f"{c.get('value')}:{c.get('label')}" for c in choices if isinstance(c, dict))


def field_update(
    definition: Mapping[str, Any], *, path: str, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Change a field's (or a step's, a section's) wording and options.

    ``changes`` holds what the edit form sent: ``label``, ``help``, ``key``, ``required``,
    ``privacy`` and type-specific options (``choices`` as text, ``min_length``/``max_length``,
    ``min``/``max``/``unit``, ``accept``/``max_bytes``/``max_files``, ``statement``/``text``,
    ``min_items``/``max_items``/``item_label``, ``widget``). Renaming a key to one already used
    is refused; the other references to the old key are not rewritten (the checks show them).
    """
    result = copy.deepcopy(dict(definition))
    kind = kind_of(path)
    element = element_at(result, path)
    if kind in ("step", "section"):
        if "title" in changes:
            element["title"] = _clean_text(changes["title"], what="名前", maximum=MAX_LABEL)
        if kind == "section" and "description" in changes:
            text = _clean_text(changes["description"], what="説明", maximum=4000, allow_empty=True)
            element.pop("description", None)
            if text:
                element["description"] = text
        if "key" in changes:
            _rename(result, element, str(changes["key"]), _keys(result, kind))
        return result
    if "label" in changes:
        element["label"] = _clean_text(changes["label"], what="項目の名前", maximum=MAX_LABEL)
    if "help" in changes:
        text = _clean_text(changes["help"], what="説明", maximum=MAX_HELP, allow_empty=True)
        element.pop("help", None)
        if text:
            element["help"] = text
    if "key" in changes:
        _rename(result, element, str(changes["key"]), _keys(result, "field"))
    if "required" in changes:
        element.pop("required", None)
        if changes["required"] in (True, "on", "true", "1"):
            element["required"] = True
    if "privacy" in changes:
        privacy = changes["privacy"]
        element.pop("privacy", None)
        if privacy:
            if privacy not in Privacy.values:
                raise BuilderError("個人情報の区分を一覧から選んでください。")
            element["privacy"] = privacy
    options = dict(element.get("options") or {})
    ftype = element.get("type")
    numbers = {
        "min_length": ("最小文字数", True),
        "max_length": ("最大文字数", True),
        "min": ("最小値", False),
        "max": ("最大値", False),
        "decimals": ("小数点以下の桁数", True),
        "max_bytes": ("ファイルの大きさ", True),
        "max_files": ("ファイルの数", True),
        "min_items": ("最少の件数", True),
        "max_items": ("最多の件数", True),
        "min_selected": ("最少の選択数", True),
        "max_selected": ("最多の選択数", True),
    }
    for name, (what, integer) in numbers.items():
        if name in changes:
            if ftype in ("date", "birth_date") and name in ("min", "max"):
                text = _clean_text(changes[name], what=what, maximum=40, allow_empty=True)
                options.pop(name, None)
                if text:
                    options[name] = text
                continue
            value = _number(changes[name], what=what, integer=integer)
            options.pop(name, None)
            if value is not None:
                options[name] = value
    for name, what, maximum in (
        ("unit", "単位", 16),
        ("statement", "同意の文", 2000),
        ("text", "お知らせの文", 4000),
        ("item_label", "1件の呼び方", 40),
        ("placeholder", "入力例", 200),
        ("document", "書類の名前", 200),
    ):
        if name in changes:
            text = _clean_text(changes[name], what=what, maximum=maximum, allow_empty=True)
            options.pop(name, None)
            if text:
                options[name] = text
    if "choices" in changes:
        options["choices"] = parse_choices(changes["choices"])
    if "widget" in changes:
        options.pop("widget", None)
        if changes["widget"] in ("radio", "select"):
            options["widget"] = changes["widget"]
    if "accept" in changes:
        accept = [k for k in changes["accept"] if isinstance(k, str)][:20]
        options.pop("accept", None)
        if accept:
            options["accept"] = sorted(set(accept), key=accept.index)
    for flag in ("kana_required", "within_organisation", "japan_only", "weekdays_only", "fee"):
        if flag in changes:
            options.pop(flag, None)
            if changes[flag] in (True, "on", "true", "1"):
                options[flag] = True
    element.pop("options", None)
    if options:
        element["options"] = options
    return result


def _rename(definition: dict[str, Any], element: dict[str, Any], key: str, taken: set[str]) -> None:
    key = key.strip()
    if key == element.get("key"):
        return
    if not _KEY.match(key):
        raise BuilderError("識別子は半角英小文字で始まる英数字と _ で、64文字までにしてください。")
    if key in taken:
        raise BuilderError(f"識別子「{key}」はすでに使われています。別の識別子にしてください。")
    element["key"] = key


# --- Conditions and computed values --------------------------------------------------------------


def references(definition: Mapping[str, Any], *, path: str) -> list[Reference]:
    """The fields a condition or computed value of the field at ``path`` may refer to: the
    form's other top-level fields with a value, and inside a group its siblings as well."""
    parts = _parse(path)
    refs: list[Reference] = []
    own = element_at(definition, path).get("key")
    group_path = _join(parts[:3]) if len(parts) == 4 else None
    for field_path, field in iter_fields(definition):
        is_child = field_path.count("fields[") == 2
        if is_child and not (group_path and field_path.startswith(group_path + ".")):
            continue
        ftype = field_types[field["type"]] if field.get("type") in field_types else None
        if ftype is None or not ftype.has_value or field.get("key") == own:
            continue
        if field.get("type") == "group":
            continue
        choices = tuple(
            (str(c.get("value")), str(c.get("label")))
            for c in (field.get("options") or {}).get("choices") or []
            if isinstance(c, dict)
        )
        refs.append(
            Reference(str(field.get("key")), str(field.get("label")), str(field["type"]), choices)
        )
    return refs


def group_references(definition: Mapping[str, Any]) -> list[tuple[str, str, list[Reference]]]:
    """Repeatable groups and their number fields (for counts and sums)."""
    result = []
    for _, field in iter_fields(definition):
        if field.get("type") == "group":
            numbers = [
                Reference(str(c.get("key")), str(c.get("label")), str(c.get("type")))
                for c in field.get("fields") or []
                if c.get("type") in ("number", "computed")
            ]
            result.append((str(field.get("key")), str(field.get("label")), numbers))
    return result


def condition_set(
    definition: Mapping[str, Any],
    *,
    path: str,
    which: str,
    ref: str,
    operator: str,
    value: str = "",
) -> dict[str, Any]:
    """Set (or, with ``ref`` "", clear) the visibility (``visible_if``) or required-ness
    (``required_if``) condition of a field. Only a field :func:`references` offers is accepted."""
    if which not in ("visible_if", "required_if"):
        raise BuilderError("条件の種類を選んでください。")
    result = copy.deepcopy(dict(definition))
    element = element_at(result, path)
    if kind_of(path) not in ("field", "child"):
        raise BuilderError("条件は項目に付けます。")
    if not ref:
        element.pop(which, None)
        return result
    offered = {r.key: r for r in references(result, path=path)}
    if ref not in offered:
        raise BuilderError("条件に使える項目を一覧から選んでください。")
    if operator not in OPERATORS:
        raise BuilderError("条件の比べ方を一覧から選んでください。")
    condition: dict[str, Any] = {"field": ref}
    if operator in ("filled", "empty"):
        condition[operator] = True
    elif operator in ("in", "not_in"):
        items = [v.strip() for v in value.replace("、", ",").split(",") if v.strip()]
        if not items:
            raise BuilderError("比べる値を入力してください。")
        condition[operator] = [_choice_value(offered[ref], item) for item in items[:200]]
    elif operator in ("gt", "gte", "lt", "lte"):
        number = _number(value, what="比べる値")
        condition[operator] = number if number is not None else value.strip()[:40]
    else:
        text = _clean_text(value, what="比べる値", maximum=200)
        reference = offered[ref]
        if reference.type == "yesno":
            condition[operator] = text in ("yes", "はい", "true")
        elif reference.type in ("number", "computed"):
            number = _number(text, what="比べる値")
            condition[operator] = number if number is not None else text
        else:
            condition[operator] = _choice_value(reference, text)
    element[which] = condition
    return result


def _choice_value(reference: Reference, typed: str) -> str:
    """What a condition compares a choice field's answer with: the choice's value, whether the
    staff member typed the value or the label residents see (「大会議室」 for ``choice_1``). A
    text that is neither would make a condition that never holds, so it is refused."""
    if not reference.choices:
        return typed
    for choice_value, _label in reference.choices:
        if typed == choice_value:
            return choice_value
    for choice_value, label in reference.choices:
        if typed == label:
            return choice_value
    offered = "、".join(f"「{label}」" for _value, label in reference.choices[:20])
    raise BuilderError(
        f"「{typed[:40]}」は「{reference.label}」の選択肢にありません。選択肢から選んでください"
        f"（{offered}）。"
    )


EXPRESSION_KINDS = {
    "constant": "決まった数",
    "field_times": "項目 × 数",
    "sum_times": "グループの合計 × 数",
    "count_times": "グループの件数 × 数",
}


def computed_guided(expression: Any) -> dict[str, str] | None:
    """The guided choices (``kind``, ``ref``, ``factor``, ``offset``, as :func:`computed_set`
    takes them) that make ``expression``, so the editor opens on the formula the field has;
    ``None`` for an expression the guided editor cannot make (written in YAML)."""

    def number(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return str(int(value)) if float(value).is_integer() else str(value)

    offset = "0"
    if isinstance(expression, dict) and set(expression) == {"add"}:
        parts = expression["add"]
        if not (isinstance(parts, list) and len(parts) == 2 and number(parts[1]) is not None):
            return None
        expression, offset = parts[0], str(number(parts[1]))
    if number(expression) is not None and offset == "0":
        return {"kind": "constant", "ref": "", "factor": "1", "offset": str(number(expression))}
    if not (isinstance(expression, dict) and set(expression) == {"multiply"}):
        return None
    parts = expression["multiply"]
    if not (isinstance(parts, list) and len(parts) == 2 and number(parts[1]) is not None):
        return None
    base, factor = parts[0], str(number(parts[1]))
    if isinstance(base, dict) and set(base) == {"field"} and isinstance(base["field"], str):
        return {"kind": "field_times", "ref": base["field"], "factor": factor, "offset": offset}
    if isinstance(base, dict) and set(base) == {"count"} and isinstance(base["count"], str):
        return {"kind": "count_times", "ref": base["count"], "factor": factor, "offset": offset}
    total = base.get("sum") if isinstance(base, dict) and set(base) == {"sum"} else None
    if isinstance(total, dict) and isinstance(total.get("group"), str):
        ref = f"{total['group']}.{total.get('field', '')}"
        return {"kind": "sum_times", "ref": ref, "factor": factor, "offset": offset}
    return None


def computed_words(guided: Mapping[str, str], labels: Mapping[str, str]) -> str:
    """The guided formula in words, with the labels residents see (「参加者の件数 × 500」)."""
    kind, ref = guided["kind"], guided["ref"]
    group, _, child = ref.partition(".")
    if kind == "constant":
        return f"いつも {guided['offset']}"
    if kind == "field_times":
        base = f"「{labels.get(ref, ref)}」"
    elif kind == "count_times":
        base = f"「{labels.get(ref, ref)}」の件数"
    else:
        base = f"「{labels.get(group, group)}」の「{labels.get(ref, child)}」の合計"
    words = f"{base} × {guided['factor']}"
    return words + (f" ＋ {guided['offset']}" if guided["offset"] != "0" else "")


def computed_set(
    definition: Mapping[str, Any],
    *,
    path: str,
    kind: str,
    ref: str = "",
    factor: str = "1",
    offset: str = "0",
) -> dict[str, Any]:
    """Set a computed field's expression from the guided choices: a constant, a field times a
    number, the sum of a group's field times a number, or a group's count times a number, each
    plus a fixed amount. Only fields the form offers are accepted."""
    result = copy.deepcopy(dict(definition))
    element = element_at(result, path)
    if element.get("type") != "computed":
        raise BuilderError("計算式を設定できるのは計算値の項目だけです。")
    times = _number(factor, what="掛ける数")
    plus = _number(offset, what="足す数") or 0
    expression: Any
    if kind == "constant":
        expression = plus
    elif kind == "field_times":
        offered = {r.key for r in references(result, path=path) if r.type in ("number", "computed")}
        if ref not in offered:
            raise BuilderError("計算に使う数値の項目を一覧から選んでください。")
        expression = {"multiply": [{"field": ref}, times if times is not None else 1]}
    elif kind in ("sum_times", "count_times"):
        groups = {key: numbers for key, _, numbers in group_references(result)}
        if kind == "sum_times":
            group, _, child = ref.partition(".")
            if group not in groups or child not in {n.key for n in groups[group]}:
                raise BuilderError("合計するグループの数値の項目を一覧から選んでください。")
            base: Any = {"sum": {"group": group, "field": child}}
        else:
            if ref not in groups:
                raise BuilderError("件数を数えるグループを一覧から選んでください。")
            base = {"count": ref}
        expression = {"multiply": [base, times if times is not None else 1]}
    else:
        raise BuilderError("計算の種類を一覧から選んでください。")
    if kind != "constant" and plus:
        expression = {"add": [expression, plus]}
    options = dict(element.get("options") or {})
    options["expression"] = expression
    element["options"] = options
    return result


# --- Problems ------------------------------------------------------------------------------------


def problems_by_element(definition: Any) -> dict[str, list[str]]:
    """Run the engine's own check and attach each problem to the element that causes it (the
    longest element path that starts the problem's path; "" for the form as a whole)."""
    try:
        check_definition(definition)
    except InvalidDefinition as error:
        problems = error.problems
    else:
        return {}
    result: dict[str, list[str]] = {}
    for problem in problems:
        result.setdefault(element_of(problem.path), []).append(problem.message)
    return result


_ELEMENT_PREFIX = re.compile(
    r"^steps\[\d+\](?:\.sections\[\d+\](?:\.fields\[\d+\](?:\.fields\[\d+\])?)?)?"
)


def element_of(path: str) -> str:
    match = _ELEMENT_PREFIX.match(path or "")
    return match.group(0) if match else ""


# --- YAML ----------------------------------------------------------------------------------------


def definition_yaml(definition: Mapping[str, Any]) -> str:
    """The definition as YAML (:func:`madoguchi.forms.schema.definition_yaml`, which
    :func:`madoguchi.forms.schema.load_definition_text` reads back unchanged), refused with
    ``BuilderError`` when it would be larger than a definition may be."""
    text = _definition_yaml(definition)
    if len(text.encode("utf-8")) > MAX_DEFINITION_BYTES:
        raise BuilderError("様式が大きすぎて書き出せません（1MBまで）。")
    return text
