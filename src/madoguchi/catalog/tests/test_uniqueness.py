"""The duplicate rule (重複申請の扱い) in template metadata, adoption and upgrades."""

from __future__ import annotations

from typing import Any

import pytest

from madoguchi.catalog.constants import Uniqueness
from madoguchi.catalog.definitions import national_files, national_life_events, parse_template_text
from madoguchi.catalog.services import (
    procedure_adopt,
    procedure_set_uniqueness,
    procedure_upgrade,
    template_changes,
)
from madoguchi.core.time import now
from madoguchi.forms.schema import InvalidDefinition
from madoguchi.testing import publish_template_version, resident_create

EVENTS = {event["slug"] for event in national_life_events()}


def test_every_shipped_template_has_a_known_rule():
    rules = {}
    for name, data in national_files():
        meta = parse_template_text(data, name, EVENTS).metadata
        rules[meta["slug"]] = meta.get("uniqueness", "none")
    assert set(rules.values()) <= set(Uniqueness.values)
    assert rules["jidou-teate-nintei"] == "person"
    assert rules["jidou-teate-genkyo"] == "person_fiscal_year"
    assert rules["kaigo-nintei"] == "person"
    assert rules["hoiku-moushikomi"] == "none"
    assert rules["juminhyo"] == rules["event-moushikomi"] == rules["sodai-gomi"] == "none"


def test_an_unknown_rule_in_a_template_file_is_refused_with_its_line():
    name, data = next((n, d) for n, d in national_files() if n == "jidou-teate-nintei.yaml")
    broken = data.decode().replace("uniqueness: person", "uniqueness: twice").encode()

    with pytest.raises(InvalidDefinition) as error:
        parse_template_text(broken, name, EVENTS)

    [problem] = error.value.problems
    assert problem.path == "template.uniqueness"
    assert problem.line is not None


def _to_none(meta: dict[str, Any], form: dict[str, Any]) -> None:
    meta["uniqueness"] = "none"


def test_an_upgrade_takes_the_new_rule_unless_the_organisation_chose_its_own(
    organisation, other_organisation, nintei
):
    kept = procedure_adopt(organisation=organisation, template_version=nintei, now=now())
    chosen = procedure_adopt(organisation=other_organisation, template_version=nintei, now=now())
    procedure_set_uniqueness(
        organisation=other_organisation,
        procedure=chosen,
        uniqueness=Uniqueness.PERSON_FISCAL_YEAR,
        actor=resident_create("admin@kamakura.example.jp"),
        now=now(),
    )
    newer = publish_template_version(nintei, version=nintei.version + 1, edit=_to_none)

    assert kept.uniqueness == Uniqueness.PERSON
    assert "重複申請の扱い: 1人1件 → 制限しない（何件でも申請できる）" in template_changes(
        nintei.metadata, newer.metadata
    )
    upgraded = procedure_upgrade(organisation=organisation, procedure=kept, to=newer, now=now())
    customised = procedure_upgrade(
        organisation=other_organisation, procedure=chosen, to=newer, now=now()
    )

    assert upgraded.uniqueness == Uniqueness.NONE
    assert customised.uniqueness == Uniqueness.PERSON_FISCAL_YEAR
