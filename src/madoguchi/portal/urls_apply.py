"""Applying, drafts, completion, my page."""

from django.urls import URLPattern

app_name = "apply"

urlpatterns: list[URLPattern] = []
