"""A submission meets the procedure's levels — portal, API and services alike — and a
resident learns what is missing before filling anything in."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from madoguchi.applications.canonical import canonical_bytes
from madoguchi.applications.models import Application, ApplicationSignature
from madoguchi.applications.services import (
    AssuranceInsufficient,
    SignatureInvalid,
    application_canonical,
    new_idempotency_key,
)
from madoguchi.audit.models import AuditEvent
from madoguchi.core.time import now
from madoguchi.forms.engine import validate
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.assurance import VerifiedAttributes, VerifiedIdentity
from madoguchi.identity.tokens import access_token_create
from madoguchi.tenants.models import Organisation
from madoguchi.testing import procedure_publish, submit, valid_answers

URL = "/api/v1/applications/"
#: The applicant's name field of 介護保険被保険者証の再交付.
NAME_FIELD = "insured_name"


@pytest.fixture
def yokohama(db):
    return Organisation.objects.get(lg_code="141003")


@pytest.fixture
def card_procedure(yokohama):
    """介護保険被保険者証の再交付 as shipped: 身元確認レベル3, 当人認証レベル2, a signature."""
    return procedure_publish(yokohama, "kaigo-hihokensha-saikofu", as_shipped=True)


@pytest.fixture
def level_two(yokohama):
    """The same procedure asking for level 2 of both, without a signature."""
    return procedure_publish(
        yokohama, "kaigo-hihokensha-saikofu", ial=2, aal=2, signature_required=False
    )


@pytest.fixture
def hanako(db):
    from madoguchi.testing import resident_create

    return resident_create(verified=True)


@pytest.fixture
def token(hanako):
    return access_token_create(user=hanako, name="スマホ", scopes=["applications"], now=now())[1]


def api_post(client, body: Any, token: str):
    return client.post(
        URL,
        data=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
        headers={"Idempotency-Key": new_idempotency_key(), "Authorization": f"Bearer {token}"},
    )


def test_an_email_only_account_is_refused_for_a_card_procedure_and_nothing_is_stored(
    card_procedure, hanako
):
    with pytest.raises(AssuranceInsufficient) as refused:
        submit(card_procedure, hanako, valid_answers(card_procedure))

    assert "マイナンバーカードによる電子署名" in str(refused.value)
    assert refused.value.shortfall.needs_signature
    assert not Application.objects.exists()
    assert not AuditEvent.objects.filter(action="application.submitted").exists()


def test_level_two_is_met_by_proofing_and_a_passkey_and_recorded_with_the_application(
    level_two, hanako
):
    answers = valid_answers(level_two)
    with pytest.raises(AssuranceInsufficient):
        submit(level_two, hanako, answers, identity=VerifiedIdentity(ial=1, aal=2))

    proofed = VerifiedIdentity(
        ial=2,
        aal=2,
        methods=("counter_proofing", "passkey"),
        attributes=VerifiedAttributes(name="別人　太郎", source="counter_proofing"),
    )
    application = submit(level_two, hanako, answers, identity=proofed).application

    assert (application.ial, application.aal) == (2, 2)
    assert application.identity["methods"] == ["counter_proofing", "passkey"]
    # The name checked at the counter differs from the one typed: staff see it.
    (mismatch,) = application.identity["mismatches"]
    assert mismatch["key"] == NAME_FIELD
    assert mismatch["verified"] == "別人　太郎"
    event = AuditEvent.objects.get(action="application.submitted")
    assert (event.detail["ial"], event.detail["aal"]) == (2, 2)


def test_an_unreadable_signature_is_refused_audited_and_nothing_is_stored(card_procedure, hanako):
    with pytest.raises(SignatureInvalid) as refused:
        submit(card_procedure, hanako, valid_answers(card_procedure), signature=b"not a cms")

    assert str(refused.value)
    assert not Application.objects.exists()
    assert not ApplicationSignature.objects.exists()
    event = AuditEvent.objects.get(action="signature.refused")
    assert event.detail["code"] == refused.value.code


def test_the_canonical_bytes_are_the_validated_answers_sorted_and_unescaped(card_procedure, hanako):
    answers = valid_answers(card_procedure)
    content = application_canonical(
        organisation=card_procedure.organisation,
        procedure=card_procedure,
        applicant=hanako,
        answers=answers,
        now=now(),
    )
    normalised = validate(
        form_spec(card_procedure.form_version), answers, today=now().date()
    ).answers

    assert content == canonical_bytes(procedure=card_procedure, answers=normalised)
    document = json.loads(content)
    assert document["format"] == "madoguchi-application/1"
    assert document["organisation"] == "141003"
    assert document["procedure"] == card_procedure.pk
    assert list(document) == sorted(document)
    assert b"\\u" not in content
    assert b": " not in content
    assert card_procedure.name.encode() in content


# --- The API ------------------------------------------------------------------------------------


def test_the_api_refuses_an_email_only_account_with_what_to_do(client, card_procedure, token):
    response = api_post(
        client, {"procedure": card_procedure.pk, "answers": valid_answers(card_procedure)}, token
    )

    assert response.status_code == 403, response.content
    body = response.json()
    assert "マイナンバーカード" in body["detail"]
    assert {e["field"] for e in body["errors"]} == {"identity"}
    assert not Application.objects.exists()


def test_the_api_gives_the_bytes_to_sign(client, card_procedure, token, hanako):
    answers = valid_answers(card_procedure)
    response = client.post(
        f"/api/v1/procedures/{card_procedure.pk}/canonical",
        data=json.dumps({"answers": answers}, ensure_ascii=False),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.content == application_canonical(
        organisation=card_procedure.organisation,
        procedure=card_procedure,
        applicant=hanako,
        answers=answers,
        now=now(),
    )


@pytest.mark.parametrize(
    "body",
    [
        {"answers": []},
        {"answers": "x"},
        {},
        {"answers": {}, "extra": 1},
        {"answers": {"unknown_field": "x"}},
    ],
    ids=["list", "string", "missing", "extra key", "unknown answer"],
)
def test_hostile_canonical_requests_get_422_in_japanese(client, card_procedure, token, body):
    response = client.post(
        f"/api/v1/procedures/{card_procedure.pk}/canonical",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 422, response.content
    assert response.json()["detail"] == "リクエストの値に誤りがあります。"


def test_canonical_of_an_unknown_procedure_is_404(client, token, db):
    response = client.post(
        "/api/v1/procedures/999999/canonical",
        data=json.dumps({"answers": {}}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "signature",
    ["***", 12, "", "QUJD" * 30_000, ["a"]],
    ids=["not base64", "number", "empty", "huge", "list"],
)
def test_hostile_signatures_get_422_on_the_signature_and_store_nothing(
    client, card_procedure, token, signature
):
    body = {
        "procedure": card_procedure.pk,
        "answers": valid_answers(card_procedure),
        "signature": signature,
    }
    response = api_post(client, body, token)

    assert response.status_code == 422, response.content
    assert any(e["field"] == "signature" for e in response.json()["errors"])
    assert not Application.objects.exists()


def test_a_signature_that_is_not_cms_is_refused_with_a_japanese_message(
    client, card_procedure, token
):
    body = {
        "procedure": card_procedure.pk,
        "answers": valid_answers(card_procedure),
        "signature": "QUJDREVGRw==",
    }
    response = api_post(client, body, token)

    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == "signature"
    assert not Application.objects.exists()
    assert AuditEvent.objects.filter(action="signature.refused").count() == 1


# --- The portal -------------------------------------------------------------------------------


def test_the_start_page_says_what_a_card_procedure_needs(client, card_procedure):
    page = client.get(f"/o/141003/procedures/{card_procedure.pk}/apply/start/").content.decode()

    assert "この手続に必要な本人確認" in page
    assert "署名用電子証明書" in page


# --- Signed with a (test) My Number card --------------------------------------------------------


@pytest.fixture
def card(tmp_path, db, settings):
    """A test card of this installation's test CA, for 鎌倉　花子 (the demo person)."""
    from madoguchi.identity.signatures.testca import Person, card_issue

    settings.DATA_DIR = str(tmp_path / "data")
    issued = card_issue(out=tmp_path / "card", person=Person(), now=now())
    return issued.directory


