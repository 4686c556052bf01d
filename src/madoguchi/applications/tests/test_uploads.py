"""Uploads are judged by their bytes: hostile files get a clear Japanese refusal and leave
nothing behind; accepted images lose their metadata; stored files are encrypted on disk."""

from __future__ import annotations

import gzip
import io
import os
import random
import struct
import zipfile
import zlib
from datetime import timedelta
from pathlib import Path

import pypdf
import pytest
from django.conf import settings as django_settings
from PIL import Image, PngImagePlugin
from pypdf.actions import JavaScript
from pypdf.annotations import Link

from madoguchi.applications.attachments import (
    AttachmentUnreadable,
    attachment_answer,
    attachment_delete_unclaimed,
    attachment_get_unclaimed,
    attachment_open,
    attachment_storage_name,
    attachment_store,
    attachments_purge_expired,
)
from madoguchi.applications.constants import (
    ATTACHMENT_MAX_BYTES_PER_APPLICATION,
    ATTACHMENT_MAX_FILES_PER_APPLICATION,
)
from madoguchi.applications.models import Application, Attachment, Draft
from madoguchi.applications.publishing import procedure_set_status
from madoguchi.applications.tests.samples import (
    DEFINITION,
    FIELD,
    handmade_pdf,
    padded_pdf,
    pdf_bytes,
    stored_files,
)
from madoguchi.applications.uploads import (
    PDF_INFLATE_BUDGET,
    PDF_MAX_PAGES,
    UploadRefused,
    inspect_upload,
    safe_file_name,
)
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.services import procedure_create_own
from madoguchi.core.time import now
from madoguchi.documents.receipt import ReceiptData, receipt_pdf
from madoguchi.forms.base import Context, FieldSpec, field_types
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.models import User
from madoguchi.tenants.models import Organisation

MB = 1024 * 1024
ALL = ["pdf", "jpeg", "png"]

# --- Files made on the spot --------------------------------------------------------------------


def object_stream(content: bytes) -> bytes:
    packed = zlib.compress(content)
    return (
        b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n" % len(packed)
        + packed
        + b"\nendstream"
    )


def packed_pdf(packed: bytes, *, catalog_extra: bytes) -> bytes:
    """A PDF whose object 5 lives inside the object stream 4 (``packed`` is its body), found
    through a cross-reference stream, as PDF 1.5+ writers (Word, Acrobat) save them."""
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        object_stream(b"5 0 " + packed),
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    rows = [struct.pack(">BIH", 0, 0, 65535)]
    for number, body in enumerate(bodies, start=1):
        rows.append(struct.pack(">BIH", 1, len(out), 0))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    rows.append(struct.pack(">BIH", 2, 4, 0))  # object 5: first in stream 4
    xref = len(out)
    rows.append(struct.pack(">BIH", 1, xref, 0))  # object 6: this cross-reference stream
    table = b"".join(rows)
    out += (
        b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
        % len(table)
        + table
        + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref
    )
    return bytes(out)


def noise_image(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    rng = random.Random(4)
    return Image.frombytes(
        mode, size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3))
    )


def png_bytes(image: Image.Image | None = None, **options) -> bytes:
    buffer = io.BytesIO()
    (image or noise_image()).save(buffer, "PNG", **options)
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image | None = None, **options) -> bytes:
    buffer = io.BytesIO()
    (image or noise_image()).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (members or {"申請書.pdf": pdf_bytes()}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bomb() -> bytes:
    """A small zip holding 200 MB of zeros."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("zeros.pdf", "w", force_zip64=True) as member,
    ):
        block = bytes(MB)
        for _ in range(200):
            member.write(block)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pixel_bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """Huge dimensions in a tiny file: the header says 10 gigapixels."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", rows)
        + png_chunk(b"IEND", b"")
    )


def refused(name: str, data: bytes, *, accept=ALL, max_bytes: int = 10 * MB) -> str:
    with pytest.raises(UploadRefused) as caught:
        inspect_upload(name=name, data=data, accept=accept, max_bytes=max_bytes)
    message = caught.value.message
    assert message == str(caught.value)
    assert any("\u3040" <= ch <= "\u30ff" for ch in message), message  # Japanese
    return message


# --- What passes -------------------------------------------------------------------------------


