"""Every role's URLs plus a view that fails with an applicant's answers in its message."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from madoguchi.conf.urls import patterns_for

SECRET_IN_ERROR: dict[str, str] = {}


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(f"could not handle the answers {SECRET_IN_ERROR}")


urlpatterns = [path("boom/", boom), *patterns_for("all")]
