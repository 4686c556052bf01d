"""A developer runs ``make run``: ``madoguchi bootstrap --demo`` prepares everything."""

import io
import json
import os
import stat
import subprocess
import sys

import pytest
from django.core.management import call_command

from madoguchi.core.time import now
from madoguchi.identity.models import GroupOperator, Staff, User
from madoguchi.ops.demo import DEMO_GROUP_SLUG, demo_setup
from madoguchi.tenants.models import SharedGroup

DEMO_EMAILS = (
    "staff@yokohama.demo.madoguchi.jp",
    "staff@kamakura.demo.madoguchi.jp",
    "operator@kanagawa.demo.madoguchi.jp",
)


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def bootstrap(*args: str) -> str:
    out = io.StringIO()
    call_command("bootstrap", *args, stdout=out)
    return out.getvalue()


def logins_printed(output: str) -> list[str]:
    return [line for line in output.splitlines() if "@" in line]


def demo_state() -> tuple[object, ...]:
    return (
        list(SharedGroup.objects.filter(slug=DEMO_GROUP_SLUG).values_list("pk", "name")),
        sorted(Staff.objects.values_list("pk", "user__email", "organisation__lg_code", "role")),
        sorted(GroupOperator.objects.values_list("pk", "user__email", "group__slug")),
        User.objects.count(),
    )


def test_bootstrap_demo_prints_the_urls_and_three_demo_logins(db, data_dir):
    output = bootstrap("--demo", "--base-url", "http://127.0.0.1:8123/")

    for url in (
        "http://127.0.0.1:8123/",
        "http://127.0.0.1:8123/p/14/",
        "http://127.0.0.1:8123/o/141003/",
        "http://127.0.0.1:8123/console/",
        "http://127.0.0.1:8123/api/v1/docs",
        "http://127.0.0.1:8123/healthz",
    ):
        assert url in output
    assert "8123//" not in output
    passwords = json.loads((data_dir / "demo_logins.json").read_text(encoding="utf-8"))
    for email, key in zip(DEMO_EMAILS, ("yokohama", "kamakura", "operator"), strict=True):
        line = next(line for line in output.splitlines() if email in line)
        assert passwords[key] in line
    assert len(logins_printed(output)) == 5
    signer = next(
        line for line in output.splitlines() if "kacho@yokohama.demo.madoguchi.jp" in line
    )
    assert passwords["yokohama_signoff"] in signer  # the sign-off holder (決裁権者)
    assert "横浜市" in output
    assert "鎌倉市" in output


def test_demo_passwords_are_private_to_this_installation(db, data_dir):
    bootstrap("--demo")

    path = data_dir / "demo_logins.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    passwords = json.loads(path.read_text(encoding="utf-8"))
    assert len(set(passwords.values())) == 5
    assert all(len(password) >= 16 for password in passwords.values())


def test_demo_logins_work(client, db, data_dir):
    bootstrap("--demo")
    passwords = json.loads((data_dir / "demo_logins.json").read_text(encoding="utf-8"))

    for email, key in zip(DEMO_EMAILS, ("yokohama", "kamakura", "operator"), strict=True):
        assert client.login(username=email, password=passwords[key]), email
        client.logout()


def test_bootstrap_twice_changes_nothing_the_second_time(db, data_dir):
    first = bootstrap("--demo")
    state = demo_state()

    second = bootstrap("--demo")

    assert demo_state() == state
    assert "団体マスタを読み込みました" not in second
    assert logins_printed(first) == logins_printed(second)  # the same passwords


def test_bootstrap_without_demo_creates_no_accounts(db, data_dir):
    output = bootstrap()

    assert "デモ用ログイン" not in output
    # No demo addresses on a server that is not running: how to start it, once.
    assert ":8000" not in output
    assert "全国トップ" not in output
    assert "madoguchi serve" in output
    assert not SharedGroup.objects.filter(slug=DEMO_GROUP_SLUG).exists()
    assert not User.objects.exists()
    assert not (data_dir / "demo_logins.json").exists()


def test_demo_data_is_refused_in_production(db, data_dir, settings):
    settings.PRODUCTION = True

    with pytest.raises(RuntimeError, match="本番環境"):
        demo_setup(now=now())

    assert not SharedGroup.objects.filter(slug=DEMO_GROUP_SLUG).exists()
    assert not User.objects.exists()
    assert not (data_dir / "demo_logins.json").exists()


def test_demo_group_is_kanagawa_with_all_its_municipalities(db, data_dir):
    demo_setup(now=now())

    group = SharedGroup.objects.get(slug=DEMO_GROUP_SLUG)
    codes = set(group.members.values_list("lg_code", flat=True))
    assert group.prefecture is not None
    assert group.prefecture.lg_code == "140007"
    assert {"140007", "141003", "142042"} <= codes
    assert len(codes) == 34  # the prefecture and its 33 municipalities, no wards


BOOTSTRAP_AND_WRITE = """
import io, django
django.setup()
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from madoguchi.core.crypto import encrypt
call_command("bootstrap", "--demo", stdout=io.StringIO())
encrypt("個人番号")  # creates the encryption key file of the embedded default
default_storage.save("2026/upload.txt", ContentFile(b"an uploaded file"))
"""


