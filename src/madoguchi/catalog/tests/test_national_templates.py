"""The national templates (申請様式のひな形) shipped in ``catalog/national``.

Every file loads; the catalogue holds exactly the procedures the national plans list; each
template names its source and its life events; the fees of 住民票 and 粗大ごみ come out right
through the form engine; a second load changes nothing; and a published version cannot be
changed without raising its version number.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import date
from typing import Any

import pytest

from madoguchi.catalog.definitions import (
    national_files,
    national_life_events,
    parse_template_text,
    template_digest,
)
from madoguchi.catalog.models import Template, TemplateVersion
from madoguchi.catalog.services import (
    TemplateVersionConflict,
    check_settings,
    template_load_all,
    template_version_publish,
)
from madoguchi.core.time import now
from madoguchi.forms.engine import validate
from madoguchi.forms.schema import check_definition
from madoguchi.forms.selectors import form_spec

#: 子育て・介護ワンストップ, 被災者支援, and the procedures 総務省 asks every organisation to
#: put online first (自治体DX推進計画), each with the life events it must at least belong to.
EXPECTED: dict[str, set[str]] = {
    # 子育て
    "jidou-teate-nintei": {"birth"},
    "jidou-teate-genkyo": {"birth"},
    "jidou-teate-henko": {"birth", "moving"},
    "jidou-teate-shometsu": {"birth"},
    "hoiku-moushikomi": {"birth"},
    "ninshin-todoke": {"birth"},
    # 介護
    "kaigo-nintei": {"care"},
    "kaigo-koushin": {"care"},
    "kogaku-kaigo": {"care"},
    "kaigo-hihokensha-saikofu": {"care"},
    # 被災者支援
    "risai-shomei": {"disaster"},
    # よく使われる手続
    "event-moushikomi": set(),
    "sodai-gomi": set(),
    "inu-toroku": {"moving"},
    "suido-kaishi": {"moving"},
    "kobunsho-kaiji": set(),
    "juminhyo": {"moving"},
}

#: A Monday that is not a holiday: dates in the answers below are relative to it.
TODAY = date(2025, 6, 2)

NAME = {"family": "髙橋", "given": "𠮷子", "family_kana": "タカハシ", "given_kana": "ヨシコ"}
ADDRESS = {"postal_code": "231-0023", "block": "1-1", "building": ""}


def _events() -> set[str]:
    return {event["slug"] for event in national_life_events()}


def _shipped() -> dict[str, Any]:
    """Every shipped template file, parsed, by slug."""
    events = _events()
    parsed = [parse_template_text(data, name, events) for name, data in national_files()]
    return {item.metadata["slug"]: item for item in parsed}


def _version(slug: str) -> TemplateVersion:
    return (
        TemplateVersion.objects.select_related("template", "form_version")
        .filter(template__slug=slug)
        .latest("version")
    )


def _fields(form: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for step in form["steps"] for section in step["sections"] for f in section["fields"]]


@pytest.fixture
def loaded(templates_loaded: Any) -> Any:
    """What the session's load of every shipped template into the empty catalogue reported."""
    return templates_loaded


# --- Loading ---------------------------------------------------------------------------------


def test_every_file_is_named_after_its_slug():
    for name, data in national_files():
        parsed = parse_template_text(data, name, _events())
        assert name == f"{parsed.metadata['slug']}.yaml"


def test_all_templates_load_and_the_catalogue_is_exactly_the_planned_one(loaded):
    assert set(_shipped()) == set(EXPECTED)
    assert set(Template.objects.values_list("slug", flat=True)) == set(EXPECTED)
    assert len(loaded.created) == len(EXPECTED)
    assert loaded.new_versions == []
    assert loaded.life_events == len(national_life_events())


def test_a_second_load_changes_nothing(loaded):
    before = dict(TemplateVersion.objects.values_list("template__slug", "digest"))
    again = template_load_all(now=now())
    assert again.created == []
    assert again.new_versions == []
    assert again.unchanged == len(EXPECTED)
    assert dict(TemplateVersion.objects.values_list("template__slug", "digest")) == before
    assert TemplateVersion.objects.count() == len(EXPECTED)


def test_each_template_names_its_source_and_its_life_events(loaded):
    for slug, events in EXPECTED.items():
        version = _version(slug)
        meta = version.metadata
        assert meta["source"].strip(), slug
        assert meta["synonyms"], slug
        assert events <= {e.slug for e in version.template.life_events.all()}, slug


