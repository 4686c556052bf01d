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

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible
from django.utils.functional import cached_property

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
