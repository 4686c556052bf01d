"""A foreign resident reads the portal's chrome in English; everyone else keeps Japanese.

Japanese is the source language and the default. English comes from the committed catalogue
(locale/en/LC_MESSAGES/django.po, compiled to django.mo); content from data — organisation and
procedure names, texts of the national templates — stays as written.
"""

from __future__ import annotations

import gettext
import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import translation
from django.utils.encoding import iri_to_uri

from madoguchi.applications.publishing import procedure_set_status
from madoguchi.catalog.constants import AssuranceLevel, ProcedureStatus
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.presentation import LEVEL_TEXT, procedure_guide
from madoguchi.catalog.selectors import template_version_get
from madoguchi.catalog.services import procedure_adopt
from madoguchi.core.time import now
from madoguchi.tenants.models import Organisation
from madoguchi.testing import axe_violations

PACKAGE = Path(settings.BASE_DIR)
LOCALE = PACKAGE / "locale"
PO = LOCALE / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
SETLANG = "/i18n/setlang/"


@pytest.fixture(autouse=True)
def _japanese_again_afterwards() -> Iterator[None]:
    # A request activates its language for the thread and nothing switches it back; later
    # tests in this thread must see the default (Japanese) again.
    yield
    translation.deactivate()


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match, "the language switch carries a CSRF token"
    return match.group(1)


def switch_language(client: Client, language: str, *, next_url: str = "/") -> Any:
    """Use the header's form as a browser would: read the page, post its token."""
    page = client.get(next_url).content.decode()
    return client.post(
        SETLANG,
        {"language": language, "next": next_url, "csrfmiddlewaretoken": csrf_token(page)},
    )


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def juminhyo(organisation: Organisation) -> Procedure:
    """横浜市's published 住民票の写し等の交付請求."""
    item = procedure_adopt(
        organisation=organisation, template_version=template_version_get(slug="juminhyo"), now=now()
    )
    return procedure_set_status(
        organisation=organisation, procedure=item, status=ProcedureStatus.PUBLISHED
    )


def is_japanese(page: str) -> bool:
    return (
        '<html lang="ja">' in page
        and "本文へ移動" in page
        and "Skip to main content" not in page
        and '<button class="button button--link" type="submit" name="language" value="en" lang="en">English</button>'
        in page
    )


def is_english(page: str) -> bool:
    return (
        '<html lang="en">' in page
        and "Skip to main content" in page
        and "本文へ移動" not in page
        and '<button class="button button--link" type="submit" name="language" value="ja" lang="ja">日本語</button>'
        in page
    )


# --- Choosing the language -------------------------------------------------------------------


def test_the_portal_is_japanese_by_default(client, db):
    page = text(client.get("/"))

    assert is_japanese(page)
    assert "<h1>行政の手続を、オンラインで</h1>" in page
    assert '<input type="hidden" name="next" value="/">' in page
    assert f'action="{SETLANG}"' in page


def test_switching_to_english_and_back_with_the_headers_form(csrf_client, db):
    response = switch_language(csrf_client, "en", next_url="/search/?q=よこはま")

    assert response.status_code == 302
    assert response["Location"] == iri_to_uri("/search/?q=よこはま")
    page = text(csrf_client.get("/"))
    assert is_english(page)
    assert "<h1>Government procedures, online</h1>" in page
    assert "<h2>Choose by prefecture</h2>" in page
    assert '<label for="q">Search by procedure or local government name</label>' in page
    assert "open source, EUPL-1.2" in page.split("<footer")[1]
    # Data stays as written: prefectures are listed by their Japanese names.
    assert ">神奈川県</a>" in page

    assert switch_language(csrf_client, "ja").status_code == 302
    assert is_japanese(text(csrf_client.get("/")))


