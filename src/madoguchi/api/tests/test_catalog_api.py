"""A developer builds a form client from the API: the national templates, an organisation's
published procedures, a procedure's form, and server-side validation of answers.

Whatever a client sends to the validation endpoint, the answer is JSON with a Japanese
message, never a 500.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from madoguchi.applications.publishing import procedure_set_status
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.services import procedure_adopt
from madoguchi.core.time import now
from madoguchi.forms.base import FieldSpec
from madoguchi.forms.selectors import form_spec
from madoguchi.testing import publish_own

# The catalog's fixtures (catalog/tests/conftest.py), for this module.

TEMPLATES = "/api/v1/templates/"
YOKOHAMA = "/api/v1/organisations/141003/procedures/"

NAME = {"family": "髙橋", "given": "𠮷子", "family_kana": "たかはし", "given_kana": "ﾖｼｺ"}
MY_NUMBER = "123456789018"


def detail_url(procedure_id: object) -> str:
    return f"/api/v1/procedures/{procedure_id}/"


def validate_url(procedure_id: object) -> str:
    return f"/api/v1/procedures/{procedure_id}/validate"


def valid_answers(**changes: Any) -> dict[str, Any]:
    """A complete, valid 児童手当 認定請求, typed the way people type."""
    answers: dict[str, Any] = {
        "claimant_name": NAME,
        "claimant_birth_date": "平成2年4月1日",
        "claimant_my_number": "１２３４ ５６７８ ９０１８",
        "claimant_address": {"postal_code": "231-0023", "block": "1-1", "building": ""},
        "claimant_phone": "０４５－６７１－２１２１",
        "pension_type": "employees",
        "has_spouse": False,
        "children": [
            {
                "name": {
                    "family": "髙橋",
                    "given": "一郎",
                    "family_kana": "タカハシ",
                    "given_kana": "イチロウ",
                },
                "birth_date": "2024-05-05",
                "relationship": "child",
                "living": "together",
            }
        ],
        "account": {
            "bank_code": "0001",
            "branch_code": "001",
            "account_type": "ordinary",
            "account_number": "1234567",
            "holder": "ﾀｶﾊｼ ﾖｼｺ",
        },
        "account_document": [
            {"id": "upload-0000-0001", "name": "通帳.jpg", "kind": "jpeg", "size": 120_000}
        ],
        "truth": True,
        "info_linkage": True,
    }
    answers.update(changes)
    return answers


def post(client: Any, url: str, body: Any, *, raw: bool = False) -> Any:
    data = body if raw else json.dumps(body, ensure_ascii=False)
    return client.post(url, data, content_type="application/json")


def assert_json_error(response: Any, statuses: set[int]) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert isinstance(body["detail"], str)
    assert any("\u3040" <= ch <= "\u9fff" for ch in body["detail"]), body["detail"]
    for item in body.get("errors", []):
        assert set(item) == {"field", "message"}
        assert all(isinstance(value, str) for value in item.values())
    return body


def errors_by_field(response: Any) -> dict[str, str]:
    body = assert_json_error(response, {422})
    return {item["field"]: item["message"] for item in body["errors"]}


# --- Templates ---------------------------------------------------------------------------------


def test_the_national_templates_are_listed(client, templates_loaded):
    response = client.get(TEMPLATES)

    assert response.status_code == 200
    rows = {row["slug"]: row for row in response.json()}
    nintei_row = rows["jidou-teate-nintei"]
    assert {"id", "slug", "name", "version", "life_events", "ial", "aal"} <= set(nintei_row)
    assert nintei_row["name"] == "児童手当等の受給資格及び児童手当の額についての認定請求"
    assert nintei_row["version"] == 2
    assert nintei_row["versions"] == [2]
    assert sorted(nintei_row["life_events"]) == ["birth", "moving"]
    assert (nintei_row["ial"], nintei_row["aal"]) == (3, 2)
    assert nintei_row["signature_required"] is True


def test_no_templates_is_an_empty_list(client, no_templates):
    response = client.get(TEMPLATES)

    assert response.status_code == 200
    assert response.json() == []


# --- An organisation's procedures ----------------------------------------------------------


def test_only_published_procedures_are_listed(client, organisation, published, fee_template):
    procedure_adopt(organisation=organisation, template_version=fee_template, now=now())  # draft
    closed = publish_own(organisation, "kominkan", "公民館の利用申込み")
    procedure_set_status(organisation=organisation, procedure=closed, status=ProcedureStatus.CLOSED)

    response = client.get(YOKOHAMA)

    assert response.status_code == 200
    [row] = response.json()
    assert row["id"] == published.pk
    assert row["slug"] == "jidou-teate-nintei"
    assert row["organisation"] == {"lg_code": "141003", "name": "横浜市"}
    assert row["template"] == {"slug": "jidou-teate-nintei", "version": 2}
    assert row["url"] == f"/o/141003/procedures/{published.pk}/"
    assert row["form_version"] == 1


def test_another_organisations_procedures_are_not_listed(client, other_organisation, nintei):
    theirs = procedure_adopt(organisation=other_organisation, template_version=nintei, now=now())
    procedure_set_status(
        organisation=other_organisation, procedure=theirs, status=ProcedureStatus.PUBLISHED
    )

    assert client.get(YOKOHAMA).json() == []
    assert [row["id"] for row in client.get("/api/v1/organisations/142042/procedures/").json()] == [
        theirs.pk
    ]


def test_a_five_digit_code_works_too(client, published):
    response = client.get("/api/v1/organisations/14100/procedures/")

    assert [row["id"] for row in response.json()] == [published.pk]


@pytest.mark.parametrize("code", ["141004", "abc", "1410031", "%00"])
def test_a_bad_organisation_code_is_400(client, db, code):
    assert_json_error(client.get(f"/api/v1/organisations/{code}/procedures/"), {400})


def test_an_unknown_organisation_is_404(client, db):
    body = assert_json_error(client.get("/api/v1/organisations/99999/procedures/"), {404})

    assert body["detail"] == "その団体コードの団体は見つかりません。"


# --- One procedure and its form ------------------------------------------------------------------


def test_a_published_procedure_comes_with_its_form(client, published):
    response = client.get(detail_url(published.pk))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == published.pk
    assert body["form"]["version"] == 1
    assert body["form"]["digest"] == published.form_version.digest
    definition = body["form"]["definition"]
    assert definition == published.form_version.schema
    assert definition["key"] == "jidou_teate_nintei"
    assert [step["key"] for step in definition["steps"]][-1] == "consent"


def test_a_draft_procedure_is_not_found(client, adopted):
    body = assert_json_error(client.get(detail_url(adopted.pk)), {404})

    assert "見つかりません" in body["detail"]
    assert "児童手当" not in body["detail"]


def test_a_closed_procedure_is_not_found(client, organisation, published):
    procedure_set_status(
        organisation=organisation, procedure=published, status=ProcedureStatus.CLOSED
    )

    assert_json_error(client.get(detail_url(published.pk)), {404})
    assert_json_error(post(client, validate_url(published.pk), {"answers": {}}), {404})


@pytest.mark.parametrize("procedure_id", ["0", "-1", "999999", "9" * 30])
def test_an_unknown_procedure_id_is_404(client, published, procedure_id):
    assert_json_error(client.get(detail_url(procedure_id)), {404})


@pytest.mark.parametrize("procedure_id", ["abc", "1.5", "%00", "1e3"])
def test_an_id_that_is_not_a_number_says_so(client, published, procedure_id):
    # Not a 404: the path parameter itself is wrong, and the answer names it.
    body = assert_json_error(client.get(detail_url(procedure_id)), {422})

    assert body["errors"] == [{"field": "procedure_id", "message": "整数で指定してください。"}]


def test_the_procedure_of_an_organisation_that_no_longer_exists_is_not_found(
    client, other_organisation, nintei
):
    theirs = procedure_adopt(organisation=other_organisation, template_version=nintei, now=now())
    procedure_set_status(
        organisation=other_organisation, procedure=theirs, status=ProcedureStatus.PUBLISHED
    )
    other_organisation.active = False
    other_organisation.save(update_fields=["active"])

    assert_json_error(client.get(detail_url(theirs.pk)), {404})


def test_a_merged_organisation_lists_no_procedures(client, other_organisation, nintei):
    theirs = procedure_adopt(organisation=other_organisation, template_version=nintei, now=now())
    procedure_set_status(
        organisation=other_organisation, procedure=theirs, status=ProcedureStatus.PUBLISHED
    )
    other_organisation.active = False
    other_organisation.save(update_fields=["active"])

    response = client.get("/api/v1/organisations/142042/procedures/")

    assert response.status_code == 200
    assert response.json() == []


# --- Validating answers ------------------------------------------------------------------------


def test_valid_answers_come_back_normalised(client, published):
    response = post(client, validate_url(published.pk), {"answers": valid_answers()})

    assert response.status_code == 200, response.content.decode()
    body = response.json()
    assert body["valid"] is True
    answers = body["answers"]
    assert answers["claimant_phone"] == "0456712121"
    assert answers["claimant_my_number"] == MY_NUMBER
    assert answers["claimant_birth_date"] == "1990-04-01"
    assert answers["claimant_name"]["given"] == "𠮷子"  # kept exactly as typed
    assert answers["claimant_name"]["family_kana"] == "タカハシ"
    assert answers["claimant_name"]["given_kana"] == "ヨシコ"
    assert answers["account"]["holder"] == "タカハシ ヨシコ"
    assert answers["children_count"] == 1


def test_invalid_answers_are_422_keyed_by_field_path(client, published):
    answers = valid_answers()
    answers["children"] = [
        answers["children"][0],
        {**answers["children"][0], "birth_date": "2024-02-30"},
    ]
    answers["claimant_phone"] = "045"

    response = post(client, validate_url(published.pk), {"answers": answers})

    errors = errors_by_field(response)
    assert set(errors) == {"children[1].birth_date", "claimant_phone"}
    assert response.json()["detail"] == "回答に誤りがあります。"


def test_missing_required_answers_are_listed_in_japanese(client, published):
    errors = errors_by_field(post(client, validate_url(published.pk), {"answers": {}}))

    assert errors["claimant_name"] == "請求者の氏名を入力してください。"
    assert errors["has_spouse"] == "「配偶者はいますか」に「はい」か「いいえ」で答えてください。"
    assert errors["truth"] == "内容を確認のうえ、同意する場合はチェックを入れてください。"


def test_one_step_can_be_validated_alone(client, published):
    claimant_step = {
        key: value
        for key, value in valid_answers().items()
        if key.startswith("claimant_") or key in ("pension_type", "has_spouse")
    }

    response = post(
        client, validate_url(published.pk), {"answers": claimant_step, "step": "claimant"}
    )

    assert response.status_code == 200, response.content.decode()
    assert response.json()["answers"]["claimant_phone"] == "0456712121"


def test_a_step_reports_only_its_own_errors(client, published):
    errors = errors_by_field(
        post(client, validate_url(published.pk), {"answers": {}, "step": "payment"})
    )

    assert set(errors) == {"account", "account_document"}


@pytest.mark.parametrize("step", ["nope", "", 1, ["claimant"], {"key": "claimant"}, True])
def test_an_unknown_step_is_refused(client, published, step):
    body = assert_json_error(
        post(client, validate_url(published.pk), {"answers": {}, "step": step}), {422}
    )

    assert body["detail"] == "step にはこの様式のステップの key を指定してください。"


def test_unknown_answer_keys_are_errors(client, published):
    answers = valid_answers(favourite_colour="青")
    answers["children"][0]["shoe_size"] = 18

    errors = errors_by_field(post(client, validate_url(published.pk), {"answers": answers}))

    assert errors == {
        "favourite_colour": "この様式にない項目です。",
        "children[0].shoe_size": "この様式にない項目です。",
    }


# --- Hostile bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "{",
        "not json",
        "{'answers': {}}",
        "\x00",
        '{"answers": {}',
        '{"answers": {"claimant_phone": "\\ud800"}}',
        '{"answers": {"\\udfff": 1}}',
    ],
)
def test_a_body_that_is_not_json_is_400(client, published, body):
    body_json = assert_json_error(post(client, validate_url(published.pk), body, raw=True), {400})

    assert body_json["detail"].startswith("JSONとして読めません")


def test_a_body_in_another_encoding_is_400(client, published):
    data = json.dumps({"answers": {"claimant_email": "ａ@例え.jp"}}, ensure_ascii=False)

    response = post(client, validate_url(published.pk), data.encode("shift_jis"), raw=True)

    assert_json_error(response, {400})


@pytest.mark.parametrize(
    "body", ["", "null", "NaN", "[]", '[{"answers": {}}]', '"answers"', "1", "true", "{}"]
)
def test_a_body_that_is_not_an_object_with_answers_is_422(client, published, body):
    response = post(client, validate_url(published.pk), body, raw=True)

    body_json = assert_json_error(response, {422})
    assert body_json["detail"] == '本文は {"answers": {項目: 値}} の形で送ってください。'


@pytest.mark.parametrize("answers", [[], "x", 1, None, [["claimant_phone", "045"]]])
def test_answers_that_are_not_an_object_are_422(client, published, answers):
    assert_json_error(post(client, validate_url(published.pk), {"answers": answers}), {422})


def test_a_hundred_thousand_deep_nesting_is_refused(client, published):
    deep = '{"answers": {"children": ' + "[" * 100_000 + "]" * 100_000 + "}}"

    response = post(client, validate_url(published.pk), deep, raw=True)

    assert_json_error(response, {400, 422})


def test_nesting_just_too_deep_for_any_form_is_refused(client, published):
    deep: Any = "x"
    for _ in range(100):
        deep = {"a": deep}

    response = post(client, validate_url(published.pk), {"answers": {"children": [deep]}})

    body = assert_json_error(response, {422})
    assert body["detail"] == "回答の入れ子が深すぎます。"


@pytest.mark.parametrize("size", [2_100_000, 3_000_000, 10_000_000])
def test_a_body_of_several_megabytes_is_refused(client, published, size):
    body = '{"answers": {"claimant_email": "' + "a" * size + '"}}'

    response = post(client, validate_url(published.pk), body, raw=True)

    body_json = assert_json_error(response, {400})
    assert body_json["detail"] == "リクエストが大きすぎます（2MBまで）。"


def test_a_one_megabyte_string_is_an_error_for_its_field(client, published):
    answers = valid_answers(claimant_email="a" * 1_000_000 + "@example.jp")

    errors = errors_by_field(post(client, validate_url(published.pk), {"answers": answers}))

    assert list(errors) == ["claimant_email"]
    assert len(json.dumps(errors, ensure_ascii=False)) < 1000  # the value is not echoed back


def test_many_keys_are_refused_without_listing_them_all(client, published):
    answers = {f"k{i}": i for i in range(5000)}

    body = assert_json_error(post(client, validate_url(published.pk), {"answers": answers}), {422})

    assert len(body["errors"]) < 100


WRONG_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    10**40,
    "",
    "　",
    "x" * 5000,
    "\x00",
    "\u202e",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    [],
    [None],
    [[]],
    ["x"] * 100,
    {},
    {"family": ["x"]},
    {"postal_code": {"a": 1}},
    [{"id": "x" * 64, "kind": "exe", "size": -1}],
    [{"id": 1, "name": None}],
]


def _all_fields(procedure: Any) -> list[tuple[FieldSpec, FieldSpec | None]]:
    spec = form_spec(procedure.form_version)
    result: list[tuple[FieldSpec, FieldSpec | None]] = []
    for top in spec.fields:
        result.append((top, None))
        result.extend((child, top) for child in top.fields)
    return result


def test_wrong_types_in_every_field_never_make_a_500(client, published):
    fields = _all_fields(published)
    assert len(fields) > 20
    for f, group in fields:
        for value in WRONG_VALUES:
            answers = valid_answers()
            if group is None:
                answers[f.key] = value
            else:
                answers[group.key] = [{**answers[group.key][0], f.key: value}]
            response = post(client, validate_url(published.pk), {"answers": answers})
            assert response.status_code in (200, 422), (f.key, value, response.status_code)
            assert response["Content-Type"].startswith("application/json")


def test_wrong_types_at_every_part_of_a_composite_field_never_make_a_500(client, published):
    for key in ("claimant_name", "claimant_address", "account"):
        parts = valid_answers()[key]
        for part in parts:
            for value in WRONG_VALUES:
                answers = valid_answers()
                answers[key] = {**parts, part: value}
                response = post(client, validate_url(published.pk), {"answers": answers})
                assert response.status_code in (200, 422), (key, part, value)


def test_a_whole_group_of_the_wrong_shape_is_an_error_for_the_group(client, published):
    shapes: list[Any] = ["children", 1, {"name": "x"}, [1, 2, 3], [[{}]], [{}] * 11]
    for value in shapes:
        errors = errors_by_field(
            post(client, validate_url(published.pk), {"answers": valid_answers(children=value)})
        )
        assert any(path.startswith("children") for path in errors), (value, errors)


def test_validating_stores_nothing(client, published):
    from madoguchi.forms.models import FormVersion

    before = FormVersion.objects.count()

    post(client, validate_url(published.pk), {"answers": valid_answers()})

    assert FormVersion.objects.count() == before
    published.refresh_from_db()
    assert published.status == ProcedureStatus.PUBLISHED


# --- OpenAPI -------------------------------------------------------------------------------------


def test_the_openapi_document_lists_the_catalog_paths(client, db):
    document = client.get("/api/v1/openapi.json").json()

    assert {
        "/api/v1/templates/",
        "/api/v1/organisations/{code}/procedures/",
        "/api/v1/procedures/{procedure_id}/",
        "/api/v1/procedures/{procedure_id}/validate",
    } <= set(document["paths"])
    validate_doc = document["paths"]["/api/v1/procedures/{procedure_id}/validate"]["post"]
    assert {"200", "400", "404", "422"} <= set(validate_doc["responses"])
    assert "requestBody" in validate_doc