def test_each_form_ends_with_the_consent_step_and_stays_a_sensible_size():
    for slug, parsed in _shipped().items():
        steps = parsed.form["steps"]
        assert steps[-1]["key"] == "consent", slug
        final = [f for section in steps[-1]["sections"] for f in section["fields"]]
        assert final, slug
        assert all(f["type"] in ("consent", "notice") for f in final), slug
        assert any(f["type"] == "consent" and f.get("required") for f in final), slug
        count = sum(1 + len(f.get("fields", [])) for f in _fields(parsed.form))
        assert 10 <= count <= 45, (slug, count)


def test_assurance_levels_follow_the_national_services():
    shipped = _shipped()
    # My Number card signature where the national online service asks for one.
    for slug in (
        "jidou-teate-nintei",
        "jidou-teate-genkyo",
        "jidou-teate-henko",
        "jidou-teate-shometsu",
        "hoiku-moushikomi",
        "ninshin-todoke",
        "kaigo-nintei",
        "kaigo-koushin",
        "kogaku-kaigo",
        "kaigo-hihokensha-saikofu",
        "risai-shomei",
        "juminhyo",
    ):
        meta = shipped[slug].metadata
        assert (meta["ial"], meta.get("signature_required")) == (3, True), slug
    for slug in ("event-moushikomi", "sodai-gomi", "suido-kaishi", "kobunsho-kaiji"):
        meta = shipped[slug].metadata
        assert (meta["ial"], bool(meta.get("signature_required"))) == (1, False), slug


def test_fees_are_computed_fields_priced_by_parameters():
    shipped = _shipped()
    with_fee = {slug for slug, parsed in shipped.items() if parsed.metadata.get("fee")}
    assert with_fee == {"juminhyo", "sodai-gomi", "inu-toroku"}
    for slug in with_fee:
        meta = shipped[slug].metadata
        fee_field = next(f for f in _fields(shipped[slug].form) if f["key"] == meta["fee"]["field"])
        assert fee_field["type"] == "computed"
        assert fee_field["options"]["fee"] is True
        assert meta["parameters"], slug
    assert shipped["juminhyo"].metadata["parameters"]["unit_fee"]["default"] == 300


def test_every_optional_field_can_be_switched_off_alone_or_all_together():
    for slug, parsed in _shipped().items():
        meta = {**parsed.metadata, "form": parsed.form}
        optional = list(meta.get("optional_fields") or {})
        for key in optional:
            form = check_settings({"optional_fields": {key: False}}, meta)
            assert key not in [f["key"] for f in _fields(form)], (slug, key)
        if optional:
            check_settings({"optional_fields": dict.fromkeys(optional, False)}, meta)
            check_settings({"optional_fields": dict.fromkeys(optional, True)}, meta)


# --- Fees through the form engine ---------------------------------------------------------------


def _juminhyo_answers(**changes: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "requester_name": NAME,
        "requester_birth_date": "昭和60年4月1日",
        "requester_address": ADDRESS,
        "requester_phone": "045-671-2121",
        "certificate_type": "current",
        "persons": "household",
        "items": ["householder"],
        "copies": "２",
        "purpose": "pension",
        "delivery_to": "registered",
        "truth": True,
    }
    answers.update(changes)
    return answers


def test_juminhyo_fee_is_copies_times_the_unit_fee(loaded):
    spec = form_spec(_version("juminhyo").form_version)
    result = validate(spec, _juminhyo_answers(), today=TODAY)
    assert result.ok, result.errors
    assert result.answers["copies"] == 2
    assert result.answers["fee"] == 600


def test_juminhyo_fee_follows_the_organisations_own_unit_fee(loaded):
    meta = _version("juminhyo").metadata
    form = check_settings({"parameters": {"unit_fee": 350}}, meta)
    spec = check_definition(form)
    result = validate(spec, _juminhyo_answers(copies=3), today=TODAY)
    assert result.ok, result.errors
    assert result.answers["fee"] == 1050


def test_juminhyo_with_my_number_goes_only_to_the_registered_address(loaded):
    spec = form_spec(_version("juminhyo").form_version)
    elsewhere = _juminhyo_answers(delivery_to="other", items=["householder", "my_number"])
    result = validate(spec, elsewhere, today=TODAY)
    assert result.ok, result.errors
    assert "mail_address" not in result.answers

    without = validate(spec, _juminhyo_answers(delivery_to="other"), today=TODAY)
    assert {"mail_address", "mail_reason", "residence_document"} <= set(without.errors)


