"""Console URLs: lotteries (to be included from console/urls.py, "console" namespace)."""

from django.urls import URLPattern, path

from madoguchi.console import views_lotteries

urlpatterns: list[URLPattern] = [
    path("lotteries/", views_lotteries.lottery_list, name="lotteries"),
    path("lotteries/new/", views_lotteries.lottery_new, name="lottery_new"),
    path("lotteries/<int:lottery_id>/", views_lotteries.lottery_detail, name="lottery"),
    path("lotteries/<int:lottery_id>/draw/", views_lotteries.lottery_draw_run, name="lottery_draw"),
]
