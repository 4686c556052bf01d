"""An operator starts the platform in production: unsafe settings are refused, by name."""

import secrets
import string
from typing import Any

import pytest
from django.core.management.utils import get_random_secret_key

from madoguchi.conf.env import ProductionCheck, production_problems, secret_key_weakness

SAFE: dict[str, Any] = {
    "debug": False,
    "secret_key_from_env": secrets.token_urlsafe(64),
    "allowed_hosts": ["example.jp"],
    "tls": True,
    "database_url": "postgres://madoguchi@db.example.jp/madoguchi",
    "smtp_url": "smtp://madoguchi:secret@mail.example.jp:587?starttls=1",
    "webhook_allow_private": False,
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
        # 50 characters, but a pattern: too few different characters, repeated, a run.
        ({"secret_key_from_env": "abcdefghij" * 5}, "MADOGUCHI_SECRET_KEY"),
        ({"secret_key_from_env": "abcdefghijklmnopqrstuvwxy" * 2}, "MADOGUCHI_SECRET_KEY"),
        ({"secret_key_from_env": string.ascii_letters}, "MADOGUCHI_SECRET_KEY"),
        ({"secret_key_from_env": "django-insecure-" + "x" * 40}, "MADOGUCHI_SECRET_KEY"),
        ({"webhook_allow_private": True}, "MADOGUCHI_WEBHOOK_ALLOW_PRIVATE"),
        ({"smtp_url": ""}, "MADOGUCHI_SMTP_URL"),
        ({"portal_url": ""}, "MADOGUCHI_PORTAL_URL"),
        ({"portal_url": "http://madoguchi.example.jp"}, "MADOGUCHI_PORTAL_URL"),
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


def test_random_keys_as_operators_make_them_are_accepted():
    makers = (
        get_random_secret_key,
        lambda: secrets.token_urlsafe(64),
        lambda: secrets.token_urlsafe(38),  # 51 characters
        lambda: secrets.token_hex(32),  # openssl rand -hex 32
    )
    for make in makers:
        weak = [key for key in (make() for _ in range(300)) if secret_key_weakness(key)]
        assert weak == []
    # Once drawn by `secrets.token_hex(32)` and refused as "repeats itself" (55 different
    # three-character pieces of 62): a random key may repeat a few pieces.
    assert (
        secret_key_weakness("ff2ffae86e08cea7c7cff2ffbcfd474213284e9f14f95f8bcf4e9f2dcea89794")
        is None
    )


def test_the_refusal_of_a_weak_key_says_why_without_echoing_it():
    key = "abcdefghij" * 5
    (found,) = problems(secret_key_from_env=key)

    assert "different characters" in found
    assert key not in found


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("10.20.0.0/16, 192.168.5.0/24", None),
        ("fd00:1::/64", None),
        ("lgwan", "CIDR"),
        ("10.0.0.0/33", "CIDR"),
        ("127.0.0.0/8", "ループバック"),
        ("0.0.0.0/0", "ループバック"),
        ("169.254.169.254/32", "リンクローカル"),
        ("::/0", "ループバック"),
    ],
)
def test_webhook_networks_are_checked_at_start(raw, problem):
    from madoguchi.conf.env import SettingError, env_networks

    environ = {"MADOGUCHI_WEBHOOK_ALLOWED_NETWORKS": raw}
    if problem is None:
        assert env_networks(environ)
    else:
        with pytest.raises(SettingError, match=problem):
            env_networks(environ)


def test_the_jpki_verification_api_must_be_https_in_production():
    from madoguchi.conf.env import SettingError, env_jpki_verify_url

    assert problems(jpki_verify_url="https://verify.example.jp/v1/verify") == []
    (problem,) = problems(jpki_verify_url="http://verify.example.jp/v1/verify")
    assert "MADOGUCHI_JPKI_VERIFY_URL" in problem
    with pytest.raises(SettingError, match="MADOGUCHI_JPKI_VERIFY_URL"):
        env_jpki_verify_url({"MADOGUCHI_JPKI_VERIFY_URL": "file:///etc/passwd"})
    assert env_jpki_verify_url({}) == ""
