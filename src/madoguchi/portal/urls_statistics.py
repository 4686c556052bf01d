"""Public statistics: /statistics/ (national), /statistics/prefectures/<nn>/,
/statistics/organisations/<lg_code>/, and each table as open data at a stable URL
(``<fiscal year>.csv`` UTF-8 with BOM, ``-sjis.csv``, ``.xlsx``, ``.json``)."""

from django.urls import path, re_path

from madoguchi.portal import views_statistics as views

app_name = "statistics"

# A file name: the fiscal year and the format, e.g. 2025.csv, 2025-sjis.csv, 2025.xlsx.
FILE = r"(?P<file>[0-9]{4}(?:\.csv|-sjis\.csv|\.xlsx|\.json))"

urlpatterns = [
    path("", views.national, name="national"),
    re_path(rf"^national/{FILE}$", views.national_file, name="national_file"),
    re_path(rf"^deployment/{FILE}$", views.deployment_file, name="deployment_file"),
    path("prefectures/<str:code>/", views.prefecture, name="prefecture"),
    re_path(
        rf"^prefectures/(?P<code>[0-9]{{2}})/deployment/{FILE}$",
        views.deployment_file,
        name="prefecture_deployment_file",
    ),
    re_path(
        rf"^prefectures/(?P<code>[0-9]{{2}})/{FILE}$",
        views.prefecture_file,
        name="prefecture_file",
    ),
    path("organisations/<str:code>/", views.organisation, name="organisation"),
    re_path(
        rf"^organisations/(?P<code>[0-9]{{6}})/{FILE}$",
        views.organisation_file,
        name="organisation_file",
    ),
]