def test_sodai_gomi_fee_is_the_tickets_of_all_items_times_the_unit_fee(loaded):
    spec = form_spec(_version("sodai-gomi").form_version)
    answers = {
        "applicant_name": NAME,
        "applicant_phone": "045-671-2121",
        "applicant_email": "taro@example.jp",
        "collection_address": ADDRESS,
        "building_type": "detached",
        "placement": "玄関前",
        "items": [
            {"name": "自転車", "quantity": 2, "tickets_per_item": 1},
            {"name": "たんす（高さ1m以上）", "quantity": "1", "tickets_per_item": "3"},
        ],
        "collection_date": "2025-06-10",
        "payment_method": "ticket",
        "items_confirmed": True,
        "rules_confirmed": True,
    }
    result = validate(spec, answers, today=TODAY)
    assert result.ok, result.errors
    assert [item["tickets"] for item in result.answers["items"]] == [2, 3]
    assert result.answers["ticket_total"] == 5
    assert result.answers["fee"] == 1500

    # A municipality with 500円 tickets.
    meta = _version("sodai-gomi").metadata
    own = check_definition(check_settings({"parameters": {"unit_fee": 500}}, meta))
    assert validate(own, answers, today=TODAY).answers["fee"] == 2500


def test_sodai_gomi_is_not_collected_on_a_holiday(loaded):
    spec = form_spec(_version("sodai-gomi").form_version)
    # 2025-07-21 is 海の日.
    result = validate(spec, {"collection_date": "2025-07-21"}, today=TODAY, step="collection")
    assert "collection_date" in result.errors


def test_dog_registration_fee_only_for_a_new_registration(loaded):
    spec = form_spec(_version("inu-toroku").form_version)
    dog = {
        "owner_name": NAME,
        "owner_address": ADDRESS,
        "owner_phone": "045-671-2121",
        "dog_name": "ポチ",
        "breed": "柴",
        "coat_color": "赤",
        "dog_sex": "male",
        "dog_birth_date": "2025-01-10",
        "truth": True,
    }
    register = {
        **dog,
        "kind": "register",
        "acquired_date": "2025-05-20",
        "vaccinated": "yes",
        "vaccination_date": "2025-05-25",
        "injection_tag_request": "yes",
        "vaccination_certificate": [
            {"id": "upload-0000001", "name": "注射済証.jpg", "kind": "jpeg", "size": 2048}
        ],
        "tag_delivery": "mail",
        "owner_duties": True,
    }
    result = validate(spec, register, today=TODAY)
    assert result.ok, result.errors
    assert result.answers["fee"] == 3000 + 550

    death = validate(spec, {**dog, "kind": "death", "death_date": "2025-05-30"}, today=TODAY)
    assert death.ok, death.errors
    assert "fee" not in death.answers


# --- Published versions are immutable -------------------------------------------------------


def test_changing_a_published_version_without_raising_its_number_is_refused(loaded):
    events = {event.slug: event for event in _version("juminhyo").template.life_events.all()}
    events |= {
        event.slug: event for event in _version("jidou-teate-nintei").template.life_events.all()
    }
    original = _shipped()["juminhyo"]
    metadata = copy.deepcopy(original.metadata)
    metadata["summary"] += "（改）"
    changed = dataclasses.replace(
        original, metadata=metadata, digest=template_digest(metadata, original.form)
    )
    assert changed.digest != original.digest
    with pytest.raises(TemplateVersionConflict):
        template_version_publish(parsed=changed, life_events=events, now=now())
    # The same content again is fine and changes nothing.
    assert template_version_publish(parsed=original, life_events=events, now=now()) == (
        False,
        False,
    )
    assert _version("juminhyo").digest == original.digest


def test_the_digest_covers_metadata_and_form():
    original = _shipped()["kaigo-nintei"]
    form = copy.deepcopy(original.form)
    form["steps"][0]["sections"][0]["fields"][0]["label"] = "区分"
    assert template_digest(original.metadata, form) != original.digest
    metadata = {**original.metadata, "retention_years": 10}
    assert template_digest(metadata, original.form) != original.digest
    assert template_digest(copy.deepcopy(original.metadata), copy.deepcopy(original.form)) == (
        original.digest
    )


def test_no_template_offers_online_payment_while_no_payment_method_exists(loaded):
    # 粗大ごみ once offered 「オンラインで支払う」 and nothing followed: the platform has no
    # payment method yet, so no choice may promise one (and "online" is refused, not stored).
    spec = form_spec(_version("sodai-gomi").form_version)
    choices = [
        choice
        for step in spec.steps
        for f in step.fields
        if f.key == "payment_method"
        for choice in f.options["choices"]
    ]
    assert [c["value"] for c in choices] == ["ticket"]
    assert not any("オンラインで支払" in c["label"] for c in choices)
