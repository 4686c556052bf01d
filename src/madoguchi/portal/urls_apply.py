"""Applying, drafts, completion, my page."""

from django.urls import path

from madoguchi.portal import (
    views_apply,
    views_bundle,
    views_lookup,
    views_mypage,
    views_print,
    views_status,
)

app_name = "apply"

_P = "o/<str:code>/procedures/<int:procedure_id>/apply/"

urlpatterns = [
    path(_P + "start/", views_apply.start, name="start"),
    path(_P, views_apply.form, name="form"),
    path(_P + "live/", views_apply.live, name="live"),
    path(_P + "confirm/", views_apply.confirm, name="confirm"),
    path(_P + "confirm/canonical/", views_apply.canonical_download, name="canonical"),
    path(_P + "confirm/signature/", views_apply.signature_upload, name="signature"),
    path(_P + "discard/", views_apply.draft_discard, name="discard"),
    path(_P + "guest/", views_apply.guest_email, name="guest_email"),
    path(_P + "guest/<str:token>/", views_apply.guest_confirm, name="guest_confirm"),
    path("applications/<str:receipt_number>/done/", views_apply.complete, name="complete"),
    path(
        "applications/<str:receipt_number>/receipt.pdf",
        views_apply.receipt_pdf,
        name="receipt_pdf",
    ),
    path(
        "life-events/<slug:slug>/o/<str:code>/apply/",
        views_bundle.checklist,
        name="life_event_apply",
    ),
    path("status/<str:token>/", views_status.guest_status, name="guest_status"),
    path(
        "status/<str:token>/documents/<int:document_id>.pdf",
        views_status.guest_document,
        name="guest_document",
    ),
    path("mypage/", views_mypage.index, name="mypage"),
    path(
        "mypage/drafts/<uuid:draft_id>/counter/",
        views_mypage.draft_counter,
        name="mypage_draft_counter",
    ),
    path("mypage/<str:receipt_number>/", views_mypage.detail, name="mypage_detail"),
    path("mypage/<str:receipt_number>/correct/", views_mypage.correct, name="mypage_correct"),
    path(
        "mypage/<str:receipt_number>/print/",
        views_print.application_print,
        name="mypage_print",
    ),
    path(
        "mypage/<str:receipt_number>/documents/<int:document_id>.pdf",
        views_mypage.document_pdf,
        name="mypage_document",
    ),
    path("mypage/<str:receipt_number>/withdraw/", views_mypage.withdraw, name="mypage_withdraw"),
    path("apply/lookup/bank/", views_lookup.bank_lookup, name="bank_lookup"),
]