def test_the_choice_carries_over_to_every_portal_page(client, db):
    switch_language(client, "en")

    search = text(client.get("/search/?q=よこはま"))
    assert is_english(search)
    assert "<title>Search results for “よこはま” | Madoguchi online applications</title>" in search
    assert "横浜市" in search
    prefecture = text(client.get("/p/13/"))
    assert is_english(prefecture)
    assert 'aria-label="You are here"' in prefecture
    assert ">National top page</a>" in prefecture
    organisation = text(client.get("/o/141003/"))
    assert "<dt>Local government code</dt><dd>141003</dd>" in organisation
    assert "<h1>横浜市</h1>" in organisation
    not_found = client.get("/o/999999/")
    assert not_found.status_code == 404
    assert is_english(text(not_found))


def test_the_browsers_accept_language_picks_english(client, db):
    for header in ["en", "en-US,en;q=0.9", "en-GB, ja;q=0.5"]:
        assert is_english(text(client.get("/", headers={"accept-language": header}))), header
    assert is_japanese(text(client.get("/", headers={"accept-language": "ja-JP,en;q=0.5"})))


def test_a_chosen_language_wins_over_accept_language(client, db):
    switch_language(client, "ja")

    assert is_japanese(text(client.get("/", headers={"accept-language": "en"})))


@pytest.mark.parametrize(
    "language", ["xx", "fr", "EN-gb-x-<script>", "ja\x00en", "e" * 500, "", "../../etc"]
)
def test_an_unknown_language_is_ignored(csrf_client, db, language):
    response = switch_language(csrf_client, language)

    assert response.status_code == 302
    # Django stores a code it has its own catalogue for (fr), but only LANGUAGES are served.
    if language != "fr":
        assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert is_japanese(text(csrf_client.get("/")))


@pytest.mark.parametrize("header", ["xx", "fr-FR,de;q=0.9", "*", "xx;q=abc", "ja" * 300, "\x00"])
def test_an_unknown_or_broken_accept_language_falls_back_to_japanese(client, db, header):
    response = client.get("/", headers={"accept-language": header})

    assert response.status_code == 200
    assert is_japanese(text(response))


def test_a_forged_language_cookie_is_ignored(client, db):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "xx-<script>"

    page = text(client.get("/"))

    assert is_japanese(page)
    assert "xx-" not in page


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/",
        "http://evil.example/o/141003/",
        "javascript:alert(1)",
        "\\\\evil.example",
        "https:///evil.example",
    ],
)
def test_next_to_another_host_is_not_followed(csrf_client, db, next_url):
    page = csrf_client.get("/").content.decode()

    response = csrf_client.post(
        SETLANG,
        {"language": "en", "next": next_url, "csrfmiddlewaretoken": csrf_token(page)},
        headers={"referer": next_url},
    )

    assert response.status_code == 302
    assert response["Location"] == "/"
    # The language is still switched: only the redirect is refused.
    assert is_english(text(csrf_client.get("/")))


def test_the_switch_needs_the_forms_csrf_token(csrf_client, db):
    response = csrf_client.post(SETLANG, {"language": "en", "next": "/"})

    assert response.status_code == 403
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_the_switch_is_a_post_form_a_get_changes_nothing(client, db):
    response = client.get(SETLANG, {"language": "en", "next": "/"})

    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert is_japanese(text(client.get("/")))


# --- What is translated, and what is not ----------------------------------------------------


def test_a_procedure_page_in_english_keeps_the_procedures_own_words(client, juminhyo):
    url = f"/o/141003/procedures/{juminhyo.pk}/"
    japanese = text(client.get(url))
    assert "<h2>申請の前に</h2>" in japanese
    assert "<h1>住民票の写し等の交付請求</h1>" in japanese
    assert "レベル3（マイナンバーカード）。マイナンバーカードで本人確認をします" in japanese

    switch_language(client, "en", next_url=url)
    page = text(client.get(url))

    assert is_english(page)
    for heading in ["Before you apply", "What you need", "What you will enter"]:
        assert f"<h2>{heading}</h2>" in page
    assert "<dt>Identity check</dt>" in page
    assert "Level 3 (My Number Card). Your identity is checked with your My Number Card" in page
    assert "An electronic signature with your My Number Card is required." in page
    assert "(if applicable)" in page
    # The procedure's name and field labels come from the template: still Japanese.
    assert "<h1>住民票の写し等の交付請求</h1>" in page
    assert "住民票の写し等の交付請求" in page.split("<title>")[1].split("</title>")[0]
    assert "申請の前に" not in page


