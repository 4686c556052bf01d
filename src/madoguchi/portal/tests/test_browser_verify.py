"""A landlord on a phone opens /verify/, types a code and uploads a PDF: no JavaScript
needed, no accessibility violations, nothing wider than the screen."""

from __future__ import annotations

import pytest

from madoguchi.core.time import now
from madoguchi.documents.models import Document
from madoguchi.documents.testing import document_record_make
from madoguchi.documents.testsigning import pdf_plain
from madoguchi.tenants.models import Organisation
from madoguchi.testing import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fits(page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_typing_a_code_and_uploading_its_pdf_on_a_phone(page, tmp_path):
    organisation = Organisation.objects.get(lg_code="141003")
    pdf = pdf_plain("Notice")
    document = document_record_make(organisation=organisation, pdf=pdf, now=now())
    Document.objects.filter(pk=document.pk).update(
        number="横こ第12号", issuer="横浜市長　山中 竹春"
    )
    page.set_viewport_size({"width": 375, "height": 800})

    page.goto("/verify/")
    assert axe_violations(page) == []
    page.fill("#id_code", document.code.lower().replace("-", ""))
    page.click("button:has-text('確かめる')")
    assert page.url.endswith(f"/verify/{document.code}")
    assert "この文書は有効です。" in page.content()
    assert "横こ第12号" in page.content()
    assert fits(page)
    assert axe_violations(page) == []

    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf)
    page.goto("/verify/")
    page.set_input_files("#id_pdf", str(path))
    page.click("button:has-text('ファイルを調べる')")
    assert "この窓口が発行した文書です。" in page.content()
    assert fits(page)
    assert axe_violations(page) == []

    page.goto("/verify/ZZZZ-ZZZZ-ZZZZ-ZZZZ")
    assert "この照合番号の文書は見つかりません" in page.content()
    assert axe_violations(page) == []
