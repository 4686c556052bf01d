from django.urls import path

from madoguchi.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.index, name="index"),
    path("search/", views.search, name="search"),
    path("p/<str:code>/", views.prefecture, name="prefecture"),
    path("o/<str:code>/", views.organisation, name="organisation"),
]
