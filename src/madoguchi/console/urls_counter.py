"""Console URLs: 窓口・郵送の受付 and 書かない窓口 (included from console/urls.py)."""

from django.urls import URLPattern, path

from madoguchi.console import views_counter as views

urlpatterns: list[URLPattern] = [
    path("counter/", views.counter, name="counter"),
    path("counter/code/", views.counter_code, name="counter_code"),
    path("counter/handoff/<str:handoff>/", views.counter_handoff, name="counter_handoff"),
    path(
        "counter/procedures/<int:procedure_id>/",
        views.counter_register,
        name="counter_register",
    ),
]
