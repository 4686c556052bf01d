"""An operator starts the platform in production: unsafe settings are refused, by name."""

import secrets
from typing import Any

import pytest

from madoguchi.conf.env import ProductionCheck, production_problems

SAFE: dict[str, Any] = {
    "debug": False,
    "secret_key_from_env": secrets.token_urlsafe(64),
    "allowed_hosts": ["example.jp"],
    "tls": True,
    "database_url": "postgres://madoguchi@db.example.jp/madoguchi",
}


def problems(**changes: Any) -> list[str]:
    return production_problems(ProductionCheck(**{**SAFE, **changes}))


def test_safe_settings_have_no_problems():
    assert problems() == []


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"debug": True}, "MADOGUCHI_DEBUG"),
        ({"secret_key_from_env": None}, "MADOGUCHI_SECRET_KEY"),
        ({"secret_key_from_env": ""}, "MADOGUCHI_SECRET_KEY"),
        ({"secret_key_from_env": "short-secret"}, "MADOGUCHI_SECRET_KEY"),
        ({"secret_key_from_env": "ab" * 40}, "MADOGUCHI_SECRET_KEY"),  # long, but too simple
        ({"allowed_hosts": []}, "MADOGUCHI_ALLOWED_HOSTS"),
        ({"allowed_hosts": ["*"]}, "MADOGUCHI_ALLOWED_HOSTS"),
        ({"allowed_hosts": ["example.jp", "*"]}, "MADOGUCHI_ALLOWED_HOSTS"),
        ({"tls": False}, "MADOGUCHI_TLS"),
        ({"database_url": None}, "MADOGUCHI_DATABASE_URL"),
        ({"database_url": ""}, "MADOGUCHI_DATABASE_URL"),
    ],
)
def test_each_unsafe_setting_is_named_in_one_sentence(changes, named):
    found = problems(**changes)

    assert len(found) == 1
    assert named in found[0]
    assert found[0].endswith("。")


def test_every_problem_is_reported_at_once():
    found = problems(
        debug=True, secret_key_from_env=None, allowed_hosts=["*"], tls=False, database_url=None
    )

    assert len(found) == 5
    text = "\n".join(found)
    for name in (
        "MADOGUCHI_DEBUG",
        "MADOGUCHI_SECRET_KEY",
        "MADOGUCHI_ALLOWED_HOSTS",
        "MADOGUCHI_TLS",
        "MADOGUCHI_DATABASE_URL",
    ):
        assert name in text
