from django.urls import include, path

from madoguchi.portal import views, views_statistics_categories, views_testers

app_name = "portal"

urlpatterns = [
    path("", views.index, name="index"),
    # Public verification of issued documents (no login): before every catch-all below.
    path("verify/", include("madoguchi.portal.urls_verify")),
    path("search/", views.search, name="search"),
    path("p/<str:code>/", views.prefecture, name="prefecture"),
    path("o/<str:code>/", views.organisation, name="organisation"),
    path("g/<slug:slug>/", views.group, name="group"),
    path("o/<str:code>/procedures/<int:procedure_id>/", views.procedure, name="procedure"),
    path("life-events/<slug:slug>/", views.life_event, name="life_event"),
    path(
        "statistics/categories/",
        views_statistics_categories.categories_page,
        name="statistics_categories",
    ),
    path(
        "statistics/categories.json",
        views_statistics_categories.categories_json,
        name="statistics_categories_json",
    ),
    path("testers/<str:token>/", views_testers.tester_accept, name="tester_accept"),
    path("account/", include("madoguchi.portal.urls_account")),
    path("", include("madoguchi.portal.urls_register")),
    # Before urls_apply: its mypage/<receipt number>/ would take mypage/events/.
    path("", include("madoguchi.portal.urls_registrations")),
    path("", include("madoguchi.portal.urls_facilities")),
    # before urls_apply, whose mypage/<receipt number>/ would take mypage/lotteries/
    path("", include("madoguchi.portal.urls_lotteries")),
    path("", include("madoguchi.portal.urls_apply")),
    path("", include("madoguchi.portal.urls_facility_log")),
]
