"""Anyone — without a login — reads an organisation's register through the API and the public
pages, recomputes the chain from what is published (with the formula the page states, not
with our code) and finds the published head at its length. No verification code is shown."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from madoguchi.documents.publication import register_heads_publish
from madoguchi.documents.testing import document_issue_make

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def documents(organisation):
    docs = [
        document_issue_make(
            organisation=organisation, source_key=f"test:{i}", now=T0 + timedelta(minutes=i)
        )
        for i in range(5)
    ]
    register_heads_publish(now=T0 + timedelta(hours=1))
    return docs


def recompute(lg_code, entries):
    """The chain as the public page describes it: nine lines joined by LF, SHA-256 hex."""
    prev = "0" * 64
    for entry in entries:
        text = "\n".join(
            (
                "madoguchi-register-2",
                lg_code,
                str(entry["seq"]),
                entry["kind"],
                entry["number_sha256"],
                entry["code_sha256"],
                entry["sha256"],
                entry["issued_at"],
                prev,
            )
        )
        assert entry["prev_hash"] == prev
        assert hashlib.sha256(text.encode()).hexdigest() == entry["entry_hash"]
        prev = entry["entry_hash"]
    return prev


def test_anyone_recomputes_the_chain_from_the_api_and_meets_the_published_head(client, documents):
    entries = []
    for page in (1, 2, 3):
        body = client.get(f"/api/v1/register/141003/entries/?per_page=2&page={page}").json()
        assert (body["count"], body["pages"], body["hash_version"]) == (
            5,
            3,
            "madoguchi-register-2",
        )
        entries += body["results"]
    heads = client.get("/api/v1/register/141003/heads/").json()

    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert recompute("141003", entries) == heads["results"][0]["head"]
    assert heads["results"][0]["length"] == 5
    assert heads["results"][0]["day"] == "2026-11-02"
    # the holder of a document finds it by its code and its PDF
    held = documents[2]
    mine = [
        e
        for e in entries
        if e["code_sha256"] == hashlib.sha256(held.code.encode()).hexdigest()
        and e["number_sha256"] == hashlib.sha256(held.number.encode()).hexdigest()
        and e["kind"] == held.kind
        and e["sha256"] == hashlib.sha256(bytes(held.pdf)).hexdigest()
    ]
    assert [e["seq"] for e in mine] == [3]
    assert held.number  # a numbered notice: its number is covered, not published


def test_an_edited_document_number_or_kind_no_longer_matches_its_published_entry(client, documents):
    """What /verify/ shows of a document (its number and kind) is covered by the chain: the
    row edited in the database no longer matches the entry anyone recomputes."""
    from madoguchi.documents.models import Document

    held = documents[1]
    Document.objects.filter(pk=held.pk).update(number="横第999号", kind="certificate")
    entry = client.get("/api/v1/register/141003/entries/").json()["results"][1]

    assert entry["number_sha256"] != hashlib.sha256("横第999号".encode()).hexdigest()
    assert entry["kind"] == "decision_approve"


def test_the_api_publishes_no_code_title_or_name(client, documents):
    body = client.get("/api/v1/register/141003/entries/").content.decode()

    for document in documents:
        assert document.code not in body
        assert document.number not in body
    assert set(client.get("/api/v1/register/141003/entries/").json()["results"][0]) == {
        "seq",
        "kind",
        "kind_label",
        "number_sha256",
        "issued_at",
        "issued_on",
        "code_sha256",
        "sha256",
        "prev_hash",
        "entry_hash",
    }


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/register/999999/entries/", 400),  # no such check digit
        ("/api/v1/register/12/heads/", 400),
        ("/api/v1/register/%3Cb%3E/heads/", 400),
        ("/api/v1/register/141003/entries/?page=0", 422),
        ("/api/v1/register/141003/entries/?per_page=100000", 422),
        ("/api/v1/register/141003/entries/?page=abc", 422),
    ],
)
def test_bad_requests_get_clear_errors(client, documents, url, status):
    response = client.get(url)

    assert response.status_code == status
    assert response.json()["detail"]


def test_a_page_past_the_end_is_empty_and_an_organisation_without_documents_has_none(
    client, documents
):
    assert client.get("/api/v1/register/141003/entries/?page=9").json()["results"] == []
    empty = client.get("/api/v1/register/142042/heads/").json()
    assert (empty["count"], empty["results"]) == (0, [])


def test_the_public_pages_list_the_head_and_the_entries_without_codes(client, documents):
    index = client.get("/register/")
    page = client.get("/register/141003/")

    assert index.status_code == 200
    assert "/register/141003/" in index.content.decode()
    html = page.content.decode()
    assert page.status_code == 200
    assert "madoguchi-register-2" in html  # the formula, in words
    assert "次の9行" in html
    assert hashlib.sha256(documents[4].number.encode()).hexdigest() in html
    assert "記載 5" in html
    assert documents[4].sha256 in html
    for document in documents:
        assert document.code not in html
        assert document.number not in html
    assert client.get("/register/999999/").status_code == 404
    assert client.get("/register/%3Cscript%3E/").status_code == 404
    assert client.get("/register/141003/?page=abc&heads=-1").status_code == 200


def test_the_public_page_shows_an_organisation_before_its_first_head(client, organisation):
    document_issue_make(organisation=organisation, source_key="test:x", now=T0)

    assert "まだ公開していません" in client.get("/register/").content.decode()
    assert "まだ公開していません" in client.get("/register/141003/").content.decode()
