"""Virus scanning against a real clamd: started here, in a temporary folder, with a signature
database made here that detects the EICAR test file (freshclam never runs, nothing is fetched).

Without clamd the tests are skipped, except where ``MADOGUCHI_REQUIRE_CLAMD`` is set (CI sets
it), so that a missing clamd can never pass CI silently.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from madoguchi.applications.attachments import attachment_open, attachment_store
from madoguchi.applications.models import Attachment
from madoguchi.applications.publishing import procedure_set_status
from madoguchi.applications.tests.samples import (  # the same made-on-the-spot files
    DEFINITION,
    FIELD,
    handmade_pdf,
    padded_pdf,
    pdf_bytes,
    stored_files,
)
from madoguchi.applications.uploads import UploadRefused
from madoguchi.applications.virus import (
    ScannerError,
    ScannerUnavailable,
    clamd_address_parse,
    clamd_command,
    clamd_scan,
)
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.services import procedure_create_own
from madoguchi.conf.env import SettingError, env_clamd
from madoguchi.core.time import now
from madoguchi.tenants.models import Organisation

CLAMD_BINARY = shutil.which("clamd") or (
    "/usr/sbin/clamd" if os.access("/usr/sbin/clamd", os.X_OK) else None
)
STREAM_LIMIT = 2 * 1024 * 1024


def eicar() -> bytes:
    """The 68-byte EICAR test file, assembled here so that no scanner flags this source."""
    return b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-" + b"ANTIVIRUS-TEST-FILE!$H+H*"


@dataclass
class Clamd:
    process: subprocess.Popen[bytes]
    folder: Path
    socket_path: Path
    port: int

    @property
    def unix(self) -> str:
        return f"unix:{self.socket_path}"

    @property
    def tcp(self) -> str:
        return f"tcp:127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_clamd(folder: Path) -> Clamd:
    """A clamd of our own: its socket, database, log and temporary files all in ``folder``."""
    database = folder / "db"
    database.mkdir()
    # A body signature (.ndb: name, any file type, any offset, hex): it also finds the
    # test string inside a PDF, as the real EICAR signature would.
    (database / "madoguchi.ndb").write_text(f"Madoguchi-Test-EICAR:0:*:{eicar().hex()}\n")
    port = _free_port()
    config = folder / "clamd.conf"
    config.write_text(
        "\n".join(
            [
                f"LocalSocket {folder / 'clamd.sock'}",
                f"TCPSocket {port}",
                "TCPAddr 127.0.0.1",
                f"DatabaseDirectory {database}",
                f"TemporaryDirectory {folder}",
                f"LogFile {folder / 'clamd.log'}",
                "Foreground yes",
                f"StreamMaxLength {STREAM_LIMIT // (1024 * 1024)}M",
                "Bytecode no",
                "",
            ]
        )
    )
    assert CLAMD_BINARY is not None
    output = (folder / "clamd.out").open("wb")
    process = subprocess.Popen(
        [CLAMD_BINARY, "-c", str(config)], stdout=output, stderr=subprocess.STDOUT
    )
    server = Clamd(process=process, folder=folder, socket_path=folder / "clamd.sock", port=port)
    deadline = time.monotonic() + 120
    address = clamd_address_parse(server.unix)
    while True:
        try:
            if clamd_command(address=address, command="PING", timeout=5) == "PONG":
                return server
        except ScannerUnavailable:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            log = (folder / "clamd.out").read_text(errors="replace")[-2000:]
            pytest.fail(f"clamd did not answer PING:\n{log}")
        time.sleep(0.2)


def _clamd_folder() -> Path:
    # A short path: a unix socket's path must fit in 108 bytes.
    return Path(tempfile.mkdtemp(prefix="madoguchi-clamd-", dir="/tmp"))


@pytest.fixture(scope="session")
def clamd() -> object:
    if CLAMD_BINARY is None:
        if os.environ.get("MADOGUCHI_REQUIRE_CLAMD"):
            pytest.fail("clamd not found (apt-get install clamav-daemon)")
        pytest.skip("clamd not found (apt-get install clamav-daemon): virus-scan tests skipped")
    folder = _clamd_folder()
    server = start_clamd(folder)
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def procedure(db):
    organisation = Organisation.objects.get(lg_code="141003")
    item = procedure_create_own(
        organisation=organisation, slug="uploads", definition=DEFINITION, now=now()
    )
    return procedure_set_status(
        organisation=organisation, procedure=item, status=ProcedureStatus.PUBLISHED
    )


@pytest.fixture
def scanning(settings, tmp_path, clamd):
    settings.DATA_DIR = tmp_path
    settings.CLAMD = clamd.unix
    return clamd


def eicar_pdf() -> bytes:
    body = eicar()
    return handmade_pdf(b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream")


# --- The protocol ------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["unix", "tcp"])
def test_clamd_answers_over_unix_socket_and_tcp(clamd, family):
    address = clamd_address_parse(getattr(clamd, family))
    assert clamd_command(address=address, command="PING", timeout=10) == "PONG"
    assert clamd_command(address=address, command="VERSION", timeout=10).startswith("ClamAV")
    assert clamd_scan(address=address, data=pdf_bytes(), timeout=30).clean
    found = clamd_scan(address=address, data=eicar(), timeout=30)
    assert not found.clean
    assert found.signature.startswith("Madoguchi-Test-EICAR")


def test_a_stream_in_many_chunks_is_scanned_whole(clamd):
    address = clamd_address_parse(clamd.unix)
    # The signature straddles the 64 KiB chunk boundary.
    data = b"%" * (64 * 1024 - 30) + eicar() + b"%" * 1000
    assert not clamd_scan(address=address, data=data, timeout=30).clean


def test_a_stream_over_clamds_limit_is_an_error_not_a_verdict(clamd):
    address = clamd_address_parse(clamd.unix)
    with pytest.raises(ScannerError, match="size limit"):
        clamd_scan(address=address, data=bytes(STREAM_LIMIT + 1024 * 1024), timeout=30)


def test_a_silent_server_times_out(tmp_path):
    path = Path(tempfile.mkdtemp(prefix="madoguchi-mute-", dir="/tmp")) / "mute.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    accepted: list[socket.socket] = []

    def accept_and_say_nothing() -> None:
        listener.settimeout(5)
        try:
            connection, _ = listener.accept()
            accepted.append(connection)
        except OSError:
            return

    thread = threading.Thread(target=accept_and_say_nothing, daemon=True)
    thread.start()
    try:
        with pytest.raises(ScannerUnavailable):
            clamd_scan(address=clamd_address_parse(f"unix:{path}"), data=b"hello", timeout=0.5)
    finally:
        thread.join(timeout=10)
        for connection in accepted:
            connection.close()
        listener.close()
        shutil.rmtree(path.parent, ignore_errors=True)


@pytest.mark.parametrize(
    "raw", ["localhost:3310", "tcp:localhost", "unix:relative/path", "tcp:host:99999x", "http://x"]
)
def test_a_malformed_clamd_setting_stops_start_up(raw):
    with pytest.raises(SettingError, match="MADOGUCHI_CLAMD"):
        env_clamd({"MADOGUCHI_CLAMD": raw})
    with pytest.raises(ValueError, match="unix:/"):
        clamd_address_parse(raw)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("", ""),
        ("unix:/run/clamav/clamd.ctl", "unix:/run/clamav/clamd.ctl"),
        ("tcp:127.0.0.1:3310", "tcp:127.0.0.1:3310"),
        ("tcp:[::1]:3310", "tcp:::1:3310"),
    ],
)
def test_clamd_settings_that_work(raw, text):
    assert env_clamd({"MADOGUCHI_CLAMD": raw}) == raw
    if raw:
        assert str(clamd_address_parse(raw)) == text


# --- Uploads -----------------------------------------------------------------------------------

INTERNALS = ("clamd", "ClamAV", "EICAR", "Madoguchi-Test", "stream", "FOUND", "/tmp")


def test_a_file_with_a_virus_is_refused_and_nothing_is_stored(
    scanning, procedure, resident, caplog, tmp_path
):
    with (
        caplog.at_level(logging.WARNING, logger="madoguchi.applications.attachments"),
        pytest.raises(UploadRefused) as caught,
    ):
        attachment_store(
            procedure=procedure,
            field_key=FIELD,
            owner=resident,
            name="山田花子_住民票.pdf",
            data=eicar_pdf(),
            now=now(),
        )
    message = caught.value.message
    assert message.startswith("このファイルからウイルスなどの有害なプログラムが見つかった")
    assert not any(word.lower() in message.lower() for word in INTERNALS)
    assert not Attachment.objects.exists()
    assert stored_files(tmp_path) == []
    logged = caplog.text
    assert "Madoguchi-Test-EICAR" in logged  # the operator learns what was found…
    assert "山田花子" not in logged
    assert "hanako@example.jp" not in logged


def test_a_clean_file_is_stored_and_marked_scanned(scanning, procedure, resident, settings):
    data = pdf_bytes()
    stored = attachment_store(
        procedure=procedure, field_key=FIELD, owner=resident, name="a.pdf", data=data, now=now()
    )
    assert stored.scanned is True
    assert Attachment.objects.get(pk=stored.pk).scanned is True
    assert attachment_open(attachment=stored) == data
    assert len(stored_files(settings.DATA_DIR)) == 1


def test_a_stopped_clamd_refuses_uploads_until_it_is_back(
    settings, tmp_path, procedure, resident, caplog, clamd
):
    folder = _clamd_folder()
    try:
        server = start_clamd(folder)
        settings.DATA_DIR = tmp_path
        for address in (server.unix, server.tcp):
            settings.CLAMD = address
            attachment_store(
                procedure=procedure,
                field_key=FIELD,
                owner=resident,
                name="ok.pdf",
                data=pdf_bytes(),
                now=now(),
            )
        server.stop()
        for address in (server.unix, server.tcp):
            settings.CLAMD = address
            with (
                caplog.at_level(logging.ERROR, logger="madoguchi.applications.attachments"),
                pytest.raises(UploadRefused) as caught,
            ):
                attachment_store(
                    procedure=procedure,
                    field_key=FIELD,
                    owner=resident,
                    name="山田花子_住民票.pdf",
                    data=pdf_bytes(),
                    now=now(),
                )
            message = caught.value.message
            assert "しばらくしてからもう一度" in message
            assert not any(word.lower() in message.lower() for word in INTERNALS)
        assert Attachment.objects.count() == 2  # only the two stored while clamd ran
        assert len(stored_files(tmp_path)) == 2
        assert "clamd unavailable" in caplog.text
        assert "山田花子" not in caplog.text
        assert "hanako@example.jp" not in caplog.text
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_file_larger_than_clamd_takes_is_refused_not_stored_unscanned(
    scanning, procedure, resident, caplog
):
    with (
        caplog.at_level(logging.ERROR, logger="madoguchi.applications.attachments"),
        pytest.raises(UploadRefused, match="しばらくしてからもう一度"),
    ):
        attachment_store(
            procedure=procedure,
            field_key=FIELD,
            owner=resident,
            name="big.pdf",
            data=padded_pdf(STREAM_LIMIT + 1024 * 1024),
            now=now(),
        )
    assert "StreamMaxLength" in caplog.text
    assert not Attachment.objects.exists()
