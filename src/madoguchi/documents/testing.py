"""Test helpers of issued documents (imported by tests only)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from madoguchi.documents.codes import code_new
from madoguchi.documents.constants import DocumentKind
from madoguchi.documents.models import Document
from madoguchi.tenants.models import Organisation


def document_record_make(
    *,
    organisation: Organisation,
    pdf: bytes = b"%PDF-1.7 test",
    kind: str = DocumentKind.DECISION_APPROVE,
    title: str = "承認通知書",
    source_key: str = "",
    now: datetime,
    name: str = "",
) -> Document:
    """A register record without numbering, sealing or register entry, for tests of what
    merely shows or purges documents."""
    code = code_new()
    return Document.objects.create(
        organisation=organisation,
        kind=kind,
        title=title,
        name=name or title.split("（", 1)[0],
        source_key=source_key or f"test:{code}",
        code=code,
        issued_at=now,
        pdf=pdf,
        sha256=hashlib.sha256(pdf).hexdigest(),
        issued_length=len(pdf),
    )


class LoopbackTsa:
    """A real RFC 3161 timestamp authority over HTTP on 127.0.0.1, in a thread (tests and
    ``make bench``): pyHanko's timestamper with the test seal CA's TSA certificate behind a
    plain HTTP server. ``url`` answers timestamps; ``url_down`` answers 503 like a TSA in
    maintenance. Stop it with :meth:`stop`."""

    def __init__(self, *, now: datetime) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from asn1crypto import tsp

        from madoguchi.documents.seal import test_timestamper

        stamper = test_timestamper(now=now)
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.path != "/tsa":
                    self.send_response(503)
                    self.end_headers()
                    return
                request = tsp.TimeStampReq.load(body)
                answer = stamper.request_tsa_response(request).dump()
                tsa.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/tsa"
        self.url_down = f"http://127.0.0.1:{port}/down"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def tiny_pdf(text: str = "") -> bytes:
    """A real one-page PDF (pypdf), different for each ``text``."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": text or "test"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def document_issue_make(
    *,
    organisation: Organisation,
    source_key: str,
    now: datetime,
    kind: str = DocumentKind.DECISION_APPROVE,
    procedure_key: str | None = None,
) -> Document:
    """Issue one document through the real step (number, code, seal, register), in its own
    transaction as the deciding service would."""
    from django.db import transaction

    from madoguchi.documents.issuance import document_issue

    with transaction.atomic():
        return document_issue(
            organisation=organisation,
            kind=DocumentKind(kind),
            title=DocumentKind(kind).label,
            source_key=source_key,
            build=lambda stamp: tiny_pdf(f"{stamp.number} {stamp.code}"),
            now=now,
            procedure_key=procedure_key,
        )
