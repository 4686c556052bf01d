"""The one walk over a form's answers: steps, groups, repeated items, sealed values.

Every reader of answers (submission, workflow, review, inbox, the staff API, my page,
receipts) goes through :func:`walk` instead of looping over the spec itself, so that the
rules below are written once. (Exports keep their fixed-width column plan, which reads each
answer by its key, as that is four times cheaper per row on 100,000 rows; they read sealed
values through :class:`Sealed` like everyone else.)

- Order is the form's: step by step, field by field; a group is given first, then each of its
  items (in order), field by field, before the next field of the form.
- Only answered fields are given: a field whose key is absent (not asked, hidden by a rule, or
  left empty) is skipped; a present ``None`` or ``""`` is given as it is.
- Paths are dotted and stable: ``applicant_name``, ``members`` (the group),
  ``members.0.name`` (0-based item index). ``label`` is what a person reads:
  ``世帯員1 氏名`` (the group's ``item_label``, 1-based).
- A group whose answer is not a list, and an item that is not an object, hold no answers to
  walk (they are given / kept as they are, never a crash).
- A sealed value (:mod:`madoguchi.forms.sealed`) is given as a :class:`Sealed`, never as its
  stored JSON.
- Keys the form does not know are never given (and :func:`answers_map` keeps them as they are).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, NamedTuple

from madoguchi.forms.base import FieldSpec, FormSpec, StepSpec
from madoguchi.forms.constants import Privacy
from madoguchi.forms.sealed import Sealed


class Answer(NamedTuple):
    """One answered field: where it stands and its value as stored (sealed → :class:`Sealed`).

    A named tuple rather than a dataclass: one is made for every answer walked, so it is cheap.
    """

    path: str
    field: FieldSpec
    value: Any
    step: StepSpec
    label: str
    #: 0 for a field of the form itself, 1 inside a group's item, and so on.
    depth: int

    @property
    def is_group(self) -> bool:
        return self.field.type == "group"


class _Drop:
    pass


#: Returned by the ``change`` of :func:`answers_map`: the answer is left out of the result.
DROP: Final = _Drop()


def _collect(
    out: list[Answer],
    step: StepSpec,
    fields: tuple[FieldSpec, ...],
    scope: Mapping[str, Any],
    prefix: str,
    label_prefix: str,
    depth: int,
    into_groups: bool,
) -> None:
    """Append the answered fields of one scope (the form's answers, or one item), in order.

    A list rather than a chain of generators: about three times cheaper, and the answers
    walked may then be changed (:func:`answers_map`).
    """
    for spec in fields:
        if spec.key not in scope:
            continue
        raw = scope[spec.key]
        path = prefix + spec.key
        value = (Sealed.from_stored(raw) or raw) if isinstance(raw, dict) else raw
        out.append(Answer(path, spec, value, step, label_prefix + spec.label, depth))
        if into_groups and spec.type == "group" and isinstance(raw, list):
            item_label = spec.option("item_label", spec.label)
            for index, item in enumerate(raw):
                if isinstance(item, dict):
                    _collect(
                        out,
                        step,
                        spec.fields,
                        item,
                        f"{path}.{index}.",
                        f"{label_prefix}{item_label}{index + 1} ",
                        depth + 1,
                        into_groups,
                    )


def walk(spec: FormSpec, answers: Any, *, into_groups: bool = True) -> Iterator[Answer]:
    """Every answered field of ``answers`` (a form's answers, stored or not), in form order.

    With ``into_groups=False`` only the fields of the form itself are given (a group as one
    answer, its list of items as the value).
    """
    out: list[Answer] = []
    if isinstance(answers, Mapping):
        for step in spec.steps:
            _collect(out, step, step.fields, answers, "", "", 0, into_groups)
    return iter(out)


def leaves(spec: FormSpec, answers: Any) -> Iterator[Answer]:
    """The answers that hold a value of their own: every answer but the groups."""
    return (answer for answer in walk(spec, answers) if not answer.is_group)


def _copy(fields: tuple[FieldSpec, ...], scope: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``scope`` whose groups and items are new containers (values are shared)."""
    result = dict(scope)
    for spec in fields:
        raw = result.get(spec.key)
        if spec.type == "group" and isinstance(raw, list):
            result[spec.key] = [
                _copy(spec.fields, item) if isinstance(item, dict) else item for item in raw
            ]
    return result


def answers_map(
    spec: FormSpec, answers: Mapping[str, Any], change: Callable[[Answer], Any]
) -> dict[str, Any]:
    """A copy of ``answers`` with each value (groups are walked into) replaced by
    ``change(answer)``, or left out where it returns :data:`DROP`; a :class:`Sealed` is kept in
    its stored form, so the result is JSON as ``answers`` was. ``answers`` is unchanged."""
    result = _copy(spec.fields, answers)
    for answer in leaves(spec, result):  # walked before anything changes
        new = change(answer)
        scope = _holder(result, answer.path)
        if new is DROP:
            del scope[answer.field.key]
        else:
            scope[answer.field.key] = new.to_stored() if isinstance(new, Sealed) else new
    return result


def _holder(answers: dict[str, Any], path: str) -> dict[str, Any]:
    """The mapping that holds the answer at ``path`` (``members.0.name`` → item 0)."""
    parts = path.split(".")  # keys never hold a dot (KEY_PATTERN)
    scope = answers
    for index in range(0, len(parts) - 1, 2):
        scope = scope[parts[index]][int(parts[index + 1])]
    return scope


def holds_specific(spec: FieldSpec) -> bool:
    """Whether answering ``spec`` can give 特定個人情報 (itself, or a field of its items)."""
    return spec.privacy == Privacy.SPECIFIC or any(holds_specific(c) for c in spec.fields)


def masked_answers(spec: FormSpec, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Stored answers as they may be shown without a recorded reveal: sealed values masked."""
    return answers_map(
        spec, answers, lambda a: a.value.masked if isinstance(a.value, Sealed) else a.value
    )
