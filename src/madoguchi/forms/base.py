"""Field types: the plugin interface and the parsed schema they work on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from madoguchi.core.registry import Registry
from madoguchi.forms.constants import Privacy


class FieldError(ValueError):
    """A value is not acceptable. ``errors`` maps a sub-path ("" = the field) to a message."""

    def __init__(self, message: str | None = None, errors: Mapping[str, str] | None = None) -> None:
        self.errors: dict[str, str] = dict(errors or {})
        if message is not None:
            self.errors[""] = message
        super().__init__("; ".join(self.errors.values()))


@dataclass(frozen=True)
class Condition:
    """A rule on other answers: ``{"field": k, "equals": v}``, ``all``/``any``/``not``."""

    raw: Mapping[str, Any]


@dataclass(frozen=True)
class FieldSpec:
    key: str
    type: str
    label: str
    help: str = ""
    required: bool = False
    required_if: Condition | None = None
    visible_if: Condition | None = None
    privacy: Privacy = Privacy.ORDINARY
    options: Mapping[str, Any] = field(default_factory=dict)
    fields: tuple[FieldSpec, ...] = ()  # for groups
    path: str = ""  # where it stands in the definition, e.g. steps[0].sections[1].fields[2]

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


@dataclass(frozen=True)
class SectionSpec:
    key: str
    title: str
    description: str
    fields: tuple[FieldSpec, ...]
    local: bool = False  # 団体独自の質問 (an extension point of an adopted template)


@dataclass(frozen=True)
class StepSpec:
    key: str
    title: str
    sections: tuple[SectionSpec, ...]

    @property
    def fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for section in self.sections for f in section.fields)


@dataclass(frozen=True)
class FormSpec:
    key: str
    title: str
    description: str
    steps: tuple[StepSpec, ...]

    @property
    def fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for step in self.steps for f in step.fields)

    def field_map(self) -> dict[str, FieldSpec]:
        """Every field by its path: top-level keys, and ``group.child`` inside groups."""
        result: dict[str, FieldSpec] = {}
        for spec in self.fields:
            result[spec.key] = spec
            for child in spec.fields:
                result[f"{spec.key}.{child.key}"] = child
        return result

    def step(self, key: str) -> StepSpec:
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)


@dataclass(frozen=True)
class Area:
    """The area of the organisation that receives the answers (団体の区域).

    ``municipality`` is empty for a prefecture. A designated city covers its wards
    (横浜市 → 横浜市中区) and a town or village is matched with or without its 郡
    (葉山町 → 三浦郡葉山町).
    """

    name: str
    prefecture: str
    municipality: str = ""

    def contains(self, *, prefecture: str, city: str) -> bool:
        if prefecture != self.prefecture:
            return False
        if not self.municipality:
            return True
        return (
            city == self.municipality
            or city.startswith(self.municipality)
            or (city.endswith(self.municipality) and city[: -len(self.municipality)].endswith("郡"))
        )


@dataclass(frozen=True)
class Context:
    """What validation may look at besides the value: the day, for rules like 'not in future',
    and the receiving organisation's area, for ``within_organisation`` (None where no
    organisation is known, such as the preview of a national template: the rule is then not
    checked; every path that stores answers passes it)."""

    today: date
    area: Area | None = None


class FieldType:
    """One kind of field. Subclasses normalise and validate a raw value on the server.

    ``normalise`` receives what the client sent (str, list, dict, bool, number — anything
    JSON can carry) and returns the canonical value to store, or raises :class:`FieldError`
    with a Japanese message. It is never called with an empty value: emptiness and
    required-ness are decided by the engine.
    """

    key: ClassVar[str]
    label: ClassVar[str]
    has_value: ClassVar[bool] = True
    default_privacy: ClassVar[Privacy] = Privacy.ORDINARY
    forced_privacy: ClassVar[Privacy | None] = None
    #: JSON Schema of the type's ``options`` in a form definition.
    options_schema: ClassVar[dict[str, Any]] = {"type": "object", "additionalProperties": False}

    def normalise(self, raw: Any, spec: FieldSpec, ctx: Context) -> Any:
        raise NotImplementedError

    def is_empty(self, raw: Any) -> bool:
        return _blank(raw, 0)

    def display(self, value: Any, spec: FieldSpec, *, reveal: bool = False) -> str:
        """The value as a person reads it on a confirmation page, receipt or export."""
        if value is None or value == "":
            return ""
        return str(value)

    def check_definition(self, spec: FieldSpec) -> list[str]:
        """Problems with the options of a field definition beyond the options schema."""
        return []

    def example(self, spec: FieldSpec, ctx: Context) -> Any:
        """A valid raw value, for previews, property tests and benchmarks."""
        raise NotImplementedError


#: Composite answers (住所, 氏名, 口座) are one level deep; below this depth a dict counts as
#: filled, so that a hostile, deeply nested answer is refused by ``normalise`` instead of
#: exhausting the stack here.
_MAX_EMPTY_DEPTH = 4


def _blank(raw: Any, depth: int) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return raw.strip() == ""
    if isinstance(raw, list | tuple):
        return len(raw) == 0
    if isinstance(raw, dict):
        return depth < _MAX_EMPTY_DEPTH and all(_blank(v, depth + 1) for v in raw.values())
    return False


field_types: Registry[FieldType] = Registry("field type")


def register_field_type[C: type[FieldType]](cls: C) -> C:
    """Class decorator: register one instance of a field type under its ``key``."""
    field_types.add(cls.key, cls())
    return cls
