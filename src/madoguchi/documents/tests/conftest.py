"""Fixtures of verification tests: a test CA (made once per session) and signed PDFs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from madoguchi.documents.testsigning import TestCA, pdf_plain, pdf_sign


@pytest.fixture(scope="session")
def seal_ca() -> TestCA:
    """The CA the platform trusts in these tests (its root is given as the trust root)."""
    return TestCA.make("Madoguchi Test Seal Root")


@pytest.fixture(scope="session")
def stranger_ca() -> TestCA:
    """A CA nobody here trusts."""
    return TestCA.make("Untrusted Root")


@pytest.fixture(scope="session")
def signed_pdf(seal_ca: TestCA) -> bytes:
    return pdf_sign(pdf_plain("Kettei tsuuchisho"), seal_ca.signer())


@pytest.fixture(scope="session")
def expired_pdf(seal_ca: TestCA) -> bytes:
    moment = datetime.now(UTC)
    identity = seal_ca.signer(
        not_before=moment - timedelta(days=400), not_after=moment - timedelta(days=1)
    )
    return pdf_sign(pdf_plain("Expired seal"), identity)


@pytest.fixture(scope="session")
def stranger_pdf(stranger_ca: TestCA) -> bytes:
    return pdf_sign(pdf_plain("Someone else"), stranger_ca.signer("Not a town"))
