"""An organisation keeps its forms in its own repository: it reads a procedure's form as YAML
or JSON through the staff API and writes its own procedures' forms back, with the console's
checks and problems, and nothing of another organisation's."""

from __future__ import annotations

import json

import pytest
import yaml

from madoguchi.audit.models import AuditEvent
from madoguchi.catalog.models import Procedure
from madoguchi.core.time import now
from madoguchi.forms.models import FormVersion
from madoguchi.integrations.tokens import (
    SCOPE_DEFINITION_READ,
    SCOPE_DEFINITION_WRITE,
    SCOPE_READ,
    SCOPE_WRITE,
)
from madoguchi.testing import own_definition
from madoguchi.testing import staff_token as token_for

BASE = "/api/v1/staff/procedures"
FORMS = (SCOPE_DEFINITION_READ, SCOPE_DEFINITION_WRITE)
EXTRA = "- {key: event_date, type: date, label: 参加希望日, required: true}"


def bearer(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def put(client, url: str, body: str | bytes, raw: str, content_type: str = "application/yaml"):
    return client.put(url, body, content_type=content_type, **bearer(raw))


@pytest.fixture
def raw(admin_staff) -> str:
    return token_for(admin_staff, FORMS)


@pytest.fixture
def own(client, raw) -> Procedure:
    response = put(
        client,
        f"{BASE}/by-slug/kominkan/definition",
        own_definition("公民館の利用申込", key="kominkan"),
        raw,
    )
    assert response.status_code == 201, response.content
    return Procedure.objects.get(pk=response.json()["id"])


def test_create_read_and_replace_an_own_form_round_trip(client, raw, own, organisation):
    assert own.organisation == organisation
    assert own.status == "draft"
    assert own.name == "公民館の利用申込"
    got = client.get(f"{BASE}/{own.pk}/definition", **bearer(raw))
    assert got.status_code == 200
    assert got["Content-Type"].startswith("application/yaml")
    assert got["X-Madoguchi-Form-Version"] == "1"
    text = got.content.decode()
    assert "公民館の利用申込" in text  # Japanese as written, not escaped
    assert yaml.safe_load(text) == own.form_version.schema
    as_json = client.get(f"{BASE}/{own.pk}/definition?format=json", **bearer(raw))
    assert as_json.json() == own.form_version.schema
    # Sending back what was read changes nothing (no new version).
    again = put(client, f"{BASE}/{own.pk}/definition", text, raw)
    assert again.status_code == 200, again.content
    assert again.json()["form_version"] == 1
    assert again.json()["changed"] is False
    again = put(client, f"{BASE}/{own.pk}/definition", as_json.content, raw, "application/json")
    assert again.json()["changed"] is False
    # A changed form becomes version 2; the procedure keeps its id and status.
    changed = own_definition("公民館の利用申込", key="kominkan", extra_fields=EXTRA)
    replaced = put(client, f"{BASE}/{own.pk}/definition", changed, raw)
    assert replaced.status_code == 200
    assert replaced.json() == {
        "id": own.pk,
        "slug": "kominkan",
        "name": "公民館の利用申込",
        "status": "draft",
        "form_version": 2,
        "created": False,
        "changed": True,
    }
    saved = AuditEvent.objects.filter(action="procedure.definition_saved", target_id=str(own.pk))
    assert saved.count() == 4
    assert {e.detail["channel"] for e in saved} == {"api"}


def test_a_broken_definition_gets_the_consoles_problems_with_path_and_line(client, raw, own):
    before = own.form_version_id
    broken = own_definition(
        "公民館", key="kominkan", extra_fields="- {key: x, type: nosuchtype, label: 謎}"
    )
    response = put(client, f"{BASE}/{own.pk}/definition", broken, raw)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith("様式に誤りがあります")
    problem = body["errors"][0]
    assert problem["field"].startswith("steps[0].sections[0].fields[2]")
    assert problem["line"] == 13
    assert "nosuchtype" in problem["message"]
    own.refresh_from_db()
    assert own.form_version_id == before


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"", 422, "本文に様式"),
        (b"\xff\xfe\x00garbage", 422, "UTF-8"),
        (b"[1, 2, 3]", 422, ""),
        (b"12", 422, ""),
        (b'"just a string"', 422, ""),
        (b'{"schema_version": "one", "key": 5, "title": [], "steps": {}}', 422, ""),
        (b"a: &x [1]\nb: *x\n", 422, "エイリアス"),
        (b"key: [unclosed", 422, "読めません"),
        (b"x" * (1024 * 1024 + 1), 413, "1MB"),
        (b"[" * 5000 + b"]" * 5000, 422, ""),
    ],
)
def test_hostile_bodies_are_refused_in_japanese_and_change_nothing(
    client, raw, own, body, status, words
):
    forms = FormVersion.objects.count()
    response = put(client, f"{BASE}/{own.pk}/definition", body, raw)
    assert response.status_code == status, response.content[:300]
    data = response.json()
    text = data["detail"] + " ".join(e["message"] for e in data.get("errors") or [])
    assert words in text
    assert any("\u3040" <= ch <= "\u9fff" for ch in text)  # Japanese
    assert FormVersion.objects.count() == forms
    own.refresh_from_db()
    assert own.form_version.version == 1


