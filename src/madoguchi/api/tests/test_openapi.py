"""A developer generates a client from the published OpenAPI document."""

import json


def test_openapi_document_describes_the_organisation_endpoints(client, db):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Madoguchi API"
    assert {
        "/api/v1/organisations/",
        "/api/v1/organisations/counts/",
        "/api/v1/organisations/{code}/",
    } <= set(document["paths"])


def test_openapi_document_promises_the_error_shape(client, db):
    document = client.get("/api/v1/openapi.json").json()

    one = document["paths"]["/api/v1/organisations/{code}/"]["get"]["responses"]
    assert {"200", "400", "404"} <= set(one)
    error = document["components"]["schemas"]["ErrorOut"]
    assert set(error["properties"]) == {"detail", "errors"}
    assert error["required"] == ["detail"]


def test_interactive_docs_are_served(client, db):
    assert client.get("/api/v1/docs").status_code == 200


def test_openapi_document_has_no_duplicated_keys(client, db):
    """Swagger UI parses the document strictly: a key written twice (an int and a str 200 in
    one responses map) makes /api/v1/docs show nothing but a parser error."""
    duplicated: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        keys = [key for key, _ in items]
        duplicated.extend(key for key in set(keys) if keys.count(key) > 1)
        return dict(items)

    json.loads(client.get("/api/v1/openapi.json").content, object_pairs_hook=pairs)
    assert duplicated == []
