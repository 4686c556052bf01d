"""Files on S3-compatible object storage (MADOGUCHI_S3_*), against moto's S3 server on
loopback: an upload goes through the one upload path into a private bucket, encrypted, and
staff download it through the app; with the store away the upload is refused in Japanese,
nothing is half-stored, the failure is counted and pages without files keep working."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from django.core.files.base import File
from django.urls import reverse
from moto.server import ThreadedMotoServer
from PIL import Image

from madoguchi.applications.attachments import (
    AttachmentUnreadable,
    attachment_open,
    attachment_storage_name,
    attachments_upload,
)
from madoguchi.applications.models import Attachment
from madoguchi.conf.env import SettingError
from madoguchi.conf.scale import s3_problems, storage_settings
from madoguchi.core.metrics import STORAGE_ERRORS
from madoguchi.core.time import now
from madoguchi.testing import free_port
from madoguchi.testing import submit_named as apply

BUCKET = "madoguchi-files"


def s3_environment(endpoint: str, **extra: str) -> dict[str, str]:
    return {
        "MADOGUCHI_S3_BUCKET": BUCKET,
        "MADOGUCHI_S3_ENDPOINT_URL": endpoint,
        "MADOGUCHI_S3_REGION": "ap-northeast-1",
        "MADOGUCHI_S3_ACCESS_KEY_ID": "test-key",
        "MADOGUCHI_S3_SECRET_ACCESS_KEY": "test-secret",
        "MADOGUCHI_S3_ADDRESSING_STYLE": "path",
        "MADOGUCHI_S3_TIMEOUT": "2",
        **extra,
    }


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto loads its S3 backend on the first request (seconds): once here, for the module.
    s3_client(endpoint).list_buckets()
    yield endpoint
    server.stop()


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="ap-northeast-1",
        aws_access_key_id="test-key",
        aws_secret_access_key="test-secret",
    )


@pytest.fixture
def on_s3(settings: Any, s3_endpoint: str) -> Iterator[Any]:
    client = s3_client(s3_endpoint)
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"}
    )
    settings.CLAMD = ""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": storage_settings(
            s3_environment(s3_endpoint, MADOGUCHI_S3_SERVER_SIDE_ENCRYPTION="AES256")
        ),
    }
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def s3_away(settings: Any) -> None:
    settings.CLAMD = ""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": storage_settings(s3_environment(f"http://127.0.0.1:{free_port()}")),
    }


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 90, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def upload(procedure: Any, resident: Any, name: str = "住民票.png") -> Any:
    return attachments_upload(
        procedure=procedure,
        field_key="residence_document",
        files=[File(io.BytesIO(png()), name=name)],
        owner=resident,
        now=now(),
    )


def errors(operation: str) -> float:
    return float(STORAGE_ERRORS.labels(operation=operation)._value.get())


def test_an_upload_is_stored_private_and_encrypted_and_staff_download_it(
    procedure, resident, staff_client, on_s3
):
    application = apply(procedure, resident)

    batch = upload(procedure, resident)

    assert batch.refusals == []
    stored = Attachment.objects.get()
    key = attachment_storage_name(stored)
    head = on_s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "AES256"
    grants = on_s3.get_object_acl(Bucket=BUCKET, Key=key)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]  # the owner only
    assert all("URI" not in g["Grantee"] for g in grants)  # no AllUsers / AuthenticatedUsers
    body = on_s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert png() not in body  # encrypted before it left the application
    assert attachment_open(attachment=stored) == png()

    Attachment.objects.filter(pk=stored.pk).update(application=application, revision=1)
    got = staff_client.get(reverse("console:attachment_download", args=[application.pk, stored.pk]))

    assert got.status_code == 200
    assert b"".join(got.streaming_content if got.streaming else [got.content]) == png()


def test_store_away_the_upload_is_refused_in_japanese_and_nothing_is_stored(
    procedure, resident, client, s3_away
):
    before = errors("save") + errors("exists")

    batch = upload(procedure, resident)

    assert len(batch.refusals) == 1
    assert "ただいまファイルを保存できない" in batch.refusals[0]
    assert "Endpoint" not in batch.refusals[0]  # nothing technical for the resident
    assert not Attachment.objects.exists()
    assert errors("save") + errors("exists") == before + 1
    # Pages that need no file keep working.
    assert client.get("/").status_code == 200


def test_store_away_reading_a_file_says_try_later(procedure, resident, on_s3, settings):
    upload(procedure, resident)
    stored = Attachment.objects.get()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": storage_settings(s3_environment(f"http://127.0.0.1:{free_port()}")),
    }
    before = errors("open")

    with pytest.raises(AttachmentUnreadable, match="しばらくしてから"):
        attachment_open(attachment=stored)

    assert errors("open") == before + 1


def test_production_refuses_object_storage_without_tls_unless_allowed():
    plain = s3_environment("http://minio.internal:9000")

    assert any("https://" in problem for problem in s3_problems(plain))
    assert s3_problems({**plain, "MADOGUCHI_S3_ALLOW_INSECURE": "on"}) == []
    assert s3_problems(s3_environment("https://s3.ap-northeast-1.amazonaws.com")) == []
    assert s3_problems({}) == []  # no object storage: nothing to check


def test_s3_settings_refuse_what_cannot_work(tmp_path):
    with pytest.raises(SettingError, match="ADDRESSING_STYLE"):
        storage_settings(s3_environment("https://s3.example.jp", MADOGUCHI_S3_ADDRESSING_STYLE="x"))
    with pytest.raises(SettingError, match="SERVER_SIDE_ENCRYPTION"):
        storage_settings(
            s3_environment("https://s3.example.jp", MADOGUCHI_S3_SERVER_SIDE_ENCRYPTION="rot13")
        )
    secret = tmp_path / "s3-secret"
    secret.write_text("from-a-file\n", encoding="utf-8")
    options = storage_settings(
        {
            **s3_environment("https://s3.example.jp"),
            "MADOGUCHI_S3_SECRET_ACCESS_KEY_FILE": str(secret),
        }
    )["OPTIONS"]
    assert options["secret_key"] == "from-a-file"
    assert options["default_acl"] == "private"
    assert storage_settings({}) == {"BACKEND": "madoguchi.core.storage.DataDirStorage"}
