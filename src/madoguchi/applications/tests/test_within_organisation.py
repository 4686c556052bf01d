"""粗大ごみ says 「市区町村内の住所に限ります」: 鎌倉市's procedure refuses a 横浜市 address, on
every path that accepts answers (the portal's step, the validation API, the submission
service), with a clear Japanese error and nothing stored."""

from __future__ import annotations

import json

import pytest

from madoguchi.applications.models import Application
from madoguchi.applications.services import ValidationFailed
from madoguchi.testing import procedure_publish, resident_create, submit, valid_answers

YOKOHAMA_ADDRESS = {"postal_code": "231-0023", "block": "1-1", "building": ""}
KAMAKURA_ADDRESS = {"postal_code": "248-0012", "block": "1-1", "building": ""}
MESSAGE = "鎌倉市内の住所を入力してください。この手続は鎌倉市内の住所に限ります"


@pytest.fixture
def sodai_gomi(other_organisation, templates_loaded):
    """鎌倉市 has published 粗大ごみ収集の申込 (the national template, newest version)."""
    return procedure_publish(other_organisation, "sodai-gomi")


def test_the_shipped_template_restricts_the_collection_place(sodai_gomi):
    assert sodai_gomi.template_version.version >= 2
    schema = json.dumps(sodai_gomi.form_version.schema, ensure_ascii=False)
    assert '"within_organisation": true' in schema


def test_kamakura_refuses_a_yokohama_collection_address_and_stores_nothing(sodai_gomi):
    resident = resident_create()
    answers = valid_answers(sodai_gomi)
    assert answers["collection_address"]["postal_code"].startswith("24")  # 鎌倉市's example
    before = Application.objects.count()

    with pytest.raises(ValidationFailed) as error:
        submit(sodai_gomi, resident, {**answers, "collection_address": YOKOHAMA_ADDRESS})

    assert error.value.errors["collection_address.postal_code"].startswith(MESSAGE)
    assert "神奈川県横浜市中区" in error.value.errors["collection_address.postal_code"]
    assert Application.objects.count() == before

    stored = submit(sodai_gomi, resident, {**answers, "collection_address": KAMAKURA_ADDRESS})
    assert stored.application.answers["collection_address"]["city"] == "鎌倉市"


def test_the_validation_api_gives_the_same_error(client, sodai_gomi):
    answers = {**valid_answers(sodai_gomi), "collection_address": YOKOHAMA_ADDRESS}
    response = client.post(
        f"/api/v1/procedures/{sodai_gomi.pk}/validate",
        json.dumps({"answers": answers}, ensure_ascii=False),
        content_type="application/json",
    )
    assert response.status_code == 422
    fields = {item["field"]: item["message"] for item in response.json()["errors"]}
    assert fields["collection_address.postal_code"].startswith(MESSAGE)


@pytest.mark.parametrize(
    "place",
    [
        {"prefecture": "神奈川県", "city": "横浜市中区", "block": "1-1"},
        {"prefecture": "東京都", "city": "鎌倉市", "block": "1-1"},
        {"postal_code": "231-0023", "city": "鎌倉市", "block": "1-1"},
        {"prefecture": "神奈川県", "city": "鎌倉市\u202e", "block": "1-1"},
    ],
)
def test_hostile_or_mixed_addresses_are_refused_in_japanese(sodai_gomi, place):
    resident = resident_create()
    with pytest.raises(ValidationFailed) as error:
        submit(sodai_gomi, resident, {**valid_answers(sodai_gomi), "collection_address": place})
    messages = [m for k, m in error.value.errors.items() if k.startswith("collection_address")]
    assert messages
    assert all(any("\u3040" <= ch <= "\u9fff" for ch in m) for m in messages)
    assert not Application.objects.filter(applicant=resident).exists()
