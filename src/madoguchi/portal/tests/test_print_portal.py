"""A resident prints their own application (申請の控え) from my page: the answers, without
navigation on paper; another resident and a visitor without login see nothing of it."""

from __future__ import annotations

import re
from pathlib import Path

from django.test import Client

from madoguchi.testing import resident_create as make_resident
from madoguchi.testing import submit_named as apply

CSS = Path(__file__).resolve().parents[2] / "core" / "static" / "madoguchi" / "madoguchi.css"


def test_my_application_has_a_print_view_with_its_answers(client, procedure):
    resident = make_resident("print@example.jp", verified=True)
    application = apply(procedure, resident, name=("印刷", "花子", "インサツ", "ハナコ"))
    client.force_login(resident)

    detail = client.get(f"/mypage/{application.receipt_number}/").content.decode()
    assert f"/mypage/{application.receipt_number}/print/" in detail

    response = client.get(f"/mypage/{application.receipt_number}/print/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert application.receipt_number in page
    assert "印刷 花子" in page
    assert 'class="print-sheet"' in page
    assert "print.js" in page  # the button needs a script of our own (the CSP allows no inline)
    assert "Ctrl+P" in page  # and without JavaScript the page says how to print


def test_the_print_view_is_nobody_elses(procedure):
    resident = make_resident("print@example.jp", verified=True)
    application = apply(procedure, resident)
    other = Client()
    other.force_login(make_resident("other@example.jp", verified=True))
    assert other.get(f"/mypage/{application.receipt_number}/print/").status_code == 404
    visitor = Client().get(f"/mypage/{application.receipt_number}/print/")
    assert visitor.status_code == 302
    assert application.receipt_number not in visitor.content.decode()


def test_the_print_stylesheet_hides_navigation_and_forms():
    css = CSS.read_text(encoding="utf-8")
    blocks = re.findall(r"@media print \{(.*?)\n\}", css, flags=re.S)
    printed = "\n".join(blocks)
    for selector in (".site-header", ".site-footer", ".breadcrumbs", ".print-hide", "form"):
        assert selector in printed
    assert "@page" in printed
