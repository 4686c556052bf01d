"""Console URLs: imports of counts done in other systems (included from console/urls.py under
the "console" namespace)."""

from django.urls import URLPattern, path

from madoguchi.console import views_imports

urlpatterns: list[URLPattern] = [
    path("statistics/imports/", views_imports.imports, name="stats_imports"),
    path("statistics/imports/upload/", views_imports.import_upload, name="stats_import_upload"),
    path(
        "statistics/imports/template.csv",
        views_imports.import_template,
        name="stats_import_template",
    ),
    path(
        "statistics/imports/<int:batch_id>/",
        views_imports.import_detail,
        name="stats_import",
    ),
]
