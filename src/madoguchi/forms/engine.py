"""Validation and normalisation of answers against a form spec. The server is the authority.

``validate`` takes what a client sent (JSON-like data: the API body, or the parsed HTML
form) and returns the normalised answers or the errors keyed by field path
(``children[1].birth_date``, ``applicant.family_kana``). It never raises for bad answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from madoguchi.forms.answers import leaves
from madoguchi.forms.base import Area, Context, FieldError, FieldSpec, FormSpec, field_types
from madoguchi.forms.field_types import resolve_date_bound
from madoguchi.forms.japanese import wareki
from madoguchi.forms.rules import compute, evaluate
from madoguchi.forms.sealed import Sealed

MAX_ANSWER_KEYS = 1000


@dataclass
class ValidationResult:
    answers: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    #: Paths of the questions hidden by their ``visible_if`` rule for these answers
    #: (``spouse_name``, ``children[0].separate_address``): what a live form hides.
    hidden: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.errors


def _join(prefix: str, key: str) -> str:
    if not key:
        return prefix
    return f"{prefix}.{key}" if prefix else key


def _visible(spec: FieldSpec, lookup: Mapping[str, Any]) -> bool:
    return spec.visible_if is None or evaluate(spec.visible_if.raw, lookup)


def _required(spec: FieldSpec, lookup: Mapping[str, Any]) -> bool:
    if spec.required_if is not None:
        return evaluate(spec.required_if.raw, lookup)
    return spec.required


def _required_message(spec: FieldSpec) -> str:
    if spec.type == "yesno":
        return f"「{spec.label}」に「はい」か「いいえ」で答えてください。"
    if spec.type in ("choice", "multichoice"):
        return f"{spec.label}を選んでください。"
    if spec.type == "attachment":
        return f"{spec.label}を添付してください。"
    if spec.type == "consent":
        return "内容を確認のうえ、同意する場合はチェックを入れてください。"
    return f"{spec.label}を入力してください。"


class _Pass:
    """One validation over a list of fields sharing a scope (the form, or one group item)."""

    def __init__(self, ctx: Context, result: ValidationResult, form: FormSpec) -> None:
        self.ctx = ctx
        self.result = result
        self.form = form
        self._labels: dict[str, str] | None = None

    @property
    def labels(self) -> Mapping[str, str]:
        """Labels by key (and by child key), for messages that name another field.

        Built on first use: only a failed date bound needs them, so valid answers never pay.
        """
        if self._labels is None:
            labels = {key: f.label for key, f in self.form.field_map().items()}
            for key, label in list(labels.items()):
                if "." in key:  # a child key names the child only where no top field has it
                    labels.setdefault(key.rsplit(".", 1)[-1], label)
            self._labels = labels
        return self._labels

    def run(
        self,
        specs: tuple[FieldSpec, ...],
        raw: Mapping[str, Any],
        prefix: str,
        outer: Mapping[str, Any],
        only: set[str] | None,
    ) -> dict[str, Any]:
        errors = self.result.errors
        values: dict[str, Any] = {}
        # 1. Normalise every answer that was sent, independently of rules.
        for spec in specs:
            ftype = field_types[spec.type]
            if not ftype.has_value or spec.type in ("computed", "group"):
                continue
            value = raw.get(spec.key)
            if ftype.is_empty(value):
                continue
            try:
                normalised = ftype.normalise(value, spec, self.ctx)
            except FieldError as error:
                for sub, message in error.errors.items():
                    errors[_join(_join(prefix, spec.key), sub)] = message
            except (TypeError, ValueError, AttributeError, KeyError):
                errors[_join(prefix, spec.key)] = f"{spec.label}の値を読み取れません。"
            else:
                # Text with nothing visible in it ("　", U+200B) normalises to "": unanswered.
                if normalised != "":
                    values[spec.key] = normalised
        # 2. Rules see the normalised answers of this scope first, then the outer scope. The
        # answer to a hidden question is not seen either, so a question that depends on it
        # is hidden too (and validating the stored answers again gives the same answers).
        # Each round settles one more level of "shown if ... is shown"; usually one round.
        lookup: dict[str, Any] = {**outer, **values}
        hidden: set[str] = set()
        for _ in range(len(specs) + 1):
            now_hidden = {s.key for s in specs if not _visible(s, lookup)}
            if now_hidden == hidden:
                break
            hidden = now_hidden
            lookup = {**outer, **{k: v for k, v in values.items() if k not in hidden}}
        self.result.hidden.update(_join(prefix, key) for key in hidden)
        out: dict[str, Any] = {}
        for spec in specs:
            path = _join(prefix, spec.key)
            if only is not None and spec.key not in only:
                if spec.key in values:
                    out[spec.key] = values[spec.key]
                elif spec.type == "group" and spec.key in raw and spec.key not in hidden:
                    # Kept like every answer of another step; its errors are not this step's.
                    out[spec.key] = self.group(spec, raw[spec.key], path, lookup)
                continue
            if spec.key in hidden:
                # Hidden answers are dropped: what is not asked is not stored.
                for key in [
                    k
                    for k in errors
                    if k == path or k.startswith(path + ".") or k.startswith(path + "[")
                ]:
                    del errors[key]
                continue
            if spec.type == "group":
                out[spec.key] = self.group(spec, raw.get(spec.key), path, lookup)
                continue
            if spec.key in values:
                out[spec.key] = values[spec.key]
                self.date_bounds(spec, values[spec.key], lookup, path, specs)
            elif path not in errors and not any(k.startswith(path + ".") for k in errors):
                if _required(spec, lookup) and field_types[spec.type].has_value:
                    errors[path] = _required_message(spec)
        # 3. Computed values, from the normalised (visible) answers.
        groups: dict[str, Any] | None = None  # gathered once, and only when a scope computes
        for spec in specs:
            if (
                spec.type == "computed"
                and (only is None or spec.key in only)
                and spec.key not in hidden
            ):
                if groups is None:
                    groups = {
                        k: v
                        for k, v in out.items()
                        if isinstance(v, list) and any(isinstance(i, dict) for i in v)
                    }
                try:
                    amount = compute(spec.option("expression"), {**outer, **out}, groups)
                    out[spec.key] = int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))
                except (ArithmeticError, ValueError):  # beyond 28 digits, or an overflow
                    errors[_join(prefix, spec.key)] = (
                        f"{spec.label}を計算できません。入力した数値が大きすぎないか確かめてください。"
                    )
        return out

    def group(
        self, spec: FieldSpec, raw: Any, path: str, outer: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        errors = self.result.errors
        low, high = int(spec.option("min_items", 0)), int(spec.option("max_items", 10))
        if raw is None or raw == "":
            items: list[Any] = []
        elif isinstance(raw, list):
            items = raw
        else:
            errors[path] = f"{spec.label}の形式が正しくありません。"
            return []
        if len(items) > high:
            errors[path] = f"{spec.label}は{high}件までです。"
            return []
        result = []
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                errors[f"{path}[{index}]"] = f"{spec.label}の形式が正しくありません。"
                continue
            unknown = set(item) - {child.key for child in spec.fields}
            for key in sorted(unknown)[:20]:
                errors[f"{path}[{index}].{key}"] = "この様式にない項目です。"
            result.append(self.run(spec.fields, item, f"{path}[{index}]", outer, None))
        if len(items) < low:
            errors[path] = f"{spec.label}を{low}件以上入力してください。"
        return result

    def date_bounds(
        self,
        spec: FieldSpec,
        value: Any,
        lookup: Mapping[str, Any],
        path: str,
        siblings: tuple[FieldSpec, ...],
    ) -> None:
        if spec.type not in ("date", "birth_date"):
            return
        for bound in ("min", "max"):
            option = spec.option(bound)
            if not isinstance(option, dict):
                continue
            limit = resolve_date_bound(option, self.ctx, lookup)
            if limit is None:
                continue
            day = date.fromisoformat(value)
            field_label = next(
                (s.label for s in siblings if s.key == option["field"]), None
            ) or self.labels.get(option["field"], option["field"])
            if bound == "min" and day < limit:
                self.result.errors[path] = (
                    f"{wareki(limit)}以降の日付を入力してください（{field_label}との関係）。"
                )
            if bound == "max" and day > limit:
                self.result.errors[path] = (
                    f"{wareki(limit)}以前の日付を入力してください（{field_label}との関係）。"
                )


def validate(
    spec: FormSpec,
    raw: Any,
    *,
    today: date,
    step: str | None = None,
    extra_answers: Mapping[str, Any] | None = None,
    area: Area | None = None,
) -> ValidationResult:
    """Normalise and validate answers.

    ``area`` is the receiving organisation's (:func:`madoguchi.forms.area.organisation_area`):
    fields with ``within_organisation`` refuse an address outside it. Every caller that
    stores or accepts answers for an organisation passes it.

    With ``step``, only that step's fields are checked for errors (answers of other steps
    are still normalised so that rules referring to them work). Unknown keys are errors
    ("この様式にない項目です"): a client that sends them has the wrong form version.
    """
    result = ValidationResult()
    if not isinstance(raw, Mapping):
        result.errors[""] = "回答はオブジェクト（項目名: 値）の形で送ってください。"
        return result
    if len(raw) > MAX_ANSWER_KEYS:
        result.errors[""] = "項目が多すぎます。"
        return result
    specs = spec.fields
    known = {f.key for f in specs}
    for key in sorted(set(map(str, raw)) - known)[:50]:
        result.errors[key] = "この様式にない項目です。"
    only = {f.key for f in spec.step(step).fields} if step is not None else None
    answers = _Pass(Context(today=today, area=area), result, spec).run(
        specs, raw, "", dict(extra_answers or {}), only
    )
    if only is not None:
        result.errors = {
            k: v
            for k, v in result.errors.items()
            if k.split(".")[0].split("[")[0] in only or k == ""
        }
    result.answers = answers
    return result


def display_rows(
    spec: FormSpec,
    answers: Mapping[str, Any],
    *,
    reveal: bool = False,
) -> list[tuple[str, str, str]]:
    """(step title, label, text) for every answered field: confirmation pages and receipts.

    My Number and account numbers stay masked unless ``reveal`` (which callers audit); a sealed
    value of stored answers shows its masked form, without decrypting.
    """

    def show(field: FieldSpec, value: Any) -> str:
        if isinstance(value, Sealed):
            return value.masked
        return field_types[field.type].display(value, field, reveal=reveal)

    return [(a.step.title, a.label, show(a.field, a.value)) for a in leaves(spec, answers)]
