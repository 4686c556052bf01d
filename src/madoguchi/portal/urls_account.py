"""Resident accounts: sign-up, e-mail verification, login, password reset, profile."""

from django.urls import URLPattern

app_name = "account"

urlpatterns: list[URLPattern] = []