def test_the_guides_sentences_follow_the_active_language(juminhyo):
    with translation.override("ja"):
        japanese = procedure_guide(juminhyo)
    with translation.override("en"):
        english = procedure_guide(juminhyo)

    assert juminhyo.signature_required
    assert japanese.signature == "マイナンバーカードによる電子署名が必要です。"
    assert english.signature == "An electronic signature with your My Number Card is required."
    assert english.identity == (
        "Level 3 (My Number Card). "
        "Your identity is checked with your My Number Card. Have the card and its signing "
        "password (6 to 16 letters and digits) ready."
    )
    assert english.steps == japanese.steps  # field labels are the template's data


def test_the_levels_in_the_guide_say_what_the_model_choices_say():
    with translation.override("ja"):
        assert {level: str(text) for level, text in LEVEL_TEXT.items()} == {
            level: level.label for level in AssuranceLevel
        }


def test_error_pages_are_translated_too(client, db):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    page = text(client.get("/no-such-page/"))

    assert "<h1>Page not found</h1>" in page
    assert '<html lang="en">' in page


# --- The catalogue itself ---------------------------------------------------------------------


def _unquote(literal: str) -> str:
    body = literal.strip()
    assert body[0] == body[-1] == '"', body
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}
    return re.sub(r"\\(.)", lambda m: escapes[m.group(1)], body[1:-1])


def read_po(path: Path) -> tuple[dict[Any, str], list[str]]:
    """The messages of a .po file, keyed as GNUTranslations keys them, and the fuzzy ones.

    A small reader for what makemessages writes (msgctxt, msgid, msgid_plural, msgstr[n],
    continuation lines, comments, obsolete #~ entries) — enough to check our own catalogue.
    """
    messages: dict[Any, str] = {}
    fuzzy: list[str] = []
    entry: dict[str, Any] = {}
    flags: list[str] = []
    field = ""

    def finish() -> None:
        if "msgid" not in entry:
            return
        msgid = entry["msgid"]
        if "msgctxt" in entry:
            msgid = f"{entry['msgctxt']}\x04{msgid}"
        if "fuzzy" in flags and entry["msgid"]:
            fuzzy.append(msgid)
        if "msgid_plural" in entry:
            for n, value in sorted(entry["plural"].items()):
                messages[(msgid, n)] = value
        else:
            messages[msgid] = entry.get("msgstr", "")

    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        complete = "msgstr" in entry or "plural" in entry
        starts_entry = line.startswith(("#", "msgctxt ", "msgid "))
        if not line.strip() or line.startswith("#~") or (complete and starts_entry):
            finish()
            entry, flags, field = {}, [], ""
        if not line.strip() or line.startswith("#~"):
            continue
        if line.startswith("#,"):
            flags += [flag.strip() for flag in line[2:].split(",")]
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            if field.startswith("msgstr["):
                n = int(field[7:-1])
                entry["plural"][n] += _unquote(line)
            else:
                entry[field] += _unquote(line)
        else:
            field, _, value = line.partition(" ")
            if field.startswith("msgstr["):
                entry.setdefault("plural", {})[int(field[7:-1])] = _unquote(value)
            else:
                entry[field] = _unquote(value)
    return messages, fuzzy


