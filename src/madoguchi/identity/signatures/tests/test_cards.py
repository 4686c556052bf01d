"""``madoguchi card issue|sign|revoke``: the test card signs like a card, openssl can sign with
it too, and revoking it reaches the test CA's CRL."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from madoguchi.identity.signatures.base import SignatureProblem, SignatureRefused
from madoguchi.identity.signatures.services import signature_verify
from madoguchi.identity.signatures.testca import demo_card_dir, demo_card_ensure

CONTENT = '{"answers":{"氏名":"山田　太郎"}}'.encode()


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def card(tmp_path, db, settings):
    settings.JPKI_TRUST_ANCHORS = ""
    settings.JPKI_VERIFY_URL = ""
    out = tmp_path / "card"
    call_command(
        "card", "issue", "--out", str(out), "--name", "山田　太郎", "--address",
        "東京都千代田区霞が関２丁目１番２号", "--birth-date", "1970-01-02", "--sex", "1",
    )  # fmt: skip
    return out


def test_card_sign_gives_a_signature_that_verifies(card, tmp_path, organisation):
    (tmp_path / "canonical.json").write_bytes(CONTENT)

    call_command("card", "sign", "--card", str(card), "--in", str(tmp_path / "canonical.json"), "--out", str(tmp_path / "sig.p7s"))  # fmt: skip
    result = signature_verify(
        cms=(tmp_path / "sig.p7s").read_bytes(),
        content=CONTENT,
        organisation=organisation,
        now=now(),
    )

    attributes = result.attributes
    assert (attributes.name, attributes.address) == (
        "山田　太郎",
        "東京都千代田区霞が関２丁目１番２号",
    )
    assert (attributes.birth_date, attributes.sex) == ("1970-01-02", "1")
    assert result.revocation.startswith("crl:test-ca#")


def test_openssl_can_sign_with_the_card(card, tmp_path, organisation):
    (tmp_path / "canonical.json").write_bytes(CONTENT)
    subprocess.run(
        ["openssl", "cms", "-sign", "-binary", "-in", "canonical.json", "-signer", str(card / "card.pem"),
         "-inkey", str(card / "card.key"), "-outform", "DER", "-md", "sha256", "-out", "sig.p7s"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip

    result = signature_verify(
        cms=(tmp_path / "sig.p7s").read_bytes(),
        content=CONTENT,
        organisation=organisation,
        now=now(),
    )

    assert result.attributes.name == "山田　太郎"


def test_a_revoked_card_is_refused(card, tmp_path, organisation):
    (tmp_path / "c.json").write_bytes(CONTENT)
    call_command("card", "sign", "--card", str(card), "--in", str(tmp_path / "c.json"), "--out", str(tmp_path / "s.p7s"), "--no-attributes")  # fmt: skip

    call_command("card", "revoke", "--card", str(card))

    with pytest.raises(SignatureRefused) as caught:
        signature_verify(
            cms=(tmp_path / "s.p7s").read_bytes(),
            content=CONTENT,
            organisation=organisation,
            now=now(),
        )
    assert caught.value.code == SignatureProblem.REVOKED


def test_a_card_with_a_short_life_expires(tmp_path, db, organisation):
    out = tmp_path / "short"
    call_command("card", "issue", "--out", str(out), "--days", "1", "--not-before", "2024-01-01")
    (tmp_path / "c.json").write_bytes(CONTENT)
    call_command("card", "sign", "--card", str(out), "--in", str(tmp_path / "c.json"), "--out", str(tmp_path / "s.p7s"))  # fmt: skip

    with pytest.raises(SignatureRefused) as caught:
        signature_verify(
            cms=(tmp_path / "s.p7s").read_bytes(),
            content=CONTENT,
            organisation=organisation,
            now=now(),
        )
    assert caught.value.code == SignatureProblem.EXPIRED


def test_the_demo_card_is_issued_once(db):
    first = demo_card_ensure(now=now())
    assert first == demo_card_dir()
    certificate = (first / "card.pem").read_bytes()

    demo_card_ensure(now=now() + timedelta(days=1))

    assert (first / "card.pem").read_bytes() == certificate


def test_card_commands_refuse_bad_options_and_production(tmp_path, db, settings):
    with pytest.raises(CommandError, match=r"生年月日|birth"):
        call_command("card", "issue", "--out", str(tmp_path / "x"), "--birth-date", "1985-13-01")
    with pytest.raises(CommandError, match="カード"):
        call_command("card", "sign", "--card", str(tmp_path / "none"), "--in", __file__, "--out", str(tmp_path / "s"))  # fmt: skip
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="本番"):
        call_command("card", "issue", "--out", str(tmp_path / "p"))
    assert demo_card_ensure(now=now()) is None


def test_the_test_ca_is_not_trusted_in_production(card, tmp_path, organisation, settings):
    (tmp_path / "c.json").write_bytes(CONTENT)
    call_command("card", "sign", "--card", str(card), "--in", str(tmp_path / "c.json"), "--out", str(tmp_path / "s.p7s"))  # fmt: skip
    settings.PRODUCTION = True

    with pytest.raises(SignatureRefused) as caught:
        signature_verify(
            cms=(tmp_path / "s.p7s").read_bytes(),
            content=CONTENT,
            organisation=organisation,
            now=now(),
        )
    assert caught.value.code == SignatureProblem.UNTRUSTED
