"""Server-rendered, accessible HTML for a form step, and reading the posted HTML form back.

Names in the HTML form are paths: ``claimant_phone``, ``claimant_name.family``,
``children.0.birth_date``. :func:`answers_from_post` turns them back into the JSON-like
answers the engine validates, so the browser and the API go through the same validation.

A live form (:class:`Live`, htmx) is the same HTML with a few attributes more; the server stays
the authority. As answers change the browser posts the step to the live URL, and
:func:`render_live` answers with out-of-band fragments re-rendered by the same rules:

- a question whose ``visible_if`` flipped (its wrapper ``…-cond``; the wrapper of a hidden one
  carries ``_live_hidden`` with its path, which is how the server knows what the page shows);
- every computed value of the step (``…-value``);
- the parts of an address its postal code fills, only those left empty (``address_fill``);
- the message of the one field the resident just left (``_live_touched``), never of fields not
  touched yet, and none while typing (``_live_event=input``).

Without JavaScript nothing of this runs: every question is shown with the words of its
condition, and the step is checked when it is sent, as before.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from madoguchi.core.text import parse_int
from madoguchi.forms.banks import bank_get, banks_search, branch_get, branches_search
from madoguchi.forms.base import FieldSpec, FormSpec, StepSpec, field_types
from madoguchi.forms.engine import ValidationResult
from madoguchi.forms.field_types import ACCOUNT_TYPES, PREFECTURES, address_fill_for

COMPOSITE_PARTS: dict[str, tuple[tuple[str, str], ...]] = {
    "person_name": (
        ("family", "姓"),
        ("given", "名"),
        ("family_kana", "セイ（フリガナ）"),
        ("given_kana", "メイ（フリガナ）"),
    ),
    "address": (
        ("postal_code", "郵便番号"),
        ("prefecture", "都道府県"),
        ("city", "市区町村"),
        ("town", "町域"),
        ("block", "番地"),
        ("building", "建物名・部屋番号"),
    ),
    "bank_account": (
        ("bank_code", "金融機関コード（4桁）"),
        ("branch_code", "支店コード（3桁）"),
        ("account_type", "預金の種別"),
        ("account_number", "口座番号（7桁まで）"),
        ("holder", "口座名義（カタカナ）"),
    ),
}
MAX_GROUP_INDEX = 49


@dataclass(frozen=True)
class BankLookup:
    """Finding a bank or branch by name in a bank account field (金融機関・支店を名前で探す).

    ``url`` answers the search-as-you-type fragment (htmx, GET); without JavaScript the
    search button posts the form and the page comes back with ``field``'s results for
    ``query`` (``kind`` "bank" or "branch"), each a button that fills in the code.
    """

    url: str
    field: str = ""
    kind: str = ""
    query: str = ""

    @classmethod
    def parse(cls, url: str, target: str, query: str) -> BankLookup:
        """From a posted or linked ``<field name>.<bank|branch>`` and the query typed."""
        name, _, kind = str(target)[:200].rpartition(".")
        if kind not in LOOKUP_KINDS or not _FIELD_NAME.fullmatch(name):
            return cls(url=url)
        return cls(url=url, field=name, kind=kind, query=str(query)[:40])


LOOKUP_KINDS = ("bank", "branch")
#: What an input name of a form field looks like (``account``, ``children.0.account``).
_FIELD_NAME = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+){0,2}")
#: The button that picks one result: ``<field name>.<bank_code|branch_code>.<code>``.
PICK_PARTS = {"bank_code": 4, "branch_code": 3}


def lookup_results(kind: str, query: str, bank_code: str = "") -> list[dict[str, str]]:
    """The rows a lookup shows: code, name, reading (empty for an empty query)."""
    if not query.strip():
        return []
    found = banks_search(query) if kind == "bank" else branches_search(bank_code, query)
    return [{"code": item.code, "name": item.name, "kana": item.kana} for item in found]


def lookup_context(*, kind: str, name: str, query: str, bank_code: str = "") -> dict[str, Any]:
    """What ``forms/_bank_results.html`` needs (the page and the htmx fragment alike)."""
    part = "bank_code" if kind == "bank" else "branch_code"
    bank = bank_get(bank_code) if kind == "branch" else None
    return {
        "kind": kind,
        "name": name,
        "part": part,
        "query": query,
        "searched": bool(query.strip()),
        "results": lookup_results(kind, query, bank_code),
        "bank": bank,
        "needs_bank": kind == "branch" and bank is None,
    }


def bank_pick(spec: FormSpec, answers: dict[str, Any], value: str) -> str | None:
    """Set one part of a bank account answer from a picked result; the field's input name,
    or None when ``value`` names no bank account field of ``spec`` (nothing changed).

    A different bank clears the branch code (a branch code belongs to one bank).
    """
    name, _, code = str(value)[:200].rpartition(".")
    name, _, part = name.rpartition(".")
    if part not in PICK_PARTS or len(code) != PICK_PARTS[part] or not code.isdigit():
        return None
    if not code.isascii():
        return None
    parts = name.split(".")
    fields = {f.key: f for f in spec.fields}
    target: Any = answers
    top = fields.get(parts[0])
    if top is None:
        return None
    if len(parts) == 1 and top.type == "bank_account":
        holder = answers
        key = parts[0]
    elif len(parts) == 3 and top.type == "group":
        child = next((c for c in top.fields if c.key == parts[2]), None)
        index = parse_int(parts[1], maximum=MAX_GROUP_INDEX)
        items = answers.get(parts[0])
        if child is None or child.type != "bank_account" or index is None:
            return None
        if not isinstance(items, list) or index >= len(items) or not isinstance(items[index], dict):
            return None
        holder = items[index]
        key = parts[2]
    else:
        return None
    target = holder.get(key)
    if not isinstance(target, dict):
        target = holder[key] = {}
    if part == "bank_code" and target.get("bank_code") != code:
        target.pop("branch_code", None)
    target[part] = code
    return name


@dataclass(frozen=True)
class Live:
    """What makes a rendered step live: where to ask (``url``), where the step is sent
    (``form_url``, for 「追加」 swapped in place), and the paths hidden by their rules now."""

    url: str
    form_url: str
    hidden: frozenset[str] = frozenset()
    #: The validated answers, where computed values are read (the rules compute them).
    checked: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, result: ValidationResult, *, url: str, form_url: str) -> Live:
        return cls(
            url=url, form_url=form_url, hidden=frozenset(result.hidden), checked=result.answers
        )


@dataclass(frozen=True)
class ErrorLink:
    anchor: str
    message: str


def html_id(path: str) -> str:
    """A DOM id for a field path: children[1].birth_date → f-children-1-birth_date."""
    return "f-" + path.replace("[", "-").replace("]", "").replace(".", "-")


def input_name(path: str) -> str:
    """The HTML name for a field path: children[1].birth_date → children.1.birth_date."""
    return path.replace("[", ".").replace("]", "")


def _set(target: dict[str, Any], parts: list[str], value: Any) -> None:
    key = parts[0]
    if len(parts) == 1:
        target[key] = value
        return
    child = target.setdefault(key, {})
    if isinstance(child, dict):
        _set(child, parts[1:], value)


def answers_from_post(spec: FormSpec, data: QueryDict | Mapping[str, Any]) -> dict[str, Any]:
    """Rebuild nested answers from posted names; unknown names are ignored (CSRF token etc.).

    Group items come back as a list ordered by index; a gap (removed item) is closed, and a
    name whose index is not ASCII digits (``members.①.name``) is ignored. NUL characters are
    removed from every posted value: they carry nothing, and PostgreSQL cannot store them
    (a draft keeps what was typed before it is checked).
    """
    fields = {f.key: f for f in spec.fields}
    answers: dict[str, Any] = {}
    raw_getlist = data.getlist if isinstance(data, QueryDict) else (lambda k: [data[k]])

    def getlist(name: str) -> list[Any]:
        return [_without_nul(v) for v in raw_getlist(name)]

    def get(name: str) -> Any:
        return _without_nul(data.get(name) if isinstance(data, QueryDict) else data[name])

    for name in list(data.keys())[:2000]:
        parts = str(name).split(".")
        top = fields.get(parts[0])
        if top is None:
            continue
        if top.type == "multichoice" and len(parts) == 1:
            answers[top.key] = [v for v in getlist(name) if v][:500]
            continue
        if top.type == "group":
            index = parse_int(parts[1], maximum=MAX_GROUP_INDEX) if len(parts) >= 3 else None
            if index is None:
                continue
            items = answers.setdefault(top.key, {})
            item = items.setdefault(index, {})
            child = next((c for c in top.fields if c.key == parts[2]), None)
            if child is None:
                continue
            if child.type == "multichoice" and len(parts) == 3:
                item[child.key] = [v for v in getlist(name) if v][:500]
            else:
                _set(item, parts[2:], get(name))
            continue
        _set(answers, parts, get(name))
    for key, value in list(answers.items()):
        if isinstance(value, dict) and fields[key].type == "group":
            answers[key] = [value[i] for i in sorted(value)]
    return answers


def _without_nul(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value


def _part_values(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def describe_condition(condition: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """A condition in words, so that a form without JavaScript says when a field applies."""
    if "all" in condition:
        return "、かつ".join(describe_condition(c, labels) for c in condition["all"])
    if "any" in condition:
        return "、または".join(describe_condition(c, labels) for c in condition["any"])
    if "not" in condition:
        return f"「{describe_condition(condition['not'], labels)}」ではない場合"
    label = labels.get(condition["field"], condition["field"])
    if "equals" in condition:
        value = condition["equals"]
        text = {True: "はい", False: "いいえ"}.get(
            value, labels.get(f"{condition['field']}={value}", str(value))
        )
        return f"「{label}」が「{text}」の場合"
    if "in" in condition:
        texts = "・".join(labels.get(f"{condition['field']}={v}", str(v)) for v in condition["in"])
        return f"「{label}」が「{texts}」の場合"
    if "filled" in condition:
        return f"「{label}」を入力した場合"
    return f"「{label}」の回答によって必要な場合"


def _labels(spec: FormSpec) -> dict[str, str]:
    labels: dict[str, str] = {}
    for f in spec.fields:
        for item in (f, *f.fields):
            labels[item.key] = item.label
            for choice in item.option("choices", []) or []:
                labels[f"{item.key}={choice['value']}"] = choice["label"]
    return labels


def _field_context(
    spec: FieldSpec,
    path: str,
    value: Any,
    errors: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
    lookup: BankLookup | None = None,
    live: Live | None = None,
    focus: str = "",
) -> dict[str, Any]:
    labels = labels or {}
    own = errors.get(path)
    sub_errors = {k[len(path) + 1 :]: v for k, v in errors.items() if k.startswith(path + ".")}
    if spec.type == "computed" and live is not None:
        value = _value_at(live.checked, path)
    context: dict[str, Any] = {
        "f": spec,
        "ftype": field_types[spec.type],
        "id": html_id(path),
        "name": input_name(path),
        "value": value,
        "path": path,
        "live": live,
        "live_off": live is not None and spec.visible_if is not None and path in live.hidden,
        "error": own,
        "sub_errors": sub_errors,
        "condition": describe_condition(spec.visible_if.raw, labels) if spec.visible_if else "",
        "required_when": describe_condition(spec.required_if.raw, labels)
        if spec.required_if
        else "",
        "describedby": " ".join(
            x
            for x in (
                f"{html_id(path)}-help" if spec.help else "",
                f"{html_id(path)}-format" if spec.type in ("date", "birth_date") else "",
                f"{html_id(path)}-error" if own else "",
            )
            if x
        ),
    }
    if spec.type in COMPOSITE_PARTS:
        values = _part_values(value)
        context["parts"] = [
            {
                "key": key,
                "label": label,
                "id": f"{html_id(path)}-{key}",
                "name": f"{input_name(path)}.{key}",
                "value": values.get(key, ""),
                "error": sub_errors.get(key),
                "first": i == 0,
            }
            for i, (key, label) in enumerate(COMPOSITE_PARTS[spec.type])
        ]
    if spec.type in ("choice", "multichoice"):
        chosen = value if isinstance(value, list) else [value]
        context["choices"] = [
            {
                "value": c["value"],
                "label": c["label"],
                "id": f"{html_id(path)}-{i}",
                "checked": c["value"] in chosen,
            }
            for i, c in enumerate(spec.option("choices", []))
        ]
    if spec.type == "group":
        items = value if isinstance(value, list) else []
        minimum = int(spec.option("min_items", 0))
        count = max(len(items), minimum, 1)
        context["items"] = [
            {
                "index": i,
                "id": html_id(f"{path}[{i}]"),
                "label": f"{spec.option('item_label', spec.label)}{i + 1}",
                "fields": _focus_first(
                    [
                        _field_context(
                            child,
                            f"{path}[{i}].{child.key}",
                            _part_values(items[i] if i < len(items) else {}).get(child.key),
                            errors,
                            labels,
                            lookup,
                            live,
                        )
                        for child in spec.fields
                    ],
                    focus == input_name(f"{path}[{i}]"),
                ),
            }
            for i in range(count)
        ]
        context["can_add"] = count < int(spec.option("max_items", 10))
        context["can_remove"] = count > max(minimum, 1)
    context["prefectures"] = PREFECTURES if spec.type == "address" else ()
    context["account_types"] = ACCOUNT_TYPES.items() if spec.type == "bank_account" else ()
    if spec.type == "bank_account":
        context.update(_bank_context(context, lookup))
    return context


def _bank_context(context: Mapping[str, Any], lookup: BankLookup | None) -> dict[str, Any]:
    """Names beside the typed codes, and the lookups where the page offers them."""
    values = _part_values(context["value"])
    bank_code = str(values.get("bank_code") or "")
    bank = bank_get(bank_code)
    branch = branch_get(bank_code, str(values.get("branch_code") or ""))
    names = {"bank_code": bank.name if bank else "", "branch_code": branch.name if branch else ""}
    for part in context["parts"]:
        part["found"] = names.get(part["key"], "")
    if lookup is None:
        return {}
    name = context["name"]
    searches = {}
    for kind in LOOKUP_KINDS:
        query = lookup.query if (lookup.field, lookup.kind) == (name, kind) else ""
        searches[kind] = {
            **lookup_context(kind=kind, name=name, query=query, bank_code=bank_code),
            "id": f"{context['id']}-{kind}-lookup",
        }
    return {"lookup": {"url": lookup.url, **searches}}


def _focus_first(fields: list[dict[str, Any]], wanted: bool) -> list[dict[str, Any]]:
    """Mark the first field that takes input to get ``autofocus`` (a group item just added)."""
    if wanted:
        for context in fields:
            if context["f"].type not in ("notice", "computed") and not context["live_off"]:
                context["autofocus"] = True
                break
    return fields


def error_summary(spec: FormSpec, errors: Mapping[str, str]) -> list[ErrorLink]:
    """Links for the summary at the top of the page, in the order fields appear."""
    order = {}
    for i, f in enumerate(spec.fields):
        order[f.key] = i

    def rank(path: str) -> tuple[int, str]:
        return (order.get(path.split(".")[0].split("[")[0], 10_000), path)

    links = []
    for path in sorted(errors, key=rank):
        anchor = html_id(path) if path else "form-top"
        links.append(ErrorLink(anchor, errors[path]))
    return links


def render_step(
    spec: FormSpec,
    step: StepSpec,
    answers: Mapping[str, Any],
    errors: Mapping[str, str],
    *,
    bank_lookup: BankLookup | None = None,
    live: Live | None = None,
    focus: str = "",
) -> SafeString:
    """The fieldsets of one step, with values and errors in place.

    With ``bank_lookup`` (a page that handles the ``_bank_search`` and ``_bank_pick``
    buttons), bank account fields offer finding the bank and branch by name.
    ``live`` adds the attributes of a live form; ``focus`` (``children.1``, as posted) gives
    the first field of that group item ``autofocus`` (its fieldset has the id
    ``f-children-1``): where 「追加」 lands, with or without JavaScript.
    """
    labels = _labels(spec)
    sections = [
        {
            "section": section,
            "fields": [
                _field_context(
                    f, f.key, answers.get(f.key), errors, labels, bank_lookup, live, focus
                )
                for f in section.fields
            ],
        }
        for section in step.sections
    ]
    return render_to_string("forms/step.html", {"spec": spec, "step": step, "sections": sections})


def _fields_in(step: StepSpec, answers: Mapping[str, Any]) -> list[tuple[str, FieldSpec, Any]]:
    """(path, spec, value) of every field the step shows: its own, and each group item's
    (as many items as :func:`_field_context` renders)."""
    out: list[tuple[str, FieldSpec, Any]] = []
    for spec in step.fields:
        value = answers.get(spec.key)
        out.append((spec.key, spec, value))
        if spec.type == "group":
            items = value if isinstance(value, list) else []
            count = max(len(items), int(spec.option("min_items", 0)), 1)
            for i in range(min(count, MAX_GROUP_INDEX + 1)):
                item = _part_values(items[i] if i < len(items) else {})
                for child in spec.fields:
                    out.append((f"{spec.key}[{i}].{child.key}", child, item.get(child.key)))
    return out


def _value_at(answers: Mapping[str, Any], path: str) -> Any:
    """The value at an engine path (``children[1].name``) of validated answers, or None."""
    scope: Any = answers
    for part in path.replace("]", "").replace("[", ".").split("."):
        if isinstance(scope, list):
            index = parse_int(part)
            scope = scope[index] if index is not None and index < len(scope) else None
        elif isinstance(scope, Mapping):
            scope = scope.get(part)
        else:
            return None
    return scope


#: Field types whose message is shown in a fieldset of their own, without a live slot.
_NO_SLOT = frozenset({"notice", "computed", "group", "yesno", "multichoice", "consent"})


def _has_slot(question: FieldSpec, field_id: str, touched_id: str) -> bool:
    """Whether the page has a live message slot ``{touched_id}-live`` for this question."""
    if question.type in COMPOSITE_PARTS:
        return any(touched_id == f"{field_id}-{key}" for key, _ in COMPOSITE_PARTS[question.type])
    if question.type in _NO_SLOT or (
        question.type == "choice" and question.option("widget") != "select"
    ):
        return False
    return touched_id == field_id


def render_live(
    spec: FormSpec,
    step: StepSpec,
    answers: Mapping[str, Any],
    result: ValidationResult,
    *,
    live: Live,
    shown_hidden: Collection[str],
    touched: str = "",
    typing: bool = False,
) -> SafeString:
    """Out-of-band fragments that bring a live step up to date with ``answers`` (as posted)
    and ``result`` (their validation, whose ``hidden`` is the truth): see the module text.

    ``shown_hidden`` is what the page hides now (its ``_live_hidden``); values that are not
    paths of this step are ignored. ``touched`` is the posted name of the question just changed.
    """
    labels = _labels(spec)
    now_hidden = set(result.hidden)
    page_hidden = set(shown_hidden)
    flips: list[dict[str, Any]] = []
    computed: list[dict[str, Any]] = []
    fills: list[dict[str, Any]] = []
    fill: dict[str, Any] | None = None
    touched_id = html_id(touched) if touched else ""
    slot = ""
    for path, question, value in _fields_in(step, answers):
        if question.visible_if is not None and (path in now_hidden) != (path in page_hidden):
            flips.append(_field_context(question, path, value, {}, labels, live=live))
        if question.type == "computed" and path not in now_hidden:
            computed.append(
                {"id": html_id(path), "value": _value_at(result.answers, path), "f": question}
            )
        if (
            question.type == "address"
            and touched_id == f"{html_id(path)}-postal_code"
            and path not in now_hidden
        ):
            filled = address_fill_for(value)
            if filled:
                fill = _field_context(
                    question, path, {**_part_values(value), **filled}, {}, live=live
                )
                fills = [p for p in fill["parts"] if p["key"] in filled]
        if touched_id and _has_slot(question, html_id(path), touched_id):
            slot = touched_id
    message = ""
    if slot and not typing:
        message = next(
            (text for error, text in result.errors.items() if html_id(error) == slot), ""
        )
    return render_to_string(
        "forms/live.html",
        {
            "flips": flips,
            "computed": computed,
            "fill": fill,
            "fills": fills,
            "slot": "" if typing else slot,
            "message": message,
        },
    )
