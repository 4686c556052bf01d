"""Console URLs: 様式の作成（フォームビルダー） (included from console/urls.py, "console")."""

from django.urls import URLPattern, path

from madoguchi.console import views_builder

urlpatterns: list[URLPattern] = [
    path("builder/", views_builder.drafts, name="drafts"),
    path("builder/<int:draft_id>/", views_builder.draft_editor, name="draft"),
    path("builder/<int:draft_id>/edit/", views_builder.draft_edit, name="draft_edit"),
    path("builder/<int:draft_id>/preview/", views_builder.draft_preview, name="draft_preview"),
    path(
        "builder/<int:draft_id>/preview/live/",
        views_builder.draft_preview_live,
        name="draft_preview_live",
    ),
    path("builder/<int:draft_id>/export/", views_builder.draft_export, name="draft_export"),
    path("builder/<int:draft_id>/import/", views_builder.draft_import, name="draft_import"),
    path("builder/<int:draft_id>/publish/", views_builder.draft_publish, name="draft_publish"),
    path("builder/<int:draft_id>/delete/", views_builder.draft_delete, name="draft_delete"),
]
