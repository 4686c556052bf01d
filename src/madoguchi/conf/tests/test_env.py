"""Typed values from the environment, and the secret key of the embedded default."""

import stat

import pytest

from madoguchi.conf.env import (
    SettingError,
    env_bool,
    env_int,
    env_list,
    load_or_create_secret_key,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), (" YES ", True), ("on", True), ("0", False), ("off", False)],
)
def test_booleans_accept_the_usual_words(raw, expected):
    assert env_bool({"MADOGUCHI_DEBUG": raw}, "MADOGUCHI_DEBUG", default=not expected) is expected


def test_a_missing_boolean_takes_its_default():
    assert env_bool({}, "MADOGUCHI_TLS", default=True) is True


def test_a_boolean_that_is_neither_is_refused_by_name():
    with pytest.raises(SettingError, match=r"MADOGUCHI_DEBUG must be true or false, not 'maybe'"):
        env_bool({"MADOGUCHI_DEBUG": "maybe"}, "MADOGUCHI_DEBUG", default=False)


def test_whole_numbers_have_a_minimum():
    environ = {"MADOGUCHI_SESSION_IDLE_SECONDS": "30"}
    with pytest.raises(SettingError, match="at least 60"):
        env_int(environ, "MADOGUCHI_SESSION_IDLE_SECONDS", 1800, minimum=60)
    with pytest.raises(SettingError, match="whole number"):
        env_int({"MADOGUCHI_HSTS_SECONDS": "1 year"}, "MADOGUCHI_HSTS_SECONDS", 0)
    assert env_int({"MADOGUCHI_HSTS_SECONDS": " "}, "MADOGUCHI_HSTS_SECONDS", 7) == 7
    assert env_int({"MADOGUCHI_HSTS_SECONDS": "600"}, "MADOGUCHI_HSTS_SECONDS", 7) == 600


def test_lists_are_comma_separated_and_tidy():
    environ = {"MADOGUCHI_ALLOWED_HOSTS": " example.jp, ,www.example.jp,"}

    assert env_list(environ, "MADOGUCHI_ALLOWED_HOSTS", ["x"]) == ["example.jp", "www.example.jp"]
    assert env_list({}, "MADOGUCHI_ALLOWED_HOSTS", ["x"]) == ["x"]


def test_the_embedded_default_creates_a_private_secret_key_once(tmp_path):
    data_dir = tmp_path / "var" / "data"

    key = load_or_create_secret_key(data_dir)

    path = data_dir / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 50
    assert load_or_create_secret_key(data_dir) == key


def test_each_installation_gets_its_own_secret_key(tmp_path):
    assert load_or_create_secret_key(tmp_path / "a") != load_or_create_secret_key(tmp_path / "b")
