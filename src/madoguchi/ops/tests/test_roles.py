"""MADOGUCHI_ROLE (三層の対策): which URLs each role serves, proven over every URL pattern, and
that a staff session is not a login on the portal side."""

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from madoguchi.applications.links import my_page_url
from madoguchi.applications.staff_notices import console_link
from madoguchi.conf.env import SettingError, env_role
from madoguchi.core.roles import reverse_any
from madoguchi.ops.roles import path_served
from madoguchi.testing import console_login, staff_token

URLCONFS = {
    "all": "madoguchi.conf.urls_all",
    "portal": "madoguchi.conf.urls_portal",
    "console": "madoguchi.conf.urls_console",
}


def _flatten(patterns, prefix="", namespace="") -> Iterator[tuple[str, str, str]]:
    """(route, namespace, name) of every pattern, routes joined from the root."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^").rstrip("$").replace("\\Z", "")
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}" if namespace else (pattern.namespace or "")
            if pattern.namespace is None:
                inner = namespace
            yield from _flatten(pattern.url_patterns, route, inner)
        else:
            assert isinstance(pattern, URLPattern)
            yield route, namespace, pattern.name or ""


def _patterns(role):
    return set(_flatten(get_resolver(URLCONFS[role]).url_patterns))


def _side(route, namespace):
    """Which side a pattern belongs to, from what it is (its namespace), not from a list of
    paths: a console page added tomorrow is in the console's namespace."""
    top = namespace.split(":")[0]
    if top in {"console", "admin", "operator-admin"}:
        return "console"
    if top == "api-v1":
        if route.startswith("api/v1/staff/"):
            return "console"
        if route in {"api/v1/", "api/v1/docs", "api/v1/openapi.json"}:
            return "shared"
        return "portal"
    if top == "":
        return "shared"  # healthz, favicon, set_language
    return "portal"


def _sample_path(route):
    """A concrete path with the pattern's prefix (enough for the path guard)."""
    cut = min(
        (i for i in (route.find("<"), route.find("("), route.find("[")) if i >= 0), default=-1
    )
    return "/" + (route if cut < 0 else route[:cut])


def test_every_pattern_belongs_to_one_side_and_each_role_serves_exactly_its_sides():
    every = _patterns("all")
    assert len(every) > 100
    sides = {pattern: _side(pattern[0], pattern[1]) for pattern in every}
    assert set(sides.values()) == {"console", "portal", "shared"}

    assert _patterns("portal") == {p for p, side in sides.items() if side != "console"}
    assert _patterns("console") == {p for p, side in sides.items() if side != "portal"}


def test_the_path_guard_agrees_with_the_url_configuration_for_every_pattern():
    for route, namespace, _name in _patterns("all"):
        side = _side(route, namespace)
        path = _sample_path(route)
        assert path_served("all", path)
        assert path_served("portal", path) == (side != "console"), path
        if side != "portal":
            assert path_served("console", path), path
        elif path != "/":
            assert not path_served("console", path), path
    assert not path_served("console", "/")


def test_the_default_role_is_all_and_a_wrong_role_is_refused_in_both_languages(settings):
    assert settings.ROLE == "all"
    assert env_role({}) == "all"
    assert env_role({"MADOGUCHI_ROLE": " Portal "}) == "portal"
    with pytest.raises(SettingError) as refused:
        env_role({"MADOGUCHI_ROLE": "lgwan"})
    assert "MADOGUCHI_ROLE は all、portal、console のいずれかです" in str(refused.value)
    assert "must be all, portal or console, not 'lgwan'" in str(refused.value)


@pytest.fixture
def role(settings):
    # madoguchi.conf.urls builds its patterns from settings.ROLE when first imported: import
    # it before any role is set, or a role set here would stay in it for the whole session.
    import madoguchi.conf.urls  # noqa: F401

    def use(name):
        settings.ROLE = name
        settings.ROOT_URLCONF = URLCONFS[name]

    return use


STAFF_PAGES = ["/console/", "/console/login/", "/operator-admin/", "/operator-admin/login/"]


