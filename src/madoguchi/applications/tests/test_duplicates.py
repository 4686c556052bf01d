"""No duplicates: each procedure's rule, the keys (verified identity or answers), the claim
that a database constraint enforces, and its release on 取下げ・却下."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from madoguchi.applications.constants import Decision
from madoguchi.applications.duplicate_review import possible_duplicates
from madoguchi.applications.duplicates import (
    DuplicateApplication,
    applicant_material,
    claim_uniqueness,
    fiscal_year,
)
from madoguchi.applications.models import Application, DuplicateKey
from madoguchi.applications.review import application_decide, application_withdraw
from madoguchi.applications.services import SubmissionError, new_idempotency_key
from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.constants import Uniqueness
from madoguchi.catalog.services import CatalogError, procedure_set_uniqueness
from madoguchi.core.time import TOKYO, now
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.assurance import IdentityMethod, VerifiedAttributes, VerifiedIdentity
from madoguchi.testing import procedure_with_rule, rule_answers, submit

ruled = procedure_with_rule
answers = rule_answers


def jst(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=TOKYO)


def card(name: str = "山田　花子", birth: str = "1985-04-01") -> VerifiedIdentity:
    return VerifiedIdentity(
        ial=3,
        aal=3,
        methods=(IdentityMethod.JPKI_SIGNATURE.value,),
        subject="jpki:test",
        attributes=VerifiedAttributes(
            name=name,
            birth_date=birth,
            address="神奈川県横浜市中区山下町１番１号",
            source=IdentityMethod.JPKI_SIGNATURE.value,
        ),
    )


# --- The rules ----------------------------------------------------------------------------


def test_rule_none_allows_two_and_still_shows_them_to_each_other(organisation, resident):
    procedure = ruled(organisation, Uniqueness.NONE)

    first = submit(procedure, resident, answers()).application
    second = submit(procedure, resident, answers()).application

    assert first.pk != second.pk
    assert not DuplicateKey.objects.filter(holds=True).exists()
    panel = possible_duplicates(organisation=organisation, application=second)
    assert [c.application.pk for c in panel.candidates] == [first.pk]
    assert panel.candidates[0].shared == ("同じ方", "同じ世帯（住所）")


def test_per_person_refuses_the_second_online_one_pointing_to_the_first(organisation, resident):
    procedure = ruled(organisation, Uniqueness.PERSON)
    first = submit(procedure, resident, answers()).application

    with pytest.raises(DuplicateApplication) as refused:
        submit(procedure, resident, answers(block="2-3"))  # moved: still the same person

    assert isinstance(refused.value, SubmissionError)
    assert str(refused.value) == (
        "この手続は、同じ方からは1件だけ受け付けています。"
        f"受付番号 {first.receipt_number} の申請がすでにあります。"
        "マイページで状況を確認できます。"
    )
    assert Application.objects.count() == 1
    assert DuplicateKey.objects.count() == 2  # the first's; nothing of the refused one
    event = AuditEvent.objects.get(action="application.duplicate_refused")
    assert event.actor == resident
    assert event.organisation == organisation
    assert event.detail == {
        "first": first.pk,
        "kind": "person",
        "period": "",
        "same_account": True,
    }
    assert "山田" not in str(event.detail)


def test_another_account_with_the_same_person_gets_a_neutral_message(
    organisation, resident, other_resident
):
    procedure = ruled(organisation, Uniqueness.PERSON)
    first = submit(procedure, resident, answers()).application

    with pytest.raises(DuplicateApplication) as refused:
        submit(procedure, other_resident, answers())

    message = str(refused.value)
    assert first.receipt_number not in message
    assert "マイページ" not in message
    assert message.startswith("この手続は、同じ方からは1件だけ受け付けています。")
    assert "担当窓口にお問い合わせください" in message
    assert not refused.value.same_account


def test_a_guest_gets_the_neutral_message_too(organisation, resident):
    procedure = ruled(organisation, Uniqueness.PERSON)
    first = submit(procedure, resident, answers()).application

    with pytest.raises(DuplicateApplication) as refused:
        submit(procedure, None, answers(), contact_email="guest@example.jp")

    assert first.receipt_number not in str(refused.value)
    event = AuditEvent.objects.get(action="application.duplicate_refused")
    assert event.actor is None
    assert event.actor_label == "申請者（アカウントなし）"


def test_a_retry_of_the_first_submission_is_not_a_duplicate(organisation, resident):
    procedure = ruled(organisation, Uniqueness.PERSON)
    key = new_idempotency_key()
    first = submit(procedure, resident, answers(), key)

    again = submit(procedure, resident, answers(), key)

    assert again.application.pk == first.application.pk
    assert not again.created


def test_per_fiscal_year_allows_one_in_the_next_nendo(organisation, resident):
    procedure = ruled(organisation, Uniqueness.PERSON_FISCAL_YEAR)
    march = submit(procedure, resident, answers(), at=jst(2026, 3, 31, 23, 59)).application

    april = submit(procedure, resident, answers(), at=jst(2026, 4, 1, 0, 0)).application
    with pytest.raises(DuplicateApplication) as refused:
        submit(procedure, resident, answers(), at=jst(2027, 3, 31, 23, 59, 59))

    assert april.receipt_number in str(refused.value)
    assert "1年度に1件だけ" in str(refused.value)
    assert dict(
        DuplicateKey.objects.filter(kind="person").values_list("application_id", "period")
    ) == {march.pk: "FY2025", april.pk: "FY2026"}
    # The two years are not possible duplicates of each other.
    assert possible_duplicates(organisation=organisation, application=april).candidates == []


def test_fiscal_year_boundaries_are_in_tokyo_time():
    assert fiscal_year(jst(2026, 3, 31, 23, 59, 59)) == 2025
    assert fiscal_year(jst(2026, 4, 1, 0, 0)) == 2026
    # 2026-03-31 15:00 UTC is already 4月1日 00:00 in Tokyo.
    assert fiscal_year(datetime.fromisoformat("2026-03-31T15:00:00+00:00")) == 2026
    assert fiscal_year(datetime.fromisoformat("2026-03-31T14:59:59+00:00")) == 2025


def test_per_household_refuses_another_person_at_the_same_address(
    organisation, resident, other_resident
):
    procedure = ruled(organisation, Uniqueness.HOUSEHOLD)
    first = submit(procedure, resident, answers(block="1-1", building="山下ハイツ101")).application

    with pytest.raises(DuplicateApplication) as refused:
        # The same address written another way: 丁目・番・号, full width.
        submit(
            procedure,
            resident,
            answers("山田", "太郎", "1980-01-01", block="１番１号", building="山下ハイツ101"),
        )
    next_door = submit(
        procedure, other_resident, answers("鈴木", "一郎", building="山下ハイツ102")
    ).application

    assert "同じ世帯からは1件だけ" in str(refused.value)
    assert first.receipt_number in str(refused.value)
    assert next_door.pk != first.pk


# --- Release ----------------------------------------------------------------------------


def test_a_withdrawn_application_releases_its_claim(organisation, resident):
    procedure = ruled(organisation, Uniqueness.PERSON)
    first = submit(procedure, resident, answers()).application
    application_withdraw(applicant=resident, application=first, reason="書き直します", now=now())

    again = submit(procedure, resident, answers()).application

    assert DuplicateKey.objects.get(application=first, kind="person").released_at is not None
    assert DuplicateKey.objects.get(application=again, kind="person").holds


def test_a_rejected_application_releases_its_claim(organisation, resident, staff_member):
    procedure = ruled(organisation, Uniqueness.PERSON)
    first = submit(procedure, resident, answers()).application
    application_decide(
        organisation=organisation,
        application=first,
        staff=staff_member,
        outcome=Decision.REJECT,
        reason="要件を満たしていません。",
        expected_status="submitted",
        now=now(),
    )

    again = submit(procedure, resident, answers())

    assert again.created


# --- Keys -------------------------------------------------------------------------------


def test_verified_attributes_key_the_person_rather_than_the_answers(organisation, resident):
    procedure = ruled(organisation, Uniqueness.PERSON)
    # Signed with the card, though the answers carry a typo in the name.
    first = submit(procedure, resident, answers(given="華子"), identity=card()).application
    assert DuplicateKey.objects.get(application=first, kind="person").verified

    # The card said 山田花子: typed correctly later (without the card), it is the same person.
    with pytest.raises(DuplicateApplication):
        submit(procedure, resident, answers())
    # …and the typo alone is not: the card's name was the key.
    assert submit(procedure, resident, answers(given="華子")).created


def test_the_answers_key_the_person_without_a_verified_name(organisation, resident):
    spec = form_spec(ruled(organisation, Uniqueness.PERSON).form_version)
    email_only = VerifiedIdentity(ial=1, aal=1, methods=("email", "password"))

    typed = applicant_material(spec=spec, answers=answers(), identity=None)
    same = applicant_material(spec=spec, answers=answers(), identity=email_only)

    assert typed == same
    assert typed[2] is False


def test_names_fold_width_and_spaces_but_not_variant_kanji(organisation, resident):
    spec = form_spec(ruled(organisation, Uniqueness.PERSON).form_version)

    def person(family: str, given: str) -> str:
        return applicant_material(spec=spec, answers=answers(family, given), identity=None)[0]

    assert person("山田", "花子") == person("山田　", "　花子") == person("山田 ", "花子")
    assert person("Ｙａｍａｄａ", "Ｈａｎａｋｏ") == person("Yamada", "Hanako")
    assert person("髙橋", "𠮷子") != person("高橋", "𠮷子")
    assert person("髙橋", "𠮷子") != person("髙橋", "吉子")


def test_a_variant_kanji_is_another_person_end_to_end(organisation, resident):
    procedure = ruled(organisation, Uniqueness.PERSON)
    submit(procedure, resident, answers("高橋", "吉子"))

    assert submit(procedure, resident, answers("髙橋", "吉子")).created
    with pytest.raises(DuplicateApplication):
        submit(procedure, resident, answers("髙橋", "吉子"))


def test_the_cards_one_line_address_is_the_household_typed_in_parts(organisation, resident):
    spec = form_spec(ruled(organisation, Uniqueness.HOUSEHOLD).form_version)
    signed = card()  # 神奈川県横浜市中区山下町１番１号, as the card writes it

    from_card = applicant_material(spec=spec, answers=answers(given="別名"), identity=signed)
    typed = applicant_material(spec=spec, answers=answers(block="1-1"), identity=None)

    assert from_card[1] == typed[1]
    assert from_card[2] is True


def test_only_keyed_hashes_are_stored(organisation, resident):
    procedure = ruled(organisation, Uniqueness.PERSON)
    application = submit(procedure, resident, answers()).application

    rows = list(DuplicateKey.objects.filter(application=application).values())
    assert {r["kind"] for r in rows} == {"person", "household"}
    for row in rows:
        assert len(row["digest"]) == 64
        assert all(word not in str(row) for word in ("山田", "花子", "1985", "山下町"))


def test_the_digest_depends_on_the_secret_key(organisation, resident, settings):
    spec = form_spec(ruled(organisation, Uniqueness.PERSON).form_version)
    from madoguchi.applications.duplicates import applicant_keys

    before = applicant_keys(spec=spec, answers=answers(), identity=None)
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    after = applicant_keys(spec=spec, answers=answers(), identity=None)

    assert before.person != after.person


# --- The constraint -----------------------------------------------------------------------


def test_the_database_refuses_a_second_holder(organisation, resident):
    procedure = ruled(organisation, Uniqueness.PERSON)
    first = submit(procedure, resident, answers()).application
    held = DuplicateKey.objects.get(application=first, kind="person")
    second = ruled(organisation, Uniqueness.NONE, slug="other-kyufukin")
    other = submit(second, resident, answers()).application

    with pytest.raises(IntegrityError), transaction.atomic():
        DuplicateKey.objects.create(
            organisation=organisation,
            procedure=procedure,
            application=other,
            kind="person",
            digest=held.digest,
            period="",
            holds=True,
            created_at=now(),
        )


def _race(procedure: Any, people: list[Any]) -> tuple[list[Any], list[Exception]]:
    results: list[Any] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(len(people))

    def attempt(person: Any) -> None:
        try:
            barrier.wait()
            results.append(submit(procedure, person, answers()))
        except Exception as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_double_submission_stores_one(organisation, resident):
    procedure = ruled(organisation, Uniqueness.PERSON)

    results, errors = _race(procedure, [resident, resident, resident])

    assert len(results) == 1, errors
    assert len(errors) == 2
    assert all(isinstance(e, DuplicateApplication) for e in errors), errors
    assert Application.objects.filter(procedure=procedure).count() == 1
    assert DuplicateKey.objects.filter(procedure=procedure, holds=True).count() == 1
    winner = results[0].application.receipt_number
    assert all(winner in str(e) for e in errors)


# --- Counter and mail: stored, flagged, never refused ----------------------------------


def test_a_registration_that_may_not_refuse_is_stored_and_flagged(organisation, resident):
    procedure = ruled(organisation, Uniqueness.NONE)
    first = submit(procedure, resident, answers()).application
    second = submit(procedure, resident, answers()).application
    procedure_set_uniqueness(
        organisation=organisation,
        procedure=procedure,
        uniqueness=Uniqueness.PERSON,
        actor=resident,
        now=now(),
    )
    # Replay both claims as the rule now says: the first holds, the second (as the counter
    # registers it: refuse=False) is stored with a flag instead of being refused.
    DuplicateKey.objects.filter(procedure=procedure).delete()
    spec = form_spec(procedure.form_version)
    outcomes = []
    for application in (first, second):
        with transaction.atomic():
            outcomes.append(
                claim_uniqueness(
                    application=application,
                    procedure=procedure,
                    spec=spec,
                    answers=answers(),
                    identity=None,
                    refuse=False,
                )
            )

    assert outcomes[0].held
    assert outcomes[0].conflicts == ()
    assert not outcomes[1].held
    assert outcomes[1].conflicts == (first.pk,)
    assert not DuplicateKey.objects.get(application=second, kind="person").holds

    # When the first is withdrawn, the one waiting takes the claim over.
    application_withdraw(applicant=resident, application=first, now=now())
    assert DuplicateKey.objects.get(application=second, kind="person").holds
    with pytest.raises(DuplicateApplication):
        submit(procedure, resident, answers())


# --- The rule on the procedure ----------------------------------------------------------


def test_an_unknown_rule_is_refused_and_nothing_changes(organisation, resident):
    procedure = ruled(organisation, Uniqueness.PERSON)

    for bad in ("twice", "", "PERSON", None, 1, "person\x00"):
        with pytest.raises(CatalogError) as refused:
            procedure_set_uniqueness(
                organisation=organisation,
                procedure=procedure,
                uniqueness=bad,
                actor=resident,
                now=now(),
            )
        assert refused.value.problems == ["重複申請の扱いを一覧から選んでください。"]
    procedure.refresh_from_db()
    assert procedure.uniqueness == Uniqueness.PERSON
    assert AuditEvent.objects.filter(action="procedure.uniqueness_set").count() == 1


def test_another_organisations_procedure_cannot_be_set(organisation, other_organisation, resident):
    procedure = ruled(organisation, Uniqueness.PERSON)

    with pytest.raises(type(procedure).DoesNotExist):
        procedure_set_uniqueness(
            organisation=other_organisation,
            procedure=procedure,
            uniqueness=Uniqueness.NONE,
            actor=resident,
            now=now(),
        )
    procedure.refresh_from_db()
    assert procedure.uniqueness == Uniqueness.PERSON
