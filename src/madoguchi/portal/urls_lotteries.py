from django.urls import path

from madoguchi.portal import views_lotteries

app_name = "lotteries"

urlpatterns = [
    path("o/<str:code>/lotteries/", views_lotteries.lottery_list, name="list"),
    path("o/<str:code>/lotteries/<int:lottery_id>/", views_lotteries.lottery_page, name="detail"),
    path(
        "o/<str:code>/lotteries/<int:lottery_id>/published.json",
        views_lotteries.lottery_json,
        name="json",
    ),
    path(
        "o/<str:code>/lotteries/<int:lottery_id>/enter/",
        views_lotteries.lottery_entry_form,
        name="enter",
    ),
    path("mypage/lotteries/", views_lotteries.my_entries, name="mine"),
    path(
        "mypage/lotteries/<int:entry_id>/withdraw/",
        views_lotteries.entry_withdraw,
        name="withdraw",
    ),
]
