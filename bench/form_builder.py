"""The form builder on a large form: checking and previewing a 300-field definition.

Figure 1: ``forms.builder.problems_by_element`` on a 300-field definition built with the
builder's own edits (what every edit in the console runs: the engine's full check, problems
attached to elements). Figure 2: the same check plus rendering every step with the resident's
renderer (``forms.rendering.render_step``), what the builder's preview does.

Baseline: ``forms.schema.check_definition`` on the largest national template (by fields), the
check a published form already goes through. The ratio says how much more a 300-field builder
draft costs per edit than checking the biggest form the platform ships.

The engine remembers its schema verdict on a definition by content (``forms.schema``), so every
measured call checks a changed definition (a new title, as an edit changes something), for the
figure and the baseline alike; figure 3 shows a definition checked again unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _harness import Result, Settings, compare
from madoguchi.forms.builder import (
    blank_definition,
    block_insert,
    computed_set,
    condition_set,
    element_add,
    field_update,
    iter_fields,
    problems_by_element,
)
from madoguchi.forms.rendering import render_step
from madoguchi.forms.schema import check_definition, load_definition_text

TITLE = "form builder: check and preview a 300-field definition"
NOTES = (
    "baseline: check_definition of the largest national template (the check a published form",
    "already goes through); figure 2 also renders every step as the builder's preview does.",
)

FIELD_COUNT = 300
TYPES = ("text", "number", "choice", "date", "yesno", "email", "textarea", "multichoice")
NATIONAL = Path(__file__).resolve().parent.parent / "src/madoguchi/catalog/national"


def definition() -> dict[str, Any]:
    """300 fields over three steps: blocks, a group with a sum, conditions, a fee."""
    form = blank_definition(title="大きな様式")
    for step in (1, 2):
        form, _ = element_add(form, parent="", position=step, kind="step", label=f"step {step}")
    form, _ = block_insert(form, parent="steps[0].sections[0]", position=0, block="applicant")
    form, group = element_add(
        form, parent="steps[0].sections[0]", position=5, kind="field", field_type="group"
    )
    form, _quantity = element_add(
        form, parent=group, position=1, kind="child", field_type="number", label="quantity"
    )
    form, fee = element_add(
        form, parent="steps[0].sections[0]", position=6, kind="field", field_type="computed"
    )
    form = computed_set(form, path=fee, kind="sum_times", ref="group.quantity", factor="300")
    count = sum(1 for _ in iter_fields(form))
    n = 0
    while count < FIELD_COUNT:
        step = n % 3
        section = f"steps[{step}].sections[0]"
        form, path = element_add(
            form, parent=section, position=200, kind="field", field_type=TYPES[n % len(TYPES)]
        )
        if n % 10 == 3:
            form = field_update(form, path=path, changes={"required": "on"})
        if n % 10 == 5:
            form = condition_set(form, path=path, which="visible_if", ref="name", operator="filled")
        n += 1
        count += 1
    assert sum(1 for _ in iter_fields(form)) == FIELD_COUNT
    return form


def largest_national() -> tuple[str, dict[str, Any]]:
    best: tuple[int, str, dict[str, Any]] = (0, "", {})
    for path in sorted(NATIONAL.glob("*.yaml")):
        data, _lines = load_definition_text(path.read_bytes())
        form = data.get("form") if isinstance(data, dict) else None
        if not isinstance(form, dict):
            continue
        fields = sum(1 for _ in iter_fields(form))
        if fields > best[0]:
            best = (fields, path.stem, form)
    return f"{best[1]} ({best[0]} fields)", best[2]


_EDITS = iter(range(10**9))


def edited(form: dict[str, Any]) -> dict[str, Any]:
    """``form`` with a new title: content the check has not seen (as after an edit)."""
    return {**form, "title": f"{form['title']} {next(_EDITS)}"}


def _preview(form: dict[str, Any]) -> int:
    problems = problems_by_element(form)
    assert problems == {}, problems
    spec = check_definition(form)
    return sum(len(render_step(spec, step, {}, {})) for step in spec.steps)


def run(settings: Settings) -> list[Result]:
    form = definition()
    assert problems_by_element(form) == {}
    name, national = largest_national()
    check_definition(national)
    assert _preview(form) > 0
    return [
        compare(
            "check 300 fields (per edit)",
            lambda: problems_by_element(edited(form)),
            lambda: check_definition(edited(national)),
            f"check {name}",
            settings,
        ),
        compare(
            "check + preview 300 fields",
            lambda: _preview(edited(form)),
            lambda: check_definition(edited(national)),
            f"check {name}",
            settings,
        ),
        compare(
            "check 300 fields again, unchanged (verdict remembered)",
            lambda: problems_by_element(form),
            lambda: check_definition(edited(national)),
            f"check {name}",
            settings,
        ),
    ]
