"""Console URLs: review (included from console/urls.py under the "console" namespace)."""

from django.urls import URLPattern, path

from madoguchi.console import views_attachments, views_documents, views_duplicates, views_print
from madoguchi.console import views_review as views

urlpatterns: list[URLPattern] = [
    path("applications/", views.inbox, name="inbox"),
    path("applications/bulk/", views.applications_bulk, name="applications_bulk"),
    path("applications/<int:application_id>/", views.application_detail, name="application"),
    path(
        "applications/<int:application_id>/transition/",
        views.application_transition_view,
        name="application_transition",
    ),
    path(
        "applications/<int:application_id>/correction/",
        views.application_correction,
        name="application_correction",
    ),
    path(
        "applications/<int:application_id>/messages/",
        views.application_message,
        name="application_message",
    ),
    path(
        "applications/<int:application_id>/notes/",
        views.application_note,
        name="application_note",
    ),
    path(
        "applications/<int:application_id>/assign/",
        views.application_assign_view,
        name="application_assign",
    ),
    path(
        "applications/<int:application_id>/reveal/",
        views.application_reveal,
        name="application_reveal",
    ),
    path(
        "applications/<int:application_id>/decide/",
        views.application_decide_view,
        name="application_decide",
    ),
    path(
        "applications/<int:application_id>/signoff/",
        views.application_signoff_view,
        name="application_signoff",
    ),
    path(
        "applications/<int:application_id>/documents/<int:document_id>/",
        views.document_pdf,
        name="document_pdf",
    ),
    path(
        "applications/<int:application_id>/documents/<int:document_id>/withdraw/",
        views_documents.document_withdraw_view,
        name="document_withdraw",
    ),
    path(
        "applications/<int:application_id>/documents/<int:document_id>/correct/",
        views_documents.document_correct_view,
        name="document_correct",
    ),
    path(
        "applications/<int:application_id>/duplicates/",
        views_duplicates.application_duplicate_resolve,
        name="application_duplicate_resolve",
    ),
    path(
        "applications/<int:application_id>/attachments/<uuid:attachment_id>/view/",
        views_attachments.attachment_view,
        name="attachment_view",
    ),
    path(
        "applications/<int:application_id>/attachments/<uuid:attachment_id>/download/",
        views_attachments.attachment_download,
        name="attachment_download",
    ),
    path(
        "applications/<int:application_id>/print/",
        views_print.application_print,
        name="application_print",
    ),
    path("decision-templates/", views.decision_templates, name="decision_templates"),
]