def test_a_real_pdf_is_kept_byte_for_byte_with_a_safe_name():
    data = pdf_bytes()
    clean = inspect_upload(name="住民票 写し.PDF", data=data, accept=ALL, max_bytes=MB)
    assert (clean.kind, clean.content_type, clean.name) == (
        "pdf",
        "application/pdf",
        "住民票 写し.pdf",
    )
    assert clean.data == data
    assert clean.size == len(data)
    assert len(clean.sha256) == 64


def test_the_name_follows_the_content_not_the_other_way_round():
    clean = inspect_upload(name="scan.jpg", data=png_bytes(), accept=ALL, max_bytes=MB)
    assert (clean.kind, clean.name) == ("png", "scan.png")
    clean = inspect_upload(name="写真", data=jpeg_bytes(), accept=ALL, max_bytes=MB)
    assert clean.name == "写真.jpg"


def test_jpeg_loses_exif_and_gps_and_is_turned_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    exif[0x010F] = "Camera maker"
    exif[0x8825] = {1: "N", 2: (35.0, 26.0, 36.0), 3: "E", 4: (139.0, 38.0, 18.0)}
    data = jpeg_bytes(noise_image((60, 20)), exif=exif.tobytes(), comment=b"secret")
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the GPS is there
    clean = inspect_upload(name="photo.jpeg", data=data, accept=ALL, max_bytes=MB)
    image = Image.open(io.BytesIO(clean.data))
    assert image.format == "JPEG"
    assert image.size == (20, 60)  # orientation applied
    assert dict(image.getexif()) == {}
    assert "exif" not in image.info
    assert "comment" not in image.info
    assert b"Camera maker" not in clean.data
    assert b"secret" not in clean.data


def test_png_loses_text_chunks_and_appended_bytes():
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "山田 花子")
    info.add_itxt("Comment", "東京都千代田区1-1")
    data = png_bytes(pnginfo=info) + b"trailing secret"
    clean = inspect_upload(name="a.png", data=data, accept=ALL, max_bytes=MB)
    image = Image.open(io.BytesIO(clean.data))
    image.load()
    assert not getattr(image, "text", {})
    assert b"trailing secret" not in clean.data
    assert image.size == (64, 48)


def test_an_accepted_type_outside_this_field_is_refused_by_name():
    message = refused("scan.png", png_bytes(), accept=["pdf"])
    assert message == "この書類は PDF で提出してください（選んだファイルはPNG画像です）。"


# --- The hostile matrix ------------------------------------------------------------------------

HTML = b"<!DOCTYPE html><html><body><script>fetch('/steal')</script></body></html>"


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("空.pdf", b"", "0バイト"),
        ("page.pdf", HTML, "ファイルの中身がPDFではありません。ウェブページ（HTML）"),
        ("page.html", HTML, "ウェブページ（HTML）"),
        ("doc.pdf", b"\xef\xbb\xbf  \n<html><p>hi</p></html>", "ファイルの中身がPDFではありません"),
        (
            "logo.png",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "ファイルの中身がPNG画像ではありません。ウェブページ（HTML）、XML、SVG",
        ),
        ("logo.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (
            "fake.pdf",
            b"%PDF-1.4\n<html><script>alert(document.cookie)</script></html>\n%%EOF\n",
            "ウェブページ（HTML）の記述",
        ),
        ("archive.pdf", zip_bytes(), "ファイルの中身がPDFではありません。圧縮ファイル"),
        ("申請書.docx", zip_bytes({"word/document.xml": b"<w:document/>"}), "Word・Excel"),
        ("bomb.zip", zip_bomb(), "圧縮ファイル"),
        ("data.pdf.gz", gzip.compress(pdf_bytes()), "圧縮ファイル"),
        ("x.7z", b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(40), "圧縮ファイル"),
        ("x.rar", b"Rar!\x1a\x07\x01\x00" + bytes(40), "圧縮ファイル"),
        ("x.tar", bytes(257) + b"ustar\x0000" + bytes(300), "圧縮ファイル"),
        ("setup.pdf", b"MZ\x90\x00" + bytes(100), "プログラム（実行ファイル）"),
        (
            "run.jpg",
            b"\x7fELF\x02\x01\x01" + bytes(100),
            "ファイルの中身がJPEG画像ではありません。プログラム",
        ),
        ("a.gif", b"GIF89a" + bytes(30), "この形式の画像"),
        ("note.txt", "ただの文章です".encode(), "この形式のファイル"),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "Word・Excel"),
    ],
    ids=lambda value: value if isinstance(value, str) and value.isprintable() else "",
)
def test_hostile_files_are_refused_with_a_reason(name, data, expected):
    assert expected in refused(name, data)