def test_every_file_in_the_data_directory_is_owner_only_after_bootstrap(tmp_path):
    """Finding 11: the SQLite database was created 0644, readable by every local user."""
    data = tmp_path / "data"
    (data / "old").mkdir(parents=True)
    data.chmod(0o755)
    (data / "old").chmod(0o755)
    (data / "old" / "from-an-older-version.txt").write_text("x")
    (data / "old" / "from-an-older-version.txt").chmod(0o644)
    env = {key: value for key, value in os.environ.items() if not key.startswith("MADOGUCHI_")}
    env |= {"DJANGO_SETTINGS_MODULE": "madoguchi.conf.settings", "MADOGUCHI_DATA_DIR": str(data)}

    done = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP_AND_WRITE],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        preexec_fn=lambda: os.umask(0o022),  # what a login shell usually has
    )

    assert done.returncode == 0, done.stderr[-3000:]
    names = {path.name for path in data.rglob("*")}
    assert {"madoguchi.sqlite3", "secret_key", "encryption_key", "demo_logins.json"} <= names
    assert "upload.txt" in names
    loose = [
        f"{path.relative_to(data)} {stat.filemode(path.stat().st_mode)}"
        for path in [data, *data.rglob("*")]
        if stat.S_IMODE(path.stat().st_mode) & 0o077
    ]
    assert loose == []


def test_bootstrap_demo_issues_the_demo_card_once(db, data_dir):
    output = bootstrap("--demo")
    card = data_dir / "jpki-test" / "cards" / "demo"
    certificate = (card / "card.pem").read_bytes()

    assert "テスト用マイナンバーカード" in output
    assert (card / "card.key").exists()
    assert (data_dir / "jpki-test" / "crl.der").exists()
    bootstrap("--demo")
    assert (card / "card.pem").read_bytes() == certificate


def test_the_demo_inbox_shows_online_counter_and_mail_applications(db, data_dir):
    from madoguchi.applications.models import Application
    from madoguchi.testing import counted

    bootstrap("--demo")
    bootstrap("--demo")  # once only

    yokohama = set(
        Application.objects.filter(organisation__lg_code="141003").values_list("channel", flat=True)
    )
    assert yokohama == {"online", "counter", "mail"}
    assert (
        Application.objects.filter(organisation__lg_code="142042", channel="counter").count() == 1
    )
    assert Application.objects.filter(channel="mail").count() == 1
    assert counted(channel="counter") >= 1

    # The Japanese data helpers at work: a bank account shown by its names, a 鎌倉市 address
    # accepted by the area rule of 粗大ごみ.
    suido = Application.objects.get(idempotency_key="demo-yokohama-suido-kaishi-0001")
    assert "横浜（0138） みなとみらい支店（307）" in suido.answers["account"]["masked"]
    gomi = Application.objects.get(idempotency_key="demo-kamakura-sodai-gomi-0001")
    assert gomi.organisation.lg_code == "142042"
    assert gomi.answers["collection_address"]["city"] == "鎌倉市"


def test_the_demo_resident_has_a_correction_to_answer_with_a_photo_and_an_account(db, data_dir):
    from madoguchi.applications.models import Application
    from madoguchi.ops.demo import DEMO_CORRECTION_KEY

    bootstrap("--demo")
    bootstrap("--demo")  # once only

    (application,) = Application.objects.filter(idempotency_key=DEMO_CORRECTION_KEY)
    assert application.status == "correction_requested"
    assert application.answers["account_document"][0]["name"] == "通帳の写し.png"
    assert "$enc" in application.answers["account"]


def test_the_demo_has_a_form_builder_draft_of_yokohama_once(db, data_dir):
    from madoguchi.catalog.models import ProcedureDraft
    from madoguchi.forms.builder import problems_by_element

    bootstrap("--demo")
    bootstrap("--demo")
    (draft,) = ProcedureDraft.objects.filter(organisation__lg_code="141003")
    assert draft.slug == "natsumatsuri"
    assert draft.procedure_id is None  # a draft, not published
    assert draft.previous is not None  # its last change can be undone
    assert problems_by_element(draft.definition) == {}
    keys = [f["key"] for f in draft.definition["steps"][0]["sections"][0]["fields"]]
    assert {"name", "participants", "fee", "wheelchair"} <= set(keys)


def test_the_demo_group_library_has_a_form_kamakura_adopted_and_can_upgrade(db, data_dir):
    """グループ内ひな形 in the demo: 横浜市 published 地域清掃ボランティア to the group's library
    twice; 鎌倉市 adopted the first version, sees the second, and moves to it."""
    from django.test import Client

    from madoguchi.catalog.models import Procedure, Template
    from madoguchi.identity.constants import StaffRole
    from madoguchi.testing import console_login, staff_create

    bootstrap("--demo")
    bootstrap("--demo")  # once only
    template = Template.objects.get(group__slug=DEMO_GROUP_SLUG)
    assert template.source_organisation is not None
    assert template.source_organisation.lg_code == "141003"
    assert list(template.versions.values_list("version", flat=True)) == [1, 2]
    adopted = Procedure.objects.get(
        organisation__lg_code="142042", template_version__template=template
    )
    assert adopted.status == "published"
    assert adopted.template_version is not None
    assert adopted.template_version.version == 1
    admin = staff_create(adopted.organisation, email="admin@kamakura.test", role=StaffRole.ADMIN)
    client = console_login(Client(), admin.user)
    assert "新しい版（第2版）があります" in client.get("/console/procedures/").content.decode()
    preview = client.get(f"/console/procedures/{adopted.pk}/upgrade/").content.decode()
    assert "追加された項目: 「軍手の貸出しを希望する」（gloves）" in preview
    assert client.post(f"/console/procedures/{adopted.pk}/upgrade/").status_code == 302
    adopted.refresh_from_db()
    assert adopted.template_version is not None
    assert adopted.template_version.version == 2
    assert adopted.settings["contact"].startswith("鎌倉市 市民活動課")
