"""A load balancer asks whether the platform can serve."""


def test_healthz_says_ok_when_the_database_answers(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["database"]["vendor"] in {"sqlite", "postgresql"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_only_answers_get(client, db):
    assert client.post("/healthz").status_code == 405


def test_the_favicon_browsers_ask_for_is_there(client, db):
    answer = client.get("/favicon.ico")
    assert answer.status_code == 301
    assert answer["Location"].endswith("favicon.svg")
