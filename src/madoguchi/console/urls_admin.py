"""Console URLs: admin (included from console/urls.py under the "console" namespace)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
