"""Portal URLs: the public register of issued documents (included from portal/urls.py)."""

from django.urls import URLPattern, path

from madoguchi.portal import views_register

urlpatterns: list[URLPattern] = [
    path("register/", views_register.register_index, name="register"),
    path(
        "register/<str:code>/", views_register.register_organisation, name="register_organisation"
    ),
]
