"""The file storage of the embedded default: ``DATA_DIR/files`` on the local disk.

Domain code reaches files only through Django's ``STORAGES`` (``storages["default"]``), so a
deployment can move them to object storage by configuration. This backend adds what a plain
``FileSystemStorage`` lacks for records that must survive a crash: a file is written to a
temporary name in its folder, fsynced, renamed and the folder fsynced, so after a crash it is
either whole or absent, never half written; files are owner-only (0600, folders 0700). Without
an explicit ``location`` it follows ``DATA_DIR`` (as ``FileSystemStorage`` follows
``MEDIA_ROOT``), also when a test changes that setting.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible
from django.utils.functional import cached_property
from storages.backends.s3 import S3Storage  # type: ignore[import-untyped]

#: Prefix and suffix of the temporary names: hidden, and swept when a crash leaves one.
TEMPORARY_PREFIX = "."
TEMPORARY_SUFFIX = ".tmp"


@deconstructible(path="madoguchi.core.storage.DataDirStorage")
class DataDirStorage(FileSystemStorage):
    """``FileSystemStorage`` under ``DATA_DIR/files`` with crash-safe, owner-only writes."""

    def __init__(self, location: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("file_permissions_mode", 0o600)
        kwargs.setdefault("directory_permissions_mode", 0o700)
        self._explicit_location = location
        super().__init__(location=location, **kwargs)

    @cached_property
    def base_location(self) -> str:
        if self._explicit_location is not None:
            return str(self._explicit_location)
        return str(Path(settings.DATA_DIR) / "files")

    def _clear_cached_properties(self, setting: Any, **kwargs: Any) -> None:
        super()._clear_cached_properties(setting, **kwargs)
        if setting == "DATA_DIR":
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)

    def _save(self, name: str, content: File[Any]) -> str:
        path = Path(self.path(name))
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(
            f"{TEMPORARY_PREFIX}{path.name}.{uuid.uuid4().hex[:8]}{TEMPORARY_SUFFIX}"
        )
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                if hasattr(content, "seek"):
                    content.seek(0)
                for chunk in content.chunks():
                    handle.write(chunk if isinstance(chunk, bytes) else chunk.encode())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return str(path.relative_to(self.location)).replace(os.sep, "/")


def storage_bytes_used(storage: Any, *, most_files: int = 200_000) -> tuple[int, int, bool] | None:
    """Bytes and files under a :class:`DataDirStorage`'s folder, and whether the count stopped
    at ``most_files`` (the figure is then a lower bound). None for any other storage (object
    storage is measured by its provider, not here)."""
    if not isinstance(storage, DataDirStorage):
        return None
    total = files = 0
    for folder, _dirs, names in os.walk(storage.location):
        for name in names:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:  # removed meanwhile
                continue
            files += 1
            if files >= most_files:
                return total, files, True
    return total, files, False


class StorageUnavailable(OSError):
    """The file store could not be reached or refused the operation (not: the file does not
    exist). The message is for operators; users get a plain Japanese sentence instead."""


def _count(operation: str) -> None:
    from madoguchi.core.metrics import STORAGE_ERRORS

    STORAGE_ERRORS.labels(operation=operation).inc()


@deconstructible(path="madoguchi.core.storage.ObjectStorage")
class ObjectStorage(S3Storage):  # type: ignore[misc]  # django-storages is untyped
    """Files on S3-compatible object storage (``MADOGUCHI_S3_BUCKET`` and the settings beside it): private objects, short
    timeouts, and one kind of error when the store is away.

    Every failure other than "no such file" raises :class:`StorageUnavailable` and is counted
    in ``madoguchi_storage_errors_total`` by operation, so callers catch one ``OSError``
    subclass instead of botocore's many. A save is one PUT: the object is whole or absent.
    """

    def __init__(self, *, timeout: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client_config = Config(
            s3={"addressing_style": self.addressing_style},
            signature_version=self.signature_version,
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 2, "mode": "standard"},
        )

    def _save(self, name: str, content: File[Any]) -> str:
        try:
            return str(super()._save(name, content))
        except (BotoCoreError, ClientError) as error:
            _count("save")
            raise StorageUnavailable(
                f"object store: save failed ({type(error).__name__})"
            ) from error

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        try:
            handle = super()._open(name, mode)
            if "r" in mode:
                # S3File fetches lazily: read now, so an unreachable store fails here.
                handle.file  # noqa: B018
            return handle  # type: ignore[no-any-return]
        except FileNotFoundError:
            raise
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                raise FileNotFoundError(name) from error
            _count("open")
            raise StorageUnavailable(
                f"object store: open failed ({type(error).__name__})"
            ) from error
        except BotoCoreError as error:
            _count("open")
            raise StorageUnavailable(
                f"object store: open failed ({type(error).__name__})"
            ) from error

    def delete(self, name: str) -> None:
        try:
            super().delete(name)
        except (BotoCoreError, ClientError) as error:
            _count("delete")
            raise StorageUnavailable(
                f"object store: delete failed ({type(error).__name__})"
            ) from error

    def exists(self, name: str) -> bool:
        try:
            return bool(super().exists(name))
        except (BotoCoreError, ClientError) as error:
            _count("exists")
            raise StorageUnavailable(
                f"object store: exists failed ({type(error).__name__})"
            ) from error

    def size(self, name: str) -> int:
        try:
            return int(super().size(name))
        except (BotoCoreError, ClientError) as error:
            _count("size")
            raise StorageUnavailable(
                f"object store: size failed ({type(error).__name__})"
            ) from error

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        try:
            folders, files = super().listdir(path)
        except (BotoCoreError, ClientError) as error:
            _count("listdir")
            raise StorageUnavailable(
                f"object store: listdir failed ({type(error).__name__})"
            ) from error
        return list(folders), list(files)
