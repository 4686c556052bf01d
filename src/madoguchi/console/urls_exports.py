"""Console URLs: exports (included from console/urls.py under the "console" namespace)."""

from django.urls import URLPattern, path

from madoguchi.console import views_exports

urlpatterns: list[URLPattern] = [
    path("exports/", views_exports.exports, name="exports"),
    path("exports/<int:procedure_id>/", views_exports.export, name="export"),
]
