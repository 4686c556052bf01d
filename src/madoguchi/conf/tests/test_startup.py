"""Starting Django in a fresh process with the environment an operator would set."""

import os
import secrets
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet


@pytest.fixture
def start(tmp_path):
    def run(**environ):
        env = {key: value for key, value in os.environ.items() if not key.startswith("MADOGUCHI_")}
        env["DJANGO_SETTINGS_MODULE"] = "madoguchi.conf.settings"
        env["MADOGUCHI_DATA_DIR"] = str(tmp_path / "data")
        env.update(environ)
        return subprocess.run(
            [sys.executable, "-c", "import django; django.setup()"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


@pytest.fixture
def safe_production(tmp_path):
    return {
        "MADOGUCHI_ENV": "production",
        "MADOGUCHI_SECRET_KEY": secrets.token_urlsafe(64),
        "MADOGUCHI_ALLOWED_HOSTS": "example.jp",
        "MADOGUCHI_TLS": "true",
        "MADOGUCHI_DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
        "MADOGUCHI_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "MADOGUCHI_SMTP_URL": "smtp://127.0.0.1:2525",
        "MADOGUCHI_VIRUS_SCAN_EXTERNAL": "true",
        "MADOGUCHI_PORTAL_URL": "https://example.jp",
        # The organisations' seal keys and the timestamp authority (checked to be set; read
        # when the first document is issued).
        "MADOGUCHI_SEAL_DIR": str(tmp_path / "seal"),
        "MADOGUCHI_TSA_URL": "http://tsa.example.lg.jp/tsa",
    }


def test_production_with_nothing_set_refuses_to_start_and_says_why(start):
    result = start(MADOGUCHI_ENV="production", MADOGUCHI_TLS="false", MADOGUCHI_DEBUG="true")

    assert result.returncode != 0
    assert "refuses to start in production" in result.stderr
    for name in (
        "MADOGUCHI_SECRET_KEY",
        "MADOGUCHI_ALLOWED_HOSTS",
        "MADOGUCHI_TLS",
        "MADOGUCHI_DATABASE_URL",
        "MADOGUCHI_DEBUG",
        "MADOGUCHI_ENCRYPTION_KEYS",
        "MADOGUCHI_SMTP_URL",
        "MADOGUCHI_CLAMD",
        "MADOGUCHI_PORTAL_URL",
        "MADOGUCHI_SEAL_DIR",
        "MADOGUCHI_TSA_URL",
    ):
        assert name in result.stderr


def test_production_refuses_to_start_without_a_virus_scanner(start, safe_production):
    unscanned = {**safe_production, "MADOGUCHI_VIRUS_SCAN_EXTERNAL": "false"}
    result = start(**unscanned)
    assert result.returncode != 0
    assert "MADOGUCHI_CLAMD must be set in production" in result.stderr
    assert "MADOGUCHI_VIRUS_SCAN_EXTERNAL=true" in result.stderr
    scanned = start(**unscanned, MADOGUCHI_CLAMD="unix:/run/clamav/clamd.ctl")
    assert scanned.returncode == 0, scanned.stderr


def test_production_refuses_a_wildcard_host_and_a_short_key(start, safe_production):
    result = start(
        **{**safe_production, "MADOGUCHI_ALLOWED_HOSTS": "*", "MADOGUCHI_SECRET_KEY": "changeme"}
    )

    assert result.returncode != 0
    assert "MADOGUCHI_ALLOWED_HOSTS must not be '*'" in result.stderr
    assert "MADOGUCHI_SECRET_KEY is too short" in result.stderr
    assert "changeme" not in result.stderr  # the secret itself is never echoed


def test_production_refuses_a_long_but_repetitive_secret_key(start, safe_production):
    key = "0123456789" * 5  # 50 characters, ten different ones
    result = start(**{**safe_production, "MADOGUCHI_SECRET_KEY": key})

    assert result.returncode != 0
    assert "MADOGUCHI_SECRET_KEY is too short or too simple" in result.stderr
    assert key not in result.stderr


def test_production_refuses_the_ssrf_guard_turned_off(start, safe_production):
    result = start(**{**safe_production, "MADOGUCHI_WEBHOOK_ALLOW_PRIVATE": "true"})

    assert result.returncode != 0
    assert "MADOGUCHI_WEBHOOK_ALLOW_PRIVATE must be off in production" in result.stderr


def test_production_refuses_the_test_seal_ca_and_the_test_tsa(start, safe_production):
    environ = {
        key: value
        for key, value in safe_production.items()
        if key not in {"MADOGUCHI_SEAL_DIR", "MADOGUCHI_TSA_URL"}
    }
    result = start(**environ)
    assert result.returncode != 0
    assert "MADOGUCHI_SEAL_DIR or MADOGUCHI_SEAL_PKCS11_MODULE must be set" in result.stderr
    assert "MADOGUCHI_TSA_URL must be set in production" in result.stderr
    hsm = start(**{**environ, "MADOGUCHI_SEAL_PKCS11_MODULE": "/usr/lib/hsm.so"})
    assert "MADOGUCHI_SEAL_DIR or MADOGUCHI_SEAL_PKCS11_MODULE" not in hsm.stderr


def test_production_refuses_console_mail(start, safe_production):
    environ = {key: value for key, value in safe_production.items() if key != "MADOGUCHI_SMTP_URL"}
    result = start(**environ)

    assert result.returncode != 0
    assert "MADOGUCHI_SMTP_URL must be set in production" in result.stderr


@pytest.mark.parametrize("env", ["production", "development"])
def test_an_encryption_key_that_is_not_a_fernet_key_is_refused_at_start(
    start, safe_production, env
):
    bad = "not-a-fernet-key-but-long-enough-to-look-like-one"
    keys = f"{Fernet.generate_key().decode()},{bad}"
    result = start(**{**safe_production, "MADOGUCHI_ENV": env, "MADOGUCHI_ENCRYPTION_KEYS": keys})

    assert result.returncode != 0
    assert "MADOGUCHI_ENCRYPTION_KEYS: key number 2 is not a Fernet key" in result.stderr
    assert bad not in result.stderr


def test_production_with_safe_settings_starts(start, safe_production, tmp_path):
    result = start(**safe_production)

    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "data" / "secret_key").exists()  # the key came from the environment


def test_development_default_starts_and_keeps_its_key_in_the_data_dir(start, tmp_path):
    result = start()

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "secret_key").exists()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MADOGUCHI_DEBUG", "maybe", "MADOGUCHI_DEBUG must be true or false, not 'maybe'"),
        ("MADOGUCHI_TLS", "sometimes", "MADOGUCHI_TLS must be true or false"),
        ("MADOGUCHI_ENV", "staging", "MADOGUCHI_ENV must be development, production or test"),
        ("MADOGUCHI_SESSION_IDLE_SECONDS", "10", "MADOGUCHI_SESSION_IDLE_SECONDS must be at least"),
        ("MADOGUCHI_HSTS_SECONDS", "a year", "MADOGUCHI_HSTS_SECONDS must be a whole number"),
        ("MADOGUCHI_DATABASE_URL", "nosuchdb://x", "MADOGUCHI_DATABASE_URL cannot be used"),
    ],
)
def test_a_value_that_cannot_be_used_is_a_clear_error(start, name, value, message):
    result = start(**{name: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
