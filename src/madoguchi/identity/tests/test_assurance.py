"""The one rule for assurance levels, and what a session remembers of a login."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.db import SessionStore

from madoguchi.core.text import address_key, name_key
from madoguchi.identity.assurance import (
    BASELINE,
    VerifiedAttributes,
    VerifiedIdentity,
    assurance_shortfall,
    identity_current,
    identity_session_load,
    identity_session_store,
)
from madoguchi.testing import resident_create

PASSKEY = VerifiedIdentity(ial=1, aal=2, methods=("passkey",))
CARD = VerifiedIdentity(
    ial=3,
    aal=3,
    methods=("national_login",),
    subject="oidc:https://idp.example#abc",
    attributes=VerifiedAttributes(name="鎌倉　花子", birth_date="1990-04-01"),
)


def test_an_email_account_meets_level_one_and_nothing_more():
    assert (
        assurance_shortfall(ial=1, aal=1, signature_required=False, identity=BASELINE, signed=False)
        is None
    )
    short = assurance_shortfall(
        ial=2, aal=1, signature_required=False, identity=BASELINE, signed=False
    )
    assert short is not None
    assert short.message == "この手続には身元確認レベル2が必要です。"
    assert any("窓口" in remedy for remedy in short.remedies)


def test_a_card_procedure_says_to_sign_with_the_card():
    short = assurance_shortfall(
        ial=3, aal=2, signature_required=True, identity=BASELINE, signed=False
    )
    assert short is not None
    assert short.needs_signature
    assert "マイナンバーカードによる電子署名" in short.message
    assert "署名用電子証明書" in short.remedies[0]


def test_a_passkey_meets_authentication_level_two_only():
    assert (
        assurance_shortfall(ial=1, aal=2, signature_required=False, identity=PASSKEY, signed=False)
        is None
    )
    short = assurance_shortfall(
        ial=2, aal=2, signature_required=False, identity=PASSKEY, signed=False
    )
    assert short is not None
    assert "身元確認レベル2" in short.message
    assert "当人認証" not in short.message


def test_a_national_login_is_level_three_but_a_signature_is_still_a_signature():
    assert (
        assurance_shortfall(ial=3, aal=3, signature_required=False, identity=CARD, signed=False)
        is None
    )
    short = assurance_shortfall(ial=3, aal=2, signature_required=True, identity=CARD, signed=False)
    assert short is not None
    assert short.message == "この手続にはマイナンバーカードによる電子署名が必要です。"
    assert (
        assurance_shortfall(ial=3, aal=2, signature_required=True, identity=CARD, signed=True)
        is None
    )


def test_a_card_signature_alone_meets_level_three_as_the_submission_records_it():
    # The confirmation page and the submission service ask the same question: with a verified
    # signature, an e-mail-only account meets 3/3 (the service records it so, with_signature).
    for identity in (None, BASELINE, PASSKEY):
        assert (
            assurance_shortfall(
                ial=3, aal=3, signature_required=True, identity=identity, signed=True
            )
            is None
        )


def test_a_visitor_is_told_to_log_in_first():
    short = assurance_shortfall(ial=2, aal=2, signature_required=False, identity=None, signed=False)
    assert short is not None
    assert short.message.startswith("この手続は、ログインして本人確認をしてから")


def test_combining_keeps_the_stronger_levels_and_the_proofed_attributes():
    both = BASELINE.combine(PASSKEY).combine(CARD)
    assert (both.ial, both.aal) == (3, 3)
    assert both.methods == ("email", "password", "passkey", "national_login")
    assert both.attributes == CARD.attributes
    assert both.subject == CARD.subject


@pytest.mark.parametrize("level", [0, 4, "3", None])
def test_levels_outside_one_to_three_are_not_an_identity(level):
    with pytest.raises(ValueError, match="ial must be 1–3"):
        VerifiedIdentity(ial=level, aal=1)


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "x",
        {"ial": 9, "aal": 1},
        {"ial": 3},
        {"ial": "a", "aal": 1},
        {"ial": 1, "aal": 1, "methods": 5},
    ],
)
def test_a_tampered_or_old_session_value_proves_nothing(stored):
    assert VerifiedIdentity.from_json(stored) is None


def test_the_session_remembers_a_login_for_that_account_only(db):
    hanako = resident_create(verified=True)
    taro = resident_create("taro@example.jp", verified=True)
    session = SessionStore()
    identity_session_store(session, CARD, user_id=hanako.pk)

    assert identity_session_load(session, user_id=hanako.pk) == CARD
    assert identity_session_load(session, user_id=taro.pk) is None
    current = identity_current(user=hanako, session=session)
    assert current is not None
    assert (current.ial, current.aal) == (3, 3)
    other = identity_current(user=taro, session=session)
    assert other is not None
    assert (other.ial, other.aal) == (1, 1)


def test_an_unverified_account_has_no_identity(db):
    assert identity_current(user=resident_create(verified=False), session=None) is None


@pytest.mark.parametrize(
    ("card", "typed"),
    [
        ("神奈川県鎌倉市御成町１８番１０号", "神奈川県鎌倉市御成町18-10"),
        ("神奈川県横浜市中区本町六丁目５０番地の１０", "神奈川県横浜市中区本町6-50-10"),
        ("東京都千代田区永田町一丁目７番１号", "東京都千代田区永田町1丁目7-1"),
    ],
)
def test_addresses_written_two_ways_are_the_same(card, typed):
    assert address_key(card) == address_key(typed)


def test_names_fold_width_and_spaces_but_not_variant_kanji():
    assert name_key("鎌倉　花子") == name_key("鎌倉 花子") == name_key("鎌倉花子")
    assert name_key("髙橋") != name_key("高橋")