def signed(card, procedure, resident, answers) -> bytes:
    from madoguchi.identity.signatures.testca import card_sign

    content = application_canonical(
        organisation=procedure.organisation,
        procedure=procedure,
        applicant=resident,
        answers=answers,
        now=now(),
    )
    return card_sign(card=card, content=content, now=now())


def test_a_card_signature_meets_level_three_and_is_kept_with_the_application(
    card_procedure, hanako, card, client, token
):
    answers = valid_answers(card_procedure)
    application = submit(
        card_procedure, hanako, answers, signature=signed(card, card_procedure, hanako, answers)
    ).application

    assert (application.ial, application.aal) == (3, 3)
    assert application.identity["methods"][-1] == "jpki_signature"
    signature = ApplicationSignature.objects.get(application=application)
    assert signature.signer_name == "鎌倉　花子"
    assert signature.revision == 1
    assert signature.revocation.startswith("crl:test-ca")
    # The answers' name differs from the certificate's: recorded for staff.
    assert any(m["key"] == NAME_FIELD for m in signature.mismatches)
    detail = client.get(
        f"/api/v1/applications/{application.receipt_number}/",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert (detail["ial"], detail["aal"]) == (3, 3)
    assert detail["signature"]["signer"] == "鎌倉　花子"


def test_staff_read_the_signature_in_words_not_codes(card_procedure, hanako, card, staff_client):
    answers = valid_answers(card_procedure)
    application = submit(
        card_procedure, hanako, answers, signature=signed(card, card_procedure, hanako, answers)
    ).application

    page = staff_client.get(f"/console/applications/{application.pk}/").content.decode()

    assert "<dt>受付方法</dt><dd>オンライン</dd>" in page
    assert "失効リスト（CRL）: テスト用認証局（デモ）、第" in page
    assert "crl:test-ca" not in page
    assert "証明書の発行者:" in page
    # The certificate's date of birth in 和暦 with 西暦, as staff compare it with papers.
    assert re.search(r"生年月日: (昭和|平成)\d+年\d+月\d+日（\d{4}年）", page)


def test_a_signature_over_other_answers_is_refused(card_procedure, hanako, card):
    answers = valid_answers(card_procedure)
    other = {**answers, NAME_FIELD: {**answers[NAME_FIELD], "given": "別名"}}
    with pytest.raises(SignatureInvalid) as refused:
        submit(
            card_procedure, hanako, answers, signature=signed(card, card_procedure, hanako, other)
        )

    assert refused.value.code == "signature_mismatch"
    assert not Application.objects.exists()
    assert AuditEvent.objects.filter(action="signature.refused").count() == 1


def test_a_revoked_card_is_refused(card_procedure, hanako, card):
    from madoguchi.identity.signatures.testca import card_revoke

    answers = valid_answers(card_procedure)
    signature = signed(card, card_procedure, hanako, answers)
    card_revoke(card=card, now=now())

    with pytest.raises(SignatureInvalid) as refused:
        submit(card_procedure, hanako, answers, signature=signature)
    assert refused.value.code == "revoked"
    assert not Application.objects.exists()


def test_the_api_takes_a_card_signature(client, card_procedure, token, hanako, card):
    import base64

    answers = valid_answers(card_procedure)
    canonical = client.post(
        f"/api/v1/procedures/{card_procedure.pk}/canonical",
        data=json.dumps({"answers": answers}, ensure_ascii=False),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    ).content
    from madoguchi.identity.signatures.testca import card_sign

    signature = base64.b64encode(card_sign(card=card, content=canonical, now=now())).decode()
    response = api_post(
        client,
        {"procedure": card_procedure.pk, "answers": answers, "signature": signature},
        token,
    )

    assert response.status_code == 201, response.content
    assert response.json()["signature"]["signer"] == "鎌倉　花子"
    assert response.json()["ial"] == 3


@pytest.fixture
def juminhyo(yokohama):
    """住民票の写しの交付請求 as shipped (a signature; no My Number, so a draft holds it all)."""
    return procedure_publish(yokohama, "juminhyo", as_shipped=True)


def test_a_resident_signs_on_the_confirmation_page_and_sends(client, juminhyo, hanako, card):
    from madoguchi.applications.services import draft_save

    card_procedure = juminhyo
    answers = valid_answers(card_procedure)
    client.force_login(hanako)
    draft_save(
        organisation=card_procedure.organisation,
        procedure=card_procedure,
        applicant=hanako,
        answers=answers,
        step="",
        now=now(),
    )
    base = f"/o/141003/procedures/{card_procedure.pk}/apply/"
    confirm = client.get(base + "confirm/")
    assert confirm.status_code == 200, confirm.content.decode()[:500]
    page = confirm.content.decode()
    assert "署名する申請データ" in page
    content = client.get(base + "confirm/canonical/").content
    from madoguchi.identity.signatures.testca import card_sign

    uploaded = client.post(
        base + "confirm/signature/",
        {"signature": _file("sig.p7s", card_sign(card=card, content=content, now=now()))},
    )
    assert uploaded.status_code == 302
    page = client.get(base + "confirm/").content.decode()
    assert "マイナンバーカードの署名を確認しました（署名者: 鎌倉　花子）" in page
    assert "証明書と違う項目" in page  # the typed name is not the card's
    # Signed: nothing is asked any more (the page applies the service's rule).
    assert "本人確認」を済ませて" not in page
    key = _found(r'name="idempotency_key" value="([^"]+)"', page)
    digest = _found(r'name="signed_digest" value="([^"]+)"', page)
    sent = client.post(
        base + "confirm/",
        {
            "idempotency_key": key,
            "form_version": card_procedure.form_version_id,
            "signed_digest": digest,
        },
    )

    assert sent.status_code == 302, sent.content.decode()[:500]
    application = Application.objects.get()
    assert application.ial == 3
    done = client.get(sent["Location"]).content.decode()
    assert "鎌倉　花子 の署名を検証しました" in done


def test_a_garbage_signature_file_is_refused_on_the_page(client, juminhyo, hanako):
    from madoguchi.applications.services import draft_save

    card_procedure = juminhyo
    client.force_login(hanako)
    draft_save(
        organisation=card_procedure.organisation,
        procedure=card_procedure,
        applicant=hanako,
        answers=valid_answers(card_procedure),
        step="",
        now=now(),
    )
    base = f"/o/141003/procedures/{card_procedure.pk}/apply/"
    response = client.post(
        base + "confirm/signature/",
        {"signature": _file("sig.p7s", b"\x30\x82garbage")},
        follow=True,
    )

    assert response.status_code == 200
    assert (
        "署名データの形式" in response.content.decode()
        or "署名ファイル" in response.content.decode()
    )
    assert AuditEvent.objects.filter(action="signature.refused").count() == 1
    assert not Application.objects.exists()


def _file(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/pkcs7-signature")


def _found(pattern: str, text: str) -> str:
    import re

    match = re.search(pattern, text)
    assert match, pattern
    return match.group(1)


# --- Duplicates across channels -------------------------------------------------------------------


def test_a_second_online_application_gets_409_over_the_api_pointing_to_the_first(
    client, yokohama, hanako, token
):
    from madoguchi.testing import procedure_with_rule, rule_answers

    ruled = procedure_with_rule(yokohama, "person")
    first = submit(ruled, hanako, rule_answers()).application
    response = api_post(client, {"procedure": ruled.pk, "answers": rule_answers()}, token)

    assert response.status_code == 409, response.content
    assert first.receipt_number in response.json()["detail"]
    assert Application.objects.count() == 1


def test_a_counter_application_of_the_same_person_is_stored_and_shown_beside_the_online_one(
    yokohama, hanako, staff_member
):
    from madoguchi.applications.duplicate_review import possible_duplicates
    from madoguchi.applications.received import application_register_received
    from madoguchi.testing import procedure_with_rule, rule_answers

    ruled = procedure_with_rule(yokohama, "person")
    online = submit(ruled, hanako, rule_answers()).application
    counter = application_register_received(
        organisation=yokohama,
        staff=staff_member,
        procedure=ruled,
        channel="counter",
        received_date=now().date(),
        form="full",
        answers=rule_answers(family="山田", given="花子"),
        documents=["drivers_license"],
        idempotency_key=new_idempotency_key(),
        now=now(),
    ).application

    assert counter.channel == "counter"
    assert counter.ial == 2  # a photo ID was seen at the counter
    panel = possible_duplicates(organisation=yokohama, application=counter)
    assert [c.application.pk for c in panel.candidates] == [online.pk]
    assert panel.candidates[0].shared[0] == "同じ方"
