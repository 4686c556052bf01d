"""An operator configures the platform from the README: every setting must be there."""

import re
from pathlib import Path

import madoguchi
from madoguchi.conf.env import DOCUMENTED_SETTINGS

PACKAGE = Path(madoguchi.__file__).resolve().parent
README = PACKAGE.parents[1] / "README.md"
SETTING = re.compile(r"MADOGUCHI_[A-Z0-9_]+")  # digits too: MADOGUCHI_SEAL_PKCS11_MODULE


def settings_named_in_the_code() -> set[str]:
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if "tests" in relative.parts:
            continue
        names |= set(SETTING.findall(path.read_text(encoding="utf-8")))
    return names


def test_the_code_names_settings_at_all():
    assert {"MADOGUCHI_SECRET_KEY", "MADOGUCHI_DATABASE_URL"} <= settings_named_in_the_code()


def test_every_setting_the_code_reads_is_in_the_documented_list():
    missing = settings_named_in_the_code() - set(DOCUMENTED_SETTINGS)

    assert not missing, f"add to madoguchi.conf.env.DOCUMENTED_SETTINGS: {sorted(missing)}"


def test_every_documented_setting_is_explained_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    named = set(SETTING.findall(readme))

    missing = (set(DOCUMENTED_SETTINGS) | settings_named_in_the_code()) - named
    assert not missing, f"document in {README}: {sorted(missing)}"
