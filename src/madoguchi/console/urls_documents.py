"""Console URLs: the organisation admin's document pages (included from console/urls.py)."""

from django.urls import URLPattern, path

from madoguchi.console import views_document_settings as views_documents

urlpatterns: list[URLPattern] = [
    path("documents/", views_documents.documents, name="documents"),
    path("documents/settings/", views_documents.document_settings, name="documents_settings"),
    path(
        "documents/settings/procedures/<int:procedure_id>/",
        views_documents.procedure_settings,
        name="documents_procedure_settings",
    ),
    path("documents/numbers/", views_documents.numbers, name="documents_numbers"),
    path("documents/numbers/void/", views_documents.number_void, name="documents_number_void"),
]