def test_polyglot_pdf_with_a_zip_appended_is_refused():
    data = pdf_bytes() + zip_bytes()
    assert "圧縮ファイル（ZIP など）がつながっている" in refused("poly.pdf", data)


def test_polyglot_jpeg_with_a_zip_appended_is_refused():
    data = jpeg_bytes() + zip_bytes({"payload.html": HTML})
    message = refused("photo.jpg", data)
    assert message.startswith("JPEG画像の後ろに圧縮ファイル")


def test_zip_signature_by_chance_inside_a_pdf_is_not_a_polyglot():
    # "PK\x05\x06" with nothing that makes it a zip directory: an ordinary PDF.
    data = handmade_pdf(b"<< /Note (PK\x05\x06 is just text here) >>")
    assert inspect_upload(name="a.pdf", data=data, accept=ALL, max_bytes=MB).kind == "pdf"


def test_too_large_is_refused_before_looking_inside():
    message = refused("big.pdf", b"%PDF-" + bytes(2 * MB), max_bytes=MB)
    assert message == "ファイルが大きすぎます（2MB）。1MB以下にしてから添付してください。"


@pytest.mark.parametrize(
    ("objects", "catalog"),
    [
        ((b"<< /S /JavaScript /JS (app.alert(1)) >>",), b"/OpenAction 4 0 R"),
        ((b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>",), b"/OpenAction 4 0 R"),  # #-escaped
        ((b"<< /S /Launch /F (cmd.exe) >>",), b"/OpenAction 4 0 R"),
        ((b"<< /EmbeddedFiles << /Names [] >> >>",), b"/Names 4 0 R"),
        ((b"<< /Fields [] /XFA 5 0 R >>", b"<< >>"), b"/AcroForm 4 0 R"),
        ((b"<< /WC << /S /URI /URI (https://evil.example/) >> >>",), b"/AA 4 0 R"),
    ],
    ids=["javascript", "escaped", "launch", "embedded", "xfa", "aa"],
)
def test_pdf_with_active_content_is_refused(objects, catalog):
    assert "自動で動く仕組み" in refused("form.pdf", handmade_pdf(*objects, catalog_extra=catalog))


def test_pdf_active_content_packed_in_an_object_stream_is_refused():
    data = packed_pdf(
        b"<< /S /JavaScript /JS (app.alert(1)) >>", catalog_extra=b"/OpenAction 5 0 R"
    )
    assert "自動で動く仕組み" in refused("form.pdf", data)
    harmless = packed_pdf(b"<< /Title (tegami) >>", catalog_extra=b"/Extra 5 0 R")
    assert inspect_upload(name="a.pdf", data=harmless, accept=ALL, max_bytes=MB).kind == "pdf"


def test_pdf_opening_at_a_page_is_fine():
    data = handmade_pdf(catalog_extra=b"/OpenAction [3 0 R /Fit]")
    assert inspect_upload(name="a.pdf", data=data, accept=ALL, max_bytes=MB).kind == "pdf"


# Each way round the old byte scanner, and each kind of active content, now found by parsing.
JS = b"<< /S /JavaScript /JS (app.alert(1)) >>"
URI = b"<< /S /URI /URI (https://evil.example/) >>"
LINK = b"<< /Type /Annot /Subtype /Link /Rect [72 700 300 720] /Border [0 0 0] /A %s >>"


@pytest.mark.parametrize(
    ("objects", "catalog", "page"),
    [
        # The review's bypass: a comment line "%stream" … "%endstream" hid the objects.
        ((JS,), b"/OpenAction 4 0 R", b""),
        ((b"<< /S /Launch /F (cmd.exe) >>",), b"/OpenAction 4 0 R", b""),
        # A URI that opens by itself: on opening, on closing, on showing a page.
        ((URI,), b"/OpenAction 4 0 R", b""),
        ((b"<< /WC 5 0 R >>", URI), b"/AA 4 0 R", b""),
        ((b"<< /O 5 0 R >>", URI), b"", b"/AA 4 0 R"),
        # … or at the end of a harmless action's /Next chain.
        ((b"<< /S /GoTo /D [3 0 R /Fit] /Next [5 0 R] >>", URI), b"/OpenAction 4 0 R", b""),
        # Scripts in the names tree and in a link's action chain; a launch from a link.
        ((b"<< /JavaScript 5 0 R >>", b"<< /Names [(a) 6 0 R] >>", JS), b"/Names 4 0 R", b""),
        ((LINK % b"6 0 R", b"", JS), b"", b"/Annots [4 0 R]"),
        (
            (LINK % b"<< /S /URI /URI (https://a.example/) /Next 6 0 R >>", b"", JS),
            b"",
            b"/Annots [4 0 R]",
        ),
        ((LINK % b"<< /S /Launch /F (calc.exe) >>",), b"", b"/Annots [4 0 R]"),
        (
            (LINK % b"<< /S /GoToR /F (\\\\\\\\evil\\\\share\\\\a.pdf) /D [0 /Fit] >>",),
            b"",
            b"/Annots [4 0 R]",
        ),
        ((LINK % b"<< /S /SubmitForm /F (https://evil.example/) >>",), b"", b"/Annots [4 0 R]"),
        ((LINK % b"<< /S /ImportData /F (data.fdf) >>",), b"", b"/Annots [4 0 R]"),
        # Files and forms that carry code.
        (
            (
                b"<< /Type /Filespec /F (a.exe) /EF << /F 5 0 R >> >>",
                b"<< /Type /EmbeddedFile /Length 0 >>\nstream\n\nendstream",
            ),
            b"",
            b"/Annots [<< /Type /Annot /Subtype /FileAttachment /FS 4 0 R /Rect [0 0 9 9] >>]",
        ),
        ((b"<< /Fields [] /XFA 5 0 R >>", b"<< >>"), b"/AcroForm 4 0 R", b""),
        ((b"<< /Type /Annot /Subtype /RichMedia /Rect [0 0 9 9] >>",), b"", b"/Annots [4 0 R]"),
    ],
    ids=[
        "comment-stream-js",
        "comment-stream-launch",
        "openaction-uri",
        "document-aa-uri",
        "page-aa-uri",
        "next-chain-uri",
        "names-tree-js",
        "annotation-js",
        "link-next-js",
        "annotation-launch",
        "annotation-gotor",
        "annotation-submit",
        "annotation-import",
        "file-attachment",
        "xfa",
        "richmedia",
    ],
)
def test_pdf_active_content_is_found_by_parsing(objects, catalog, page):
    data = handmade_pdf(*objects, catalog_extra=catalog, page_extra=page, hidden=True)
    assert "自動で動く仕組み" in refused("form.pdf", data)


def pypdf_built(build) -> bytes:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    build(writer)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_pdf_made_active_by_pypdf_is_refused():
    scripted = pypdf_built(lambda w: w.add_open_action(JavaScript("app.alert('x');")))
    attached = pypdf_built(lambda w: w.add_attachment("run.exe", b"MZ payload"))
    assert "自動で動く仕組み" in refused("js.pdf", scripted)
    assert "自動で動く仕組み" in refused("attached.pdf", attached)


def test_a_clickable_link_to_a_website_is_fine():
    def link(writer: pypdf.PdfWriter) -> None:
        writer.add_annotation(
            0, Link(rect=(72, 700, 300, 720), url="https://www.city.example.lg.jp/")
        )

    for data in (pypdf_built(link), handmade_pdf(LINK % URI, page_extra=b"/Annots [4 0 R]")):
        assert inspect_upload(name="a.pdf", data=data, accept=ALL, max_bytes=MB).kind == "pdf"


def test_our_own_receipt_pdf_passes():
    data = receipt_pdf(
        ReceiptData(
            organisation_name="横浜市",
            procedure_name="児童手当 認定請求",
            receipt_number="R-2026-000001",
            arrived_at_text="令和8年12月4日 9時00分",
            rows=[("申請者", "氏名", "山田 花子")],
            digest="0" * 64,
        ),
        generated_at=now(),
    )
    assert inspect_upload(name="受付票.pdf", data=data, accept=ALL, max_bytes=10 * MB).kind == "pdf"


def test_a_pdf_too_big_to_check_is_refused_without_inflating_it_all():
    data = packed_pdf(b"<< >>" + b" " * (PDF_INFLATE_BUDGET + MB), catalog_extra=b"/Extra 5 0 R")
    assert len(data) < MB
    assert "中身が多すぎる" in refused("bomb.pdf", data)


def test_a_pdf_with_more_pages_than_can_be_checked_is_refused():
    writer = pypdf.PdfWriter()
    for _ in range(PDF_MAX_PAGES + 1):
        writer.add_blank_page(width=100, height=100)
    buffer = io.BytesIO()
    writer.write(buffer)
    assert "ページ数や中身が多すぎる" in refused("many.pdf", buffer.getvalue())


def test_a_pdf_the_parser_cannot_read_is_refused_as_broken():
    data = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R >>\n" + b"(" * 5000 + b"\n%%EOF\n"
    assert "PDFファイルが壊れているか" in refused("bad.pdf", data)


def test_encrypted_pdf_is_refused():
    assert "パスワードで保護" in refused("locked.pdf", pdf_bytes(encrypt="secret"))


def test_pdf_without_its_end_is_refused_as_broken():
    data = pdf_bytes()
    assert "PDFファイルが壊れているか" in refused("half.pdf", data[: len(data) // 2])
    assert "PDFファイルが壊れているか" in refused("text.pdf", b"%PDF-1.4\nhello\n%%EOF\n")


def test_truncated_images_are_refused():
    png = png_bytes(noise_image((200, 200)))
    assert "途中までしかありません" in refused("cut.png", png[: len(png) // 2])
    jpeg = jpeg_bytes(noise_image((200, 200)))
    assert "途中までしかありません" in refused("cut.jpg", jpeg[: len(jpeg) // 2])


def test_pixel_bombs_are_refused_before_decoding():
    message = refused("bomb.png", pixel_bomb_png())
    assert message.startswith("画像の画素数が多すぎます（4000万画素まで）")
    # Under Pillow's own alarm (89 MP) but over ours: still refused, by our limit.
    buffer = io.BytesIO()
    Image.new("1", (8000, 6000)).save(buffer, "PNG")
    assert len(buffer.getvalue()) < 100_000
    assert "画素数が多すぎます" in refused("wide.png", buffer.getvalue())


def test_heic_without_a_decoder_asks_for_jpeg_or_png():
    data = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    assert "JPEG か PNG" in refused("IMG_0001.HEIC", data, accept=["heic", "jpeg"])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd.pdf"),
        ("C:\\Users\\hanako\\Desktop\\住民票.pdf", "住民票.pdf"),
        ("report\x00.exe", "report.pdf"),
        ("a\x1b[31mred\x07.pdf", "a[31mred.pdf"),
        ("invoice\u202egpj.exe", "invoicegpj.pdf"),  # right-to-left override
        ("\u200b\ufeff", "添付ファイル.pdf"),
        ("CON.pdf", "添付ファイル.pdf"),
        ("lpt1", "添付ファイル.pdf"),
        ("...", "添付ファイル.pdf"),
        ('what?<is>"this"|*.pdf', "what__is__this___.pdf"),
        ("tab\tand\nnewline.pdf", "tab and newline.pdf"),
        ("ｶﾀｶﾅ 髙﨑 𠮷野家.PDF", "ｶﾀｶﾅ 髙﨑 𠮷野家.pdf"),
        (None, "添付ファイル.pdf"),
    ],
)
def test_file_names_are_made_safe(raw, expected):
    assert safe_file_name(raw, "pdf") == expected


def test_long_names_are_cut_keeping_japanese_and_the_extension():
    name = safe_file_name("申" * 300 + ".pdf", "pdf")
    assert name == "申" * 66 + ".pdf"  # 200 bytes of UTF-8 at most for the stem
    assert safe_file_name("a" * 300, "png") == "a" * 80 + ".png"


def test_the_answer_a_file_makes_is_one_the_form_accepts():
    clean = inspect_upload(name="../x.pdf", data=pdf_bytes(), accept=ALL, max_bytes=MB)
    assert clean.name == "x.pdf"
    item = {"id": "0" * 32, "name": clean.name, "kind": clean.kind, "size": clean.size}
    field = FieldSpec(key="document", type="attachment", label="添付書類")
    assert field_types["attachment"].normalise([item], field, Context(today=now().date())) == [item]


# --- Storing -----------------------------------------------------------------------------------


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.CLAMD = ""
    return tmp_path


@pytest.fixture
def procedure(db):
    organisation = Organisation.objects.get(lg_code="141003")
    item = procedure_create_own(
        organisation=organisation, slug="uploads", definition=DEFINITION, now=now()
    )
    return procedure_set_status(
        organisation=organisation, procedure=item, status=ProcedureStatus.PUBLISHED
    )


GUEST = "guest-key-abcdefghijklmnop"


def attachment_path(row: Attachment) -> Path:
    """Where the default storage (``DATA_DIR/files``) keeps the file of ``row``."""
    return Path(django_settings.DATA_DIR) / "files" / attachment_storage_name(row)


def test_a_stored_file_is_encrypted_on_disk_and_reads_back(procedure, resident, data_dir):
    data = pdf_bytes()
    moment = now()
    attachment = attachment_store(
        procedure=procedure,
        field_key=FIELD,
        owner=resident,
        name="住民票.pdf",
        data=data,
        now=moment,
    )
    row = Attachment.objects.get(pk=attachment.pk)
    assert (row.name, row.kind, row.size, row.owner_id, row.guest_key) == (
        "住民票.pdf",
        "pdf",
        len(data),
        resident.pk,
        "",
    )
    assert row.scanned is False  # no clamd configured
    path = attachment_path(row)
    assert path.parent.name == str(moment.year) or path.parent.name == str(moment.year + 1)
    assert stored_files(data_dir) == [path]
    on_disk = path.read_bytes()
    assert b"%PDF" not in on_disk
    assert data not in on_disk
    assert os.stat(path).st_mode & 0o077 == 0
    assert attachment_open(attachment=row) == data
    assert attachment_answer(row) == {
        "id": row.pk.hex,
        "name": "住民票.pdf",
        "kind": "pdf",
        "size": len(data),
    }


def test_files_go_wherever_the_storages_setting_says(
    procedure, resident, data_dir, settings, django_capture_on_commit_callbacks
):
    # Domain code names no folder: another storage (here another place on disk, in production
    # object storage) is a setting, and reads, deletes and purges follow it.
    elsewhere = data_dir / "elsewhere"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "madoguchi.core.storage.DataDirStorage",
            "OPTIONS": {"location": str(elsewhere)},
        },
    }
    data = pdf_bytes()
    row = attachment_store(
        procedure=procedure, field_key=FIELD, owner=resident, name="a.pdf", data=data, now=now()
    )
    path = elsewhere / attachment_storage_name(row)
    assert path.is_file()
    assert os.stat(path).st_mode & 0o077 == 0
    assert stored_files(data_dir) == []  # nothing under DATA_DIR/files
    assert attachment_open(attachment=row) == data
    with django_capture_on_commit_callbacks(execute=True):
        assert attachment_delete_unclaimed(owner=resident, attachment_id=row.pk.hex)
    assert not path.exists()


def test_a_changed_or_missing_file_is_never_returned(procedure, resident, data_dir):
    row = attachment_store(
        procedure=procedure,
        field_key=FIELD,
        owner=resident,
        name="a.pdf",
        data=pdf_bytes(),
        now=now(),
    )
    path = attachment_path(row)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(AttachmentUnreadable):
        attachment_open(attachment=row)
    path.unlink()
    with pytest.raises(AttachmentUnreadable, match="見つかりません"):
        attachment_open(attachment=row)


@pytest.mark.parametrize(
    "field_key", ["applicant_name", "children", "no_such_field", "", "../../x", "main.photo"]
)
def test_only_attachment_fields_of_the_form_take_files(procedure, resident, data_dir, field_key):
    with pytest.raises(UploadRefused, match="この項目にはファイルを添付できません"):
        attachment_store(
            procedure=procedure,
            field_key=field_key,
            owner=resident,
            name="a.pdf",
            data=pdf_bytes(),
            now=now(),
        )
    assert not Attachment.objects.exists()
    assert stored_files(data_dir) == []


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("page.pdf", HTML),
        ("a.zip", zip_bytes()),
        ("x.pdf", b""),
        ("poly.pdf", pdf_bytes() + zip_bytes()),
    ],
)
def test_a_refused_upload_leaves_nothing_behind(procedure, resident, data_dir, name, data):
    kept = attachment_store(
        procedure=procedure,
        field_key=FIELD,
        owner=resident,
        name="kept.pdf",
        data=pdf_bytes(),
        now=now(),
    )
    before = stored_files(data_dir)
    with pytest.raises(UploadRefused):
        attachment_store(
            procedure=procedure, field_key=FIELD, owner=resident, name=name, data=data, now=now()
        )
    assert list(Attachment.objects.values_list("pk", flat=True)) == [kept.pk]
    assert stored_files(data_dir) == before
    assert attachment_open(attachment=kept) == pdf_bytes()


def test_each_field_applies_its_own_types_and_size(procedure, resident, data_dir):
    assert form_spec(procedure.form_version).field_map()["photo"].option("accept") == ["png"]
    with pytest.raises(UploadRefused) as caught:
        attachment_store(
            procedure=procedure,
            field_key="photo",
            owner=resident,
            name="a.pdf",
            data=pdf_bytes(),
            now=now(),
        )
    assert (
        caught.value.message == "この書類は PNG画像 で提出してください（選んだファイルはPDFです）。"
    )
    big = png_bytes(noise_image((300, 300)))
    assert len(big) > 200_000
    with pytest.raises(UploadRefused, match="ファイルが大きすぎます"):
        attachment_store(
            procedure=procedure,
            field_key="photo",
            owner=resident,
            name="a.png",
            data=big,
            now=now(),
        )
    assert not Attachment.objects.exists()
    stored = attachment_store(
        procedure=procedure,
        field_key="photo",
        owner=resident,
        name="写真.png",
        data=png_bytes(),
        now=now(),
    )
    assert (stored.field_key, stored.kind) == ("photo", "png")


@pytest.mark.parametrize("field_key", ["child_certificate", "children.child_certificate"])
def test_an_attachment_field_inside_a_group_takes_files(procedure, resident, data_dir, field_key):
    stored = attachment_store(
        procedure=procedure,
        field_key=field_key,
        owner=resident,
        name="証明書.pdf",
        data=pdf_bytes(),
        now=now(),
    )
    # Stored under the field's own key, which is how submission looks the file up.
    assert stored.field_key == "child_certificate"


def test_an_upload_needs_an_owner_or_a_guest_key(procedure, data_dir):
    with pytest.raises(ValueError, match="account or to a guest key"):
        attachment_store(
            procedure=procedure, field_key=FIELD, name="a.pdf", data=pdf_bytes(), now=now()
        )
    with pytest.raises(ValueError, match="account or to a guest key"):
        attachment_store(
            procedure=procedure,
            field_key=FIELD,
            guest_key="short",
            name="a.pdf",
            data=pdf_bytes(),
            now=now(),
        )


def test_file_count_per_application_is_limited(procedure, resident, data_dir):
    for index in range(ATTACHMENT_MAX_FILES_PER_APPLICATION):
        attachment_store(
            procedure=procedure,
            field_key=FIELD,
            owner=resident,
            name=f"{index}.pdf",
            data=pdf_bytes(),
            now=now(),
        )
    with pytest.raises(UploadRefused, match="20個まで"):
        attachment_store(
            procedure=procedure,
            field_key=FIELD,
            owner=resident,
            name="21.pdf",
            data=pdf_bytes(),
            now=now(),
        )
    assert Attachment.objects.count() == ATTACHMENT_MAX_FILES_PER_APPLICATION
    # Another uploader is not affected.
    attachment_store(
        procedure=procedure,
        field_key=FIELD,
        guest_key=GUEST,
        name="g.pdf",
        data=pdf_bytes(),
        now=now(),
    )


def test_total_size_per_application_is_limited(procedure, resident, data_dir):
    big = padded_pdf(9 * MB)
    assert len(big) == 9 * MB
    for index in range(ATTACHMENT_MAX_BYTES_PER_APPLICATION // len(big)):
        attachment_store(
            procedure=procedure,
            field_key=FIELD,
            owner=resident,
            name=f"{index}.pdf",
            data=big,
            now=now(),
        )
    with pytest.raises(UploadRefused, match="合計50MBまで"):
        attachment_store(
            procedure=procedure, field_key=FIELD, owner=resident, name="x.pdf", data=big, now=now()
        )
    assert Attachment.objects.count() == 5


def test_only_the_uploader_deletes_an_unsubmitted_file(
    procedure, resident, data_dir, django_capture_on_commit_callbacks
):
    other = User.objects.create_user("taro@example.jp", "correct horse battery 43")
    mine = attachment_store(
        procedure=procedure,
        field_key=FIELD,
        owner=resident,
        name="a.pdf",
        data=pdf_bytes(),
        now=now(),
    )
    guests = attachment_store(
        procedure=procedure,
        field_key=FIELD,
        guest_key=GUEST,
        name="g.pdf",
        data=pdf_bytes(),
        now=now(),
    )
    assert not attachment_delete_unclaimed(owner=other, attachment_id=mine.pk.hex)
    assert not attachment_delete_unclaimed(
        guest_key="another-guest-key-123456", attachment_id=guests.pk.hex
    )
    assert not attachment_delete_unclaimed(owner=resident, attachment_id=guests.pk.hex)
    assert not attachment_delete_unclaimed(owner=resident, attachment_id="not-a-uuid' OR 1=1 --")
    assert attachment_get_unclaimed(owner=other, attachment_id=mine.pk.hex) is None
    assert Attachment.objects.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert attachment_delete_unclaimed(guest_key=GUEST, attachment_id=guests.pk.hex)
        assert attachment_delete_unclaimed(owner=resident, attachment_id=mine.pk)
    assert not Attachment.objects.exists()
    assert stored_files(data_dir) == []


def submitted(procedure, resident) -> Application:
    return Application.objects.create(
        organisation=procedure.organisation,
        procedure=procedure,
        form_version=procedure.form_version,
        applicant=resident,
        receipt_number="R-TEST-0001",
        idempotency_scope="test",
        idempotency_key="k" * 20,
        arrived_at=now(),
        answers={},
        answers_digest="0" * 64,
    )


def test_a_submitted_file_cannot_be_deleted_by_its_uploader(procedure, resident, data_dir):
    row = attachment_store(
        procedure=procedure,
        field_key=FIELD,
        owner=resident,
        name="a.pdf",
        data=pdf_bytes(),
        now=now(),
    )
    Attachment.objects.filter(pk=row.pk).update(
        application=submitted(procedure, resident), revision=1
    )
    assert not attachment_delete_unclaimed(owner=resident, attachment_id=row.pk.hex)
    assert Attachment.objects.filter(pk=row.pk).exists()
    assert attachment_path(row).exists()


def test_purge_deletes_only_old_unclaimed_files_without_a_live_draft(procedure, resident, data_dir):
    moment = now()
    old = moment - timedelta(days=40)
    guest_old = attachment_store(
        procedure=procedure,
        field_key=FIELD,
        guest_key=GUEST,
        name="a.pdf",
        data=pdf_bytes(),
        now=old,
    )
    owner_old = attachment_store(
        procedure=procedure,
        field_key=FIELD,
        owner=resident,
        name="b.pdf",
        data=pdf_bytes(),
        now=old,
    )
    recent = attachment_store(
        procedure=procedure,
        field_key=FIELD,
        guest_key=GUEST,
        name="c.pdf",
        data=pdf_bytes(),
        now=moment,
    )
    claimed = attachment_store(
        procedure=procedure,
        field_key=FIELD,
        owner=resident,
        name="d.pdf",
        data=pdf_bytes(),
        now=old,
    )
    Attachment.objects.filter(pk=claimed.pk).update(
        application=submitted(procedure, resident), revision=1
    )
    draft = Draft.objects.create(
        organisation=procedure.organisation,
        procedure=procedure,
        form_version=procedure.form_version,
        applicant=resident,
        expires_at=moment + timedelta(days=3),
    )
    leftover = attachment_path(recent).with_name(".leftover.tmp")
    leftover.write_bytes(b"half")
    os.utime(leftover, (old.timestamp(), old.timestamp()))

    assert attachments_purge_expired(now=moment) == 1  # the resident's draft keeps b.pdf
    assert set(Attachment.objects.values_list("pk", flat=True)) == {
        owner_old.pk,
        recent.pk,
        claimed.pk,
    }
    assert not attachment_path(guest_old).exists()
    assert not leftover.exists()

    draft.expires_at = moment - timedelta(days=1)
    draft.save()
    assert attachments_purge_expired(now=moment) == 1
    assert set(Attachment.objects.values_list("pk", flat=True)) == {recent.pk, claimed.pk}
    assert not attachment_path(owner_old).exists()
    assert attachment_path(claimed).exists()
    assert attachment_path(recent).exists()
    assert attachments_purge_expired(now=moment) == 0
