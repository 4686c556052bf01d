"""Files and a form made on the spot, shared by the upload and virus-scan tests (a helper
module, not a test module: no test module imports another)."""

from __future__ import annotations

import io
from pathlib import Path

from reportlab.pdfgen import canvas


def pdf_bytes(text: str = "住民票の写し 添付書類", *, encrypt: str | None = None) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, encrypt=encrypt, invariant=True)  # same bytes every time
    page.drawString(72, 720, text.encode("ascii", "replace").decode())
    page.showPage()
    page.save()
    return buffer.getvalue()


def handmade_pdf(
    *objects: bytes, catalog_extra: bytes = b"", page_extra: bytes = b"", hidden: bool = False
) -> bytes:
    """A minimal well-formed PDF with a real xref table; ``objects`` start at number 4.

    ``hidden`` puts those objects between comment lines that look like ``%stream`` and
    ``%endstream``: comments to a PDF reader, a stream to a byte scanner.
    """
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] " + page_extra + b">>",
        *objects,
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(bodies, start=1):
        if hidden and number == 4:
            out += b"%stream\n"
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    if hidden:
        out += b"%endstream\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(bodies) + 1,
        xref,
    )
    return bytes(out)


DEFINITION = """
schema_version: 1
key: own_uploads
title: 添付のある申請
steps:
  - key: main
    title: 申請内容
    sections:
      - key: documents
        title: 書類
        fields:
          - {key: applicant_name, type: text, label: 氏名, required: true}
          - {key: residence_document, type: attachment, label: 住所がわかる書類, options: {accept: [pdf, jpeg, png], max_files: 3}}
          - {key: photo, type: attachment, label: 写真, options: {accept: [png], max_bytes: 200000}}
          - key: children
            type: group
            label: 児童
            options: {min_items: 0, max_items: 5}
            fields:
              - {key: child_certificate, type: attachment, label: 証明書, options: {accept: [pdf]}}
"""


FIELD = "residence_document"  # accept pdf, jpeg, png


def stored_files(root) -> list[Path]:
    return (
        sorted(p for p in (root / "files").rglob("*") if p.is_file())
        if (root / "files").exists()
        else []
    )


def padded_pdf(size: int) -> bytes:
    base = pdf_bytes()
    head, rest = base.split(b"\n", 1)
    return head + b"\n%" + b"a" * (size - len(base) - 2) + b"\n" + rest
