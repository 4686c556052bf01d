"""The openssl-built JPKI test PKI (once per session) and the settings that trust it."""

from __future__ import annotations

from typing import Any

import pytest

from madoguchi.identity.signatures.tests.pki import Pki, build


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return build(tmp_path_factory.mktemp("jpki"))


@pytest.fixture
def trusted(pki: Pki, settings: Any) -> Pki:
    """The J-LIS-named root is the installation's trust anchor; no verification API."""
    settings.JPKI_TRUST_ANCHORS = str(pki.jlis.certificate)
    settings.JPKI_VERIFY_URL = ""
    settings.JPKI_VERIFY_TOKEN = ""
    return pki
