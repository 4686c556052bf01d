"""The organisation admin's page for JPKI revocation: upload a CRL, see it, choose the method."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from madoguchi.identity.models import JpkiCrl, JpkiSettings


def test_admin_uploads_a_crl_and_sees_it(trusted, admin_client, organisation):
    response = admin_client.post(
        reverse("console:admin_jpki_crl"),
        {"crl_file": SimpleUploadedFile("jpki.crl", trusted.jlis.crl("console"))},
    )
    assert response.status_code == 302

    page = admin_client.get(reverse("console:admin_jpki")).content.decode()

    assert "JPKI for digital signature" in page
    assert "1件" in page
    assert JpkiCrl.objects.filter(organisation=organisation).count() == 1


def test_a_bad_crl_is_refused_with_a_message(trusted, admin_client, organisation):
    for data in (trusted.other.crl("wrong"), b"garbage", trusted.jlis.crl("cut")[:100]):
        response = admin_client.post(
            reverse("console:admin_jpki_crl"), {"crl_file": SimpleUploadedFile("x.crl", data)}
        )
        assert response.status_code == 400
        assert "失効リスト" in response.content.decode()
    response = admin_client.post(reverse("console:admin_jpki_crl"), {})
    assert response.status_code == 400
    assert not JpkiCrl.objects.exists()


def test_admin_chooses_the_method(admin_client, organisation):
    page = admin_client.get(reverse("console:admin_jpki")).content.decode()
    assert "失効リスト（CRL）を団体で取り込む" in page

    response = admin_client.post(reverse("console:admin_jpki_revocation"), {"revocation": "api"})

    assert response.status_code == 302
    assert JpkiSettings.objects.get(organisation=organisation).revocation == "api"
    bad = admin_client.post(reverse("console:admin_jpki_revocation"), {"revocation": "ocsp"})
    assert bad.status_code == 400


def test_a_reviewer_may_not_use_the_page(staff_client):
    assert staff_client.get(reverse("console:admin_jpki")).status_code == 403


def test_the_page_names_the_trusted_authorities_and_says_when_none_is(
    trusted, admin_client, settings
):
    page = admin_client.get(reverse("console:admin_jpki")).content.decode()
    assert "信頼する認証局" in page
    assert "JPKI for digital signature" in page.split("信頼する認証局")[1]

    settings.JPKI_TRUST_ANCHORS = ""
    settings.PRODUCTION = True  # no test CA either
    page = admin_client.get(reverse("console:admin_jpki")).content.decode()
    assert "信頼する認証局が設定されていないため" in page


def test_the_console_menu_leads_admins_to_the_page(admin_client, staff_client):
    assert (
        reverse("console:admin_jpki") in admin_client.get(reverse("console:home")).content.decode()
    )
    assert (
        reverse("console:admin_jpki")
        not in staff_client.get(reverse("console:home")).content.decode()
    )