def test_the_compiled_catalogue_is_the_po_file():
    """django.mo is committed (a fresh machine may lack gettext): it must match the .po.

    On failure run `make messages` (or `msgfmt -o django.mo django.po` in the same folder).
    """
    po, _ = read_po(PO)
    with MO.open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)._catalog  # type: ignore[attr-defined]

    assert set(compiled) == set(po), "msgids differ between django.po and django.mo"
    # msgfmt leaves POT-Creation-Date out of the compiled header.
    po[""] = re.sub(r"^POT-Creation-Date: .*\n", "", po[""], flags=re.MULTILINE)
    different = [key for key in po if compiled[key] != po[key]]
    assert different == [], "translations differ between django.po and django.mo"


def test_every_message_has_an_english_translation():
    po, fuzzy = read_po(PO)

    assert len(po) > 50
    assert fuzzy == [], "fuzzy entries are not compiled: check them and remove the flag"
    untranslated = [key for key, value in po.items() if key != "" and not value.strip()]
    assert untranslated == []
    assert "Language: en" in po[""]


def test_translations_keep_placeholders_and_markup():
    po, _ = read_po(PO)

    for key, value in po.items():
        msgid = key.split("\x04")[-1] if isinstance(key, str) else key[0]
        placeholders = re.compile(r"%\((\w+)\)s")
        assert set(placeholders.findall(value)) == set(placeholders.findall(msgid)), key
        assert re.findall(r"</?\w+", value) == re.findall(r"</?\w+", msgid), key


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="gettext (xgettext) not installed")
def test_the_po_file_has_every_marked_string(tmp_path, monkeypatch):
    """Nothing marked for translation is missing from the catalogue (run `make messages`).

    makemessages runs on a copy of the sources so that the committed .po is never touched.
    """
    copy = tmp_path / "madoguchi"
    shutil.copytree(
        PACKAGE,
        copy,
        ignore=lambda folder, names: [
            name
            for name in names
            if name in {"locale", "__pycache__", "node_modules", "static", "national"}
            or (Path(folder, name).is_file() and not name.endswith((".py", ".html", ".txt")))
        ],
    )
    (copy / "locale").mkdir()
    monkeypatch.chdir(copy)
    monkeypatch.setattr(settings, "LOCALE_PATHS", [copy / "locale"])

    call_command("makemessages", locale=["en"], verbosity=0)

    extracted, _ = read_po(copy / "locale" / "en" / "LC_MESSAGES" / "django.po")
    committed, _ = read_po(PO)
    assert sorted(set(extracted) - set(committed)) == []
    assert sorted(set(committed) - set(extracted)) == []


# --- In a real browser -----------------------------------------------------------------------


@pytest.mark.browser
def test_a_keyboard_user_switches_to_english_and_the_pages_stay_accessible(page, juminhyo):
    page.goto("/")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "English":
            break
    assert page.evaluate("document.activeElement.getAttribute('lang')") == "en"
    page.keyboard.press("Enter")
    page.wait_for_selector("html[lang='en']")

    assert page.locator("h1").inner_text() == "Government procedures, online"
    assert axe_violations(page) == []

    page.goto(f"/o/141003/procedures/{juminhyo.pk}/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Before you apply").count() == 1
    assert axe_violations(page) == []


@pytest.mark.browser
def test_the_language_switch_works_without_javascript(browser, live_server):
    if not Organisation.objects.exists():
        from madoguchi.tenants.services import organisation_master_load

        organisation_master_load(now=now())
    context = browser.new_context(
        java_script_enabled=False, locale="ja-JP", base_url=live_server.url
    )
    no_js = context.new_page()
    no_js.goto("/p/14/")
    assert no_js.locator("html").get_attribute("lang") == "ja"
    no_js.get_by_role("button", name="English").click()
    no_js.wait_for_selector("html[lang='en']")

    assert no_js.url.endswith("/p/14/")
    no_js.get_by_role("button", name="日本語").click()
    no_js.wait_for_selector("html[lang='ja']")
    context.close()
