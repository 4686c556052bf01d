"""Staff print an application: the answers, files by name and the 経過, without navigation on
paper; opening the print view is recorded like opening the application."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from madoguchi.audit.models import AuditEvent
from madoguchi.testing import console_login
from madoguchi.testing import submit_named as apply


def test_staff_open_a_print_view_of_an_application(staff_client, staff_member, procedure, resident):
    application = apply(procedure, resident, name=("印刷", "太郎", "インサツ", "タロウ"))
    detail = staff_client.get(reverse("console:application", args=[application.pk]))
    address = reverse("console:application_print", args=[application.pk])
    assert address in detail.content.decode()

    response = staff_client.get(address)
    page = response.content.decode()

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert 'class="print-sheet"' in page
    assert "印刷 太郎" in page
    assert application.receipt_number in page
    assert "到達" in page
    assert "申請者" in page
    history = page[page.index("<h2>経過</h2>") :]
    assert "@" not in history  # who acted: roles and names, never an address
    assert "<form" not in page.split('class="print-sheet"')[1]
    assert AuditEvent.objects.filter(
        action="application.viewed",
        target_id=str(application.pk),
        actor=staff_member.user,
        detail__channel="print",
    ).exists()


def test_another_organisations_staff_cannot_print_it(procedure, resident, other_staff):
    application = apply(procedure, resident)
    client = console_login(Client(), other_staff.user)
    response = client.get(reverse("console:application_print", args=[application.pk]))
    assert response.status_code == 404
    assert application.receipt_number not in response.content.decode()