@pytest.mark.django_db
def test_the_portal_serves_no_console_no_operator_admin_and_no_staff_api(role, client, admin_staff):
    role("portal")
    token = staff_token(admin_staff)
    for path in STAFF_PAGES:
        assert client.get(path).status_code == 404, path
    for path in ["/api/v1/staff/applications/", "/api/v1/staff/procedures/"]:
        answer = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert answer.status_code == 404, path
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/organisations/?per_page=1").status_code == 200
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_the_console_serves_no_resident_page(role, client, admin_staff):
    role("console")
    for path in ["/", "/search/", "/o/141003/", "/statistics/", "/account/login/", "/verify/"]:
        assert client.get(path).status_code == 404, path
    assert client.get("/api/v1/organisations/").status_code == 404
    assert client.get("/console/login/").status_code == 200
    assert client.get("/healthz").status_code == 200
    token = staff_token(admin_staff)
    answer = client.get("/api/v1/staff/procedures/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 200


@pytest.mark.django_db
def test_role_all_serves_both_sides(role, client):
    role("all")
    assert client.get("/").status_code == 200
    assert client.get("/console/login/").status_code == 200


@pytest.mark.django_db
def test_a_staff_session_is_not_a_login_on_the_portal(role, staff_member):
    browser = console_login(Client(), staff_member.user)
    role("all")
    # One host for both: the resident pages see the staff member and refuse them (403).
    assert browser.get("/mypage/").status_code == 403
    role("portal")
    answer = browser.get("/mypage/")
    assert answer.status_code == 302  # anonymous: to the resident login
    assert answer["Location"].startswith("/account/login/")
    assert answer.wsgi_request.user.is_authenticated is False
    assert browser.get("/api/v1/applications/").status_code == 401
    # The console session itself is untouched: on the console host the staff is still in.
    role("console")
    assert browser.get("/console/").status_code == 200


@pytest.mark.django_db
def test_an_operator_session_is_not_a_login_on_the_portal(role, django_user_model):
    operator = django_user_model.objects.create_superuser("op@example.jp", "x" * 20)
    browser = Client()
    browser.force_login(operator)
    role("portal")
    answer = browser.get("/")
    assert answer.status_code == 200
    assert answer.wsgi_request.user.is_authenticated is False


@pytest.mark.django_db
def test_links_across_roles_go_to_the_other_host(role, settings, staff_member, organisation):
    settings.PORTAL_URL = "https://portal.example.jp"
    settings.CONSOLE_URL = "https://console.lgwan.example"
    browser = console_login(Client(), staff_member.user)
    role("console")
    home = browser.get("/console/").content.decode()
    assert f'href="https://portal.example.jp/o/{organisation.lg_code}/"' in home
    role("portal")
    index = Client().get("/").content.decode()
    assert 'href="https://console.lgwan.example/console/"' in index
    # A 404 page of either side renders (its links reversed across roles).
    assert Client().get("/console/").status_code == 404
    role("console")
    assert Client().get("/o/141003/").status_code == 404


@pytest.mark.parametrize("name", ["portal", "console"])
def test_mail_links_go_to_their_side_whichever_role_builds_them(role, settings, name):
    settings.PORTAL_URL = "https://portal.example.jp"
    settings.CONSOLE_URL = "https://console.lgwan.example"
    role(name)
    assert my_page_url() == "https://portal.example.jp/mypage/"
    assert console_link(reverse_any("console:inbox")) == (
        "https://console.lgwan.example/console/applications/"
    )


@pytest.fixture
def start(tmp_path):
    def run(**environ):
        env = {key: value for key, value in os.environ.items() if not key.startswith("MADOGUCHI_")}
        env["DJANGO_SETTINGS_MODULE"] = "madoguchi.conf.settings"
        env["MADOGUCHI_DATA_DIR"] = str(tmp_path / "data")
        env.update(environ)
        code = "import django; django.setup(); import madoguchi.conf.urls as u; print(len(u.urlpatterns))"
        return subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


def test_a_misconfigured_role_refuses_to_start_and_says_why(start):
    result = start(MADOGUCHI_ROLE="internet")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "MADOGUCHI_ROLE は all、portal、console のいずれかです" in result.stderr


def test_production_portal_starts_without_console_settings(start, tmp_path):
    from cryptography.fernet import Fernet

    result = start(
        MADOGUCHI_ENV="production",
        MADOGUCHI_ROLE="portal",
        MADOGUCHI_SECRET_KEY=os.urandom(48).hex(),
        MADOGUCHI_ALLOWED_HOSTS="madoguchi.example.jp",
        MADOGUCHI_DATABASE_URL=f"sqlite:///{tmp_path / 'p.sqlite3'}",
        MADOGUCHI_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        MADOGUCHI_SMTP_URL="smtp://127.0.0.1:2525",
        MADOGUCHI_VIRUS_SCAN_EXTERNAL="true",
        MADOGUCHI_PORTAL_URL="https://madoguchi.example.jp",
        MADOGUCHI_SEAL_DIR=str(tmp_path / "seal"),
        MADOGUCHI_TSA_URL="http://tsa.example.lg.jp/tsa",
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["group_operator", "platform_operator"])
def test_every_console_account_counts_as_logged_out_on_the_portal(role, django_user_model, kind):
    """Review finding: a shared group's operator (no Staff row) logged in on the console was a
    logged-in resident on the portal."""
    from madoguchi.identity.services import group_operator_upsert
    from madoguchi.tenants.models import Organisation, SharedGroup

    if kind == "group_operator":
        group = SharedGroup.objects.create(
            slug="kanagawa-roles",
            name="神奈川",
            prefecture=Organisation.objects.get(lg_code="140007"),
        )
        user = group_operator_upsert(group=group, email="g@example.jp", password="x" * 20).user
    else:  # is_staff without is_superuser
        user = django_user_model.objects.create_user("p@example.jp", "x" * 20, is_staff=True)
    browser = Client()
    browser.force_login(user)
    role("portal")
    answer = browser.get("/mypage/")
    assert answer.status_code == 302
    assert answer["Location"].startswith("/account/login/")
    assert answer.wsgi_request.user.is_authenticated is False
    role("console")
    assert browser.get("/healthz").wsgi_request.user.is_authenticated is True


def test_the_path_guard_reads_path_info_under_a_script_name_prefix(settings):
    """Installed under a sub-path (SCRIPT_NAME), ``request.path`` carries the prefix; the
    guard must judge the path the URL configuration resolves (``path_info``)."""
    from django.http import Http404, HttpResponse
    from django.test import RequestFactory

    from madoguchi.ops.roles import RoleMiddleware

    settings.ROLE = "portal"
    request = RequestFactory().get("/console/", SCRIPT_NAME="/madoguchi")
    assert request.path == "/madoguchi/console/"
    with pytest.raises(Http404):
        RoleMiddleware(lambda request: HttpResponse("served"))(request)


@pytest.mark.parametrize(
    "environ",
    [{"MADOGUCHI_ROLE": "consol"}, {"MADOGUCHI_DATABASE_URL": "nosuchdb://x"}],
    ids=["role", "database_url"],
)
def test_the_madoguchi_command_says_only_what_setting_is_wrong(tmp_path, environ):
    """Review finding: a wrong setting printed a 35-line traceback before the message."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MADOGUCHI_")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["MADOGUCHI_DATA_DIR"] = str(tmp_path / "data")
    env.update(environ)
    result = subprocess.run(
        [sys.executable, "-m", "madoguchi", "serve", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("設定の誤り (configuration error): MADOGUCHI_")
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


@pytest.mark.django_db
def test_each_role_documents_only_its_own_api_routes(role, client):
    """Review finding: the portal's schema and docs listed the staff routes it does not serve."""
    role("portal")
    portal = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/organisations/" in portal
    assert not [route for route in portal if route.startswith("/api/v1/staff/")]
    role("console")
    console = client.get("/api/v1/openapi.json").json()["paths"]
    assert console
    assert all(route.startswith("/api/v1/staff/") for route in console)
    role("all")
    both = client.get("/api/v1/openapi.json").json()["paths"]
    assert set(both) == set(portal) | set(console)