def test_a_yaml_bomb_is_refused_before_it_grows(client, raw, own):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    response = put(client, f"{BASE}/{own.pk}/definition", bomb, raw)
    assert response.status_code == 422
    assert "エイリアス" in response.json()["errors"][0]["message"]


def test_too_many_fields_or_choices_are_refused(client, raw, own):
    many = "\n".join(f"- {{key: f{i}, type: text, label: 項目{i}}}" for i in range(700))
    response = put(
        client,
        f"{BASE}/{own.pk}/definition",
        own_definition("多すぎ", key="kominkan", extra_fields=many),
        raw,
    )
    assert response.status_code == 422
    assert "多すぎます" in json.dumps(response.json(), ensure_ascii=False)
    choices = ", ".join(f"{{value: c{i}, label: 選択肢{i}}}" for i in range(10_000))
    field = f"- {{key: pick, type: select, label: 選ぶ, options: {{choices: [{choices}]}}}}"
    response = put(
        client,
        f"{BASE}/{own.pk}/definition",
        own_definition("選択肢", key="kominkan", extra_fields=field),
        raw,
    )
    assert response.status_code in (413, 422)
    own.refresh_from_db()
    assert own.form_version.version == 1


def test_hostile_labels_are_kept_as_text_and_returned_as_data(client, raw, own):
    label = "<script>alert(1)</script>\u202e逆"
    field = f'- {{key: evil, type: text, label: "{label}"}}'
    response = put(
        client,
        f"{BASE}/{own.pk}/definition",
        own_definition("公民館", key="kominkan", extra_fields=field),
        raw,
    )
    if response.status_code == 200:
        got = client.get(f"{BASE}/{own.pk}/definition?format=json", **bearer(raw)).json()
        labels = [f["label"] for f in got["steps"][0]["sections"][0]["fields"]]
        assert any("<script>" in text for text in labels)
    else:  # refused: said so, in Japanese, with the place
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"]


@pytest.mark.parametrize("slug", ["A", "1abc", "a" * 65, "ab_c", "日本語", "ab%2Fcd", "ab..cd"])
def test_a_bad_identifier_is_refused(client, raw, slug):
    response = put(client, f"{BASE}/by-slug/{slug}/definition", own_definition("x"), raw)
    assert response.status_code in (404, 422), (slug, response.status_code)
    assert not Procedure.objects.filter(slug=slug).exists()


def test_an_adopted_procedure_is_read_but_not_replaced(client, raw, adopted):
    got = client.get(f"{BASE}/{adopted.pk}/definition?format=json", **bearer(raw))
    assert got.status_code == 200
    assert got.json() == adopted.form_version.schema
    refused = put(client, f"{BASE}/{adopted.pk}/definition", own_definition("x"), raw)
    assert refused.status_code == 409
    by_slug = put(client, f"{BASE}/by-slug/{adopted.slug}/definition", own_definition("x"), raw)
    assert by_slug.status_code == 409
    assert "ひな形" in by_slug.json()["detail"]


def test_scopes_roles_and_other_organisations(client, admin_staff, other_admin, own, staff_member):
    read_only = token_for(admin_staff, [SCOPE_DEFINITION_READ])
    applications = token_for(admin_staff, [SCOPE_READ, SCOPE_WRITE])
    url = f"{BASE}/{own.pk}/definition"
    assert client.get(url).status_code == 401
    assert client.get(url, **bearer(read_only)).status_code == 200
    assert put(client, url, own_definition("x", key="kominkan"), read_only).status_code == 403
    assert client.get(url, **bearer(applications)).status_code == 403
    # Another organisation's admin, with every scope: as if it did not exist.
    theirs = token_for(other_admin, FORMS)
    for response in (
        client.get(url, **bearer(theirs)),
        put(client, url, own_definition("乗っ取り", key="kominkan"), theirs),
    ):
        assert response.status_code == 404
        assert "公民館" not in response.content.decode()
    # By slug, another organisation's identifier is simply its own new procedure.
    mine = put(
        client,
        f"{BASE}/by-slug/kominkan/definition",
        own_definition("鎌倉の公民館", key="kominkan"),
        theirs,
    )
    assert mine.status_code == 201
    own.refresh_from_db()
    assert own.name == "公民館の利用申込"
    assert Procedure.objects.get(pk=mine.json()["id"]).organisation == other_admin.organisation


def test_the_console_openapi_lists_the_definition_endpoints(client, db, settings):
    settings.ROLE = "console"
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/staff/procedures/{procedure_id}/definition" in paths
    assert "put" in paths["/api/v1/staff/procedures/by-slug/{slug}/definition"]
    settings.ROLE = "portal"
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert not any("definition" in p for p in paths)


def test_writes_are_the_consoles_service_and_audited(client, raw, own, admin_staff):
    event = AuditEvent.objects.filter(action="procedure.definition_saved").latest("pk")
    assert event.actor == admin_staff.user
    assert event.organisation == own.organisation
    assert event.detail == {"form_version": 1, "created": True, "channel": "api"}
    assert now() >= event.occurred_at
