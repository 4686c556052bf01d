"""Inspection of an uploaded file before anything is stored: pure, no database, no disk.

The type is decided by the bytes (magic numbers and structure), never by the file name or the
browser's content type. Only PDF, JPEG, PNG (and HEIC where Pillow can decode it) pass; archives,
markup, programs and files that are two things at once (polyglots) are refused. Images are
decoded and written anew, so that EXIF (GPS), XMP, text chunks and anything appended are gone.
PDFs are stored as sent, so they are parsed (pypdf) and refused when they carry active content or
cannot be checked.
Every refusal is an :class:`UploadRefused` with a Japanese sentence the resident can act on.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pypdf
from PIL import Image, ImageFile, ImageOps

from madoguchi.applications.constants import ATTACHMENT_MAX_PIXELS
from madoguchi.forms.field_types import ATTACHMENT_KINDS
from madoguchi.forms.japanese import ParseError, clean_text

CONTENT_TYPES: Final = {
    "pdf": "application/pdf",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "heic": "image/heic",
}
EXTENSIONS: Final = {"pdf": ".pdf", "jpeg": ".jpg", "png": ".png", "heic": ".heic"}
_PIL_FORMATS: Final = {"jpeg": "JPEG", "png": "PNG", "heic": "HEIF"}
_CLAIMED_BY_EXTENSION: Final = {
    "pdf": "pdf",
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "jpe": "jpeg",
    "png": "png",
    "heic": "heic",
    "heif": "heic",
}

FALLBACK_STEM: Final = "添付ファイル"
MAX_NAME_CHARS: Final = 80
MAX_NAME_BYTES: Final = 200  # UTF-8; file systems stop at 255 bytes, downloads keep the name
#: Bytes of PDF streams decompressed, at most (per stream, and object streams in all), before
#: the PDF counts as uncheckable.
PDF_INFLATE_BUDGET: Final = 64 * 1024 * 1024

_TRY_AGAIN_AS = "PDF、JPEG、PNG のいずれかで保存し直してから添付してください。"


class UploadRefused(Exception):
    """The file cannot be accepted. ``message`` is Japanese and says what to do instead."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CleanUpload:
    """A file that passed inspection: what is stored (``data``) and its facts."""

    name: str
    kind: str
    content_type: str
    data: bytes
    size: int
    sha256: str


def inspect_upload(*, name: str, data: bytes, accept: Sequence[str], max_bytes: int) -> CleanUpload:
    """Decide by content what the file is, refuse what must not be stored, clean the rest.

    Guarantees for the result: ``kind`` is in ``accept``; ``size`` ≤ ``max_bytes`` and > 0;
    ``data`` is the PDF as sent (checked) or the image decoded and re-encoded (no metadata,
    orientation applied); ``name`` is safe to show and to offer as a download name, with the
    extension of the real type. Raises :class:`UploadRefused` with a Japanese message.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise UploadRefused("ファイルを読み取れませんでした。もう一度選んでください。")
    data = bytes(data)
    if not data:
        raise UploadRefused("ファイルが空です（0バイト）。中身のあるファイルを選んでください。")
    if len(data) > max_bytes:  # before any heavy work
        raise upload_too_large(len(data), max_bytes)
    claimed = _claimed_kind(name)
    kind = _sniff(data, claimed)
    _refuse_polyglot(data, kind)
    accepted = [k for k in accept if k in ATTACHMENT_KINDS]
    if kind not in accepted:
        names = "、".join(ATTACHMENT_KINDS[k] for k in accepted) or "PDF"
        raise UploadRefused(
            f"この書類は {names} で提出してください（選んだファイルは{ATTACHMENT_KINDS[kind]}です）。"
        )
    if kind == "pdf":
        _check_pdf(data)
    else:
        data = _reencode_image(data, kind, max_bytes)
    return CleanUpload(
        name=safe_file_name(name, kind),
        kind=kind,
        content_type=CONTENT_TYPES[kind],
        data=data,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def stored_upload_problem(*, data: bytes, kind: str) -> str:
    """Why stored bytes must not be shown in a browser, as a Japanese sentence for staff
    (empty when they may be): the same checks as on upload, run again on what is stored.

    A file passes when its bytes are still the ``kind`` recorded (magic and structure), hold
    no web page or archive (polyglot), and, for a PDF, no active content. A file stored
    before a check was added, or changed in the storage behind our back, fails here.
    Never raises.
    """
    try:
        if _sniff(data, None) != kind:
            return "ファイルの中身が、受け付けたときの種類と違います。"
        _refuse_polyglot(data, kind)
        if kind == "pdf":
            _check_pdf(data)
    except UploadRefused as refused:
        return refused.message
    except Exception:  # whatever a hostile file trips over: not safe to show
        return "ファイルの中身を確認できませんでした。"
    return ""


def upload_too_large(size: int | None, max_bytes: int) -> UploadRefused:
    """The refusal of a file over ``max_bytes`` (``size`` None: the size is not known)."""
    shown = f"（{_size_text(size)}）" if isinstance(size, int) else ""
    return UploadRefused(
        f"ファイルが大きすぎます{shown}。{_size_text(max_bytes)}以下にしてから添付してください。"
    )


# --- What the bytes are ------------------------------------------------------------------------

_ARCHIVE_MAGIC: Final = (
    b"PK\x03\x04",  # zip, and so docx/xlsx/pptx, odt, jar, apk, epub
    b"PK\x05\x06",  # empty zip
    b"PK\x07\x08",  # spanned zip
    b"\x1f\x8b",  # gzip
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"\x28\xb5\x2f\xfd",  # zstd
    b"MSCF",  # cab
    b"\x1f\x9d",  # compress (.Z)
    b"\x04\x22\x4d\x18",  # lz4
)
_EXECUTABLE_MAGIC: Final = (
    b"MZ",
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # Mach-O universal, and Java classes
    b"#!",
    b"\x00asm",
    b"dex\n",
)
_OTHER_IMAGE_MAGIC: Final = (
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"\x00\x00\x01\x00",
)
_HEIC_BRANDS: Final = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)
#: Tags that make a browser (or a mail client) treat the file as a page with scripts.
_MARKUP_TAGS: Final = (
    b"<html",
    b"<script",
    b"<svg",
    b"<!doctype",
    b"<body",
    b"<head",
    b"<iframe",
    b"<object",
    b"<embed",
    b"<?xml-stylesheet",
)


def _sniff(data: bytes, claimed: str | None) -> str:
    """The accepted kind the bytes are, or an :class:`UploadRefused` saying what they are."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIC_BRANDS and b"avif" not in data[8:64]:
        return "heic"
    prefix = _not_what_name_says(claimed)
    if data.startswith(_ARCHIVE_MAGIC) or data[257:262] == b"ustar":
        raise UploadRefused(
            f"{prefix}圧縮ファイル（ZIP など）や Word・Excel のファイルは添付できません。"
            f"中のファイルを1つずつ、{_TRY_AGAIN_AS}"
        )
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise UploadRefused(f"{prefix}Word・Excel などのファイルは添付できません。{_TRY_AGAIN_AS}")
    if data.startswith(_EXECUTABLE_MAGIC):
        raise UploadRefused(f"{prefix}プログラム（実行ファイル）は添付できません。")
    if _looks_like_markup(data):
        raise UploadRefused(
            f"{prefix}ウェブページ（HTML）、XML、SVG などのファイルは添付できません。{_TRY_AGAIN_AS}"
        )
    if data.startswith(_OTHER_IMAGE_MAGIC) or data[8:12] == b"WEBP" or data[4:8] == b"ftyp":
        raise UploadRefused(f"{prefix}この形式の画像は添付できません。{_TRY_AGAIN_AS}")
    raise UploadRefused(f"{prefix}この形式のファイルは添付できません。{_TRY_AGAIN_AS}")


def _not_what_name_says(claimed: str | None) -> str:
    return f"ファイルの中身が{ATTACHMENT_KINDS[claimed]}ではありません。" if claimed else ""


def _looks_like_markup(data: bytes) -> bool:
    head = data[:1024]
    for bom, encoding in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            head = head[2:].decode(encoding, "ignore").encode("ascii", "ignore")
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n\x0c\x00")
    return head.startswith(b"<") or _markup_near_start(data)


def _markup_near_start(data: bytes) -> bool:
    # Browsers sniff the first 512 bytes for HTML; twice that leaves no room to hide.
    head = data[:1024].lower().replace(b"\x00", b"")
    return any(tag in head for tag in _MARKUP_TAGS)


def _refuse_polyglot(data: bytes, kind: str) -> None:
    """A file that is also a web page or an archive is refused, whatever it starts as."""
    if _markup_near_start(data):
        raise UploadRefused(
            f"ファイルの中にウェブページ（HTML）の記述が含まれているため、受け付けられません。{_TRY_AGAIN_AS}"
        )
    if _has_zip_directory(data) or b"Rar!\x1a\x07" in data or b"7z\xbc\xaf\x27\x1c" in data:
        raise UploadRefused(
            f"{ATTACHMENT_KINDS[kind]}の後ろに圧縮ファイル（ZIP など）がつながっているため、"
            f"受け付けられません。{_TRY_AGAIN_AS}"
        )


def _has_zip_directory(data: bytes) -> bool:
    """Whether a zip reader would find an archive here: an end-of-central-directory record
    near the end that points at a central directory (appended data, a comment, a polyglot).

    The structural check keeps a chance ``PK\\x05\\x06`` inside compressed data from counting.
    """
    start = max(0, len(data) - (0xFFFF + 22 + 1024))
    position = len(data)
    while True:
        position = data.rfind(b"PK\x05\x06", start, position)
        if position < 0:
            return False
        record = data[position : position + 22]
        if len(record) == 22:
            _, _, _, entries, cd_size, cd_offset, comment = struct.unpack("<4xHHHHIIH", record)
            directory = position - cd_size
            if (
                position + 22 + comment <= len(data)
                and cd_offset <= position
                and directory >= 0
                and (entries == 0 or data[directory : directory + 4] == b"PK\x01\x02")
            ):
                return True


# --- PDF ---------------------------------------------------------------------------------------
#
# A PDF is parsed by pypdf and its object graph walked from the catalog: the names tree, every
# page and its annotations, the form, outlines and every action reachable from them, including
# /Next chains. Bytes are never searched for names: comments, strings and streams can hide or
# fake any keyword, and only the objects a reader resolves count.

#: Action types that run code, start programs, open other files or send data, anywhere.
_PDF_REFUSED_ACTIONS: Final = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/ImportData",
        "/SubmitForm",
        "/GoToR",
        "/GoToE",
        "/GoTo3DView",
        "/RichMediaExecute",
        "/Rendition",
        "/Movie",
        "/Sound",
    }
)
#: Keys that hold scripts, attached files or an XFA form, in any dictionary.
_PDF_REFUSED_KEYS: Final = frozenset({"/JS", "/JavaScript", "/EmbeddedFiles", "/EF", "/XFA"})
#: Annotations that play media, carry a file or run a 3D script.
_PDF_REFUSED_SUBTYPES: Final = frozenset(
    {"/RichMedia", "/FileAttachment", "/Screen", "/Movie", "/Sound", "/3D"}
)
#: Keys whose actions run by themselves (on opening, on a page, on focus …), not by a click.
_PDF_TRIGGER_KEYS: Final = frozenset({"/OpenAction", "/AA"})
#: Actions that may not run by themselves: a URI opened on opening is a drive-by visit.
_PDF_REFUSED_AUTOMATIC: Final = frozenset({"/URI"})
#: Objects (indirect ones) and values (all) looked at, at most, before the PDF counts as
#: too complex to check: a hostile PDF must not hang a worker.
PDF_MAX_OBJECTS: Final = 100_000
PDF_MAX_VALUES: Final = 2_000_000
PDF_MAX_PAGES: Final = 5_000
PDF_MAX_ACTION_CHAIN: Final = 100

_PDF_BROKEN = (
    "PDFファイルが壊れているか、途中までしかありません。"
    "元のファイルからPDFとして保存し直してから添付してください。"
)
_PDF_TOO_LARGE = (
    "このPDFはページ数や中身が多すぎるため、確認できません。"
    "いくつかに分けるか、「PDFとして印刷」で保存し直してから添付してください。"
)
_PDF_ENCRYPTED = (
    "パスワードで保護（暗号化）されたPDFは、中身を確認できないため受け付けられません。"
    "保護を外したPDFを添付してください。"
)
_PDF_ACTIVE = (
    "このPDFには自動で動く仕組み（JavaScript、開いたときにウェブページやほかのファイルを開く設定、"
    "埋め込みファイル、入力フォームの送信など）が含まれているため、受け付けられません。"
    "紙に印刷してスキャンしたPDFか、「PDFとして印刷」で保存し直したPDFを添付してください。"
)


class _PdfActive(Exception):
    """Internal: the walk met active content (turned into :class:`UploadRefused`)."""


def _check_pdf(data: bytes) -> None:
    """Refuse a PDF that is encrypted, unreadable, too complex to check, or active.

    Active: JavaScript anywhere, actions that launch programs, import or submit data, open
    other files (GoToR, GoToE) or media, embedded files, XFA forms, and a URI that opens by
    itself (/OpenAction, /AA). A link a person clicks (an annotation's /A with /URI) is fine.
    """
    if b"%%EOF" not in data[-1024:]:
        raise UploadRefused(_PDF_BROKEN)
    try:
        with pypdf.apply_configuration(
            zlib_maximum_output_length=PDF_INFLATE_BUDGET,
            lzw_maximum_output_length=PDF_INFLATE_BUDGET,
            run_length_maximum_output_length=PDF_INFLATE_BUDGET,
            array_based_stream_maximum_output_length=PDF_INFLATE_BUDGET,
            stream_decoding_work_maximum_length=4 * PDF_INFLATE_BUDGET,
        ):
            reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise UploadRefused(_PDF_ENCRYPTED)
            _inflate_object_streams(reader)
            _walk_pdf(reader)
    except UploadRefused:
        raise
    except _PdfActive:
        raise UploadRefused(_PDF_ACTIVE) from None
    except (pypdf.errors.LimitReachedError, MemoryError, RecursionError):
        raise UploadRefused(_PDF_TOO_LARGE) from None
    except (pypdf.errors.FileNotDecryptedError, pypdf.errors.DependencyError):
        raise UploadRefused(_PDF_ENCRYPTED) from None
    except Exception:  # whatever the parser trips over is a broken file, never a 500
        raise UploadRefused(_PDF_BROKEN) from None


def _inflate_object_streams(reader: pypdf.PdfReader) -> None:
    """Decode every object stream once, within one budget for the whole file: objects packed
    in them are only readable inflated, and a file full of deflate bombs must stop early."""
    budget = PDF_INFLATE_BUDGET
    numbers = {number for number, _ in reader.xref_objStm.values()}
    if len(numbers) > PDF_MAX_OBJECTS:
        raise UploadRefused(_PDF_TOO_LARGE)
    for number in sorted(numbers):
        stream = reader.get_object(number)
        if not isinstance(stream, pypdf.generic.StreamObject):
            raise UploadRefused(_PDF_BROKEN)
        budget -= len(stream.get_data())
        if budget < 0:
            raise UploadRefused(_PDF_TOO_LARGE)


def _walk_pdf(reader: pypdf.PdfReader) -> None:
    """Look at every object reachable from the catalog, each indirect object once."""
    root = reader.trailer.get("/Root")
    if root is None or not isinstance(root.get_object(), pypdf.generic.DictionaryObject):
        raise UploadRefused(_PDF_BROKEN)
    seen: set[tuple[int, int]] = set()
    pending: list[Any] = [root]
    values = pages = 0
    while pending:
        item = pending.pop()
        values += 1
        if values > PDF_MAX_VALUES:
            raise UploadRefused(_PDF_TOO_LARGE)
        if isinstance(item, pypdf.generic.IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > PDF_MAX_OBJECTS:
                raise UploadRefused(_PDF_TOO_LARGE)
            item = item.get_object()
        if isinstance(item, pypdf.generic.DictionaryObject):  # streams too (their dictionary)
            _check_pdf_dictionary(item)
            if item.get("/Type") == "/Page":
                pages += 1
                if pages > PDF_MAX_PAGES:
                    raise UploadRefused(_PDF_TOO_LARGE)
            pending.extend(item.values())
        elif isinstance(item, pypdf.generic.ArrayObject):
            pending.extend(item)


def _resolved(value: Any) -> Any:
    return value.get_object() if isinstance(value, pypdf.generic.IndirectObject) else value


def _check_pdf_dictionary(dictionary: pypdf.generic.DictionaryObject) -> None:
    if not _PDF_REFUSED_KEYS.isdisjoint(dictionary.keys()):
        raise _PdfActive
    if _resolved(dictionary.get("/S")) in _PDF_REFUSED_ACTIONS:
        raise _PdfActive
    if _resolved(dictionary.get("/Type")) in {"/EmbeddedFile", "/Filespec"} and "/EF" in dictionary:
        raise _PdfActive
    if _resolved(dictionary.get("/Subtype")) in _PDF_REFUSED_SUBTYPES:
        raise _PdfActive
    for key in _PDF_TRIGGER_KEYS & set(dictionary.keys()):
        trigger = _resolved(dictionary[key])
        if key == "/AA" and isinstance(trigger, pypdf.generic.DictionaryObject):
            for action in trigger.values():
                _check_automatic_action(action)
        elif key == "/OpenAction":  # an array is a destination (a page to show): fine
            _check_automatic_action(trigger)


def _check_automatic_action(action: Any) -> None:
    """An action that runs by itself, with the actions its /Next chain runs after it."""
    pending = [action]
    steps = 0
    while pending:
        steps += 1
        if steps > PDF_MAX_ACTION_CHAIN:
            raise UploadRefused(_PDF_TOO_LARGE)
        current = _resolved(pending.pop())
        if not isinstance(current, pypdf.generic.DictionaryObject):
            continue
        if _resolved(current.get("/S")) in _PDF_REFUSED_AUTOMATIC:
            raise _PdfActive
        following = _resolved(current.get("/Next"))
        if isinstance(following, pypdf.generic.ArrayObject):
            pending.extend(following)
        elif following is not None:
            pending.append(following)


# --- Images ------------------------------------------------------------------------------------

_IMAGE_BROKEN = "画像が壊れているか、途中までしかありません。もう一度撮影するか保存し直してから添付してください。"
_PNG_MODES: Final = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"})


def _reencode_image(data: bytes, kind: str, max_bytes: int) -> bytes:
    """Decode within the pixel limit, apply the EXIF orientation and write a new file that
    holds pixels only (no EXIF, GPS, XMP, text chunks, ICC, trailing data)."""
    pixels_text = f"{ATTACHMENT_MAX_PIXELS // 10_000}万画素"
    too_many_pixels = UploadRefused(
        f"画像の画素数が多すぎます（{pixels_text}まで）。"
        "画像を小さくするか、解像度を下げて保存し直してから添付してください。"
    )
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # a process-wide switch: never decode half an image
        raise UploadRefused(_IMAGE_BROKEN)
    Image.init()
    if _PIL_FORMATS[kind] not in Image.OPEN:  # HEIC needs pillow-heif, which we do not ship
        raise UploadRefused(
            "HEIC形式の画像は、この窓口では読み取れません。JPEG か PNG で保存し直してから"
            "添付してください（iPhone では「設定」→「カメラ」→「フォーマット」で"
            "「互換性優先」を選ぶと JPEG で撮影できます）。"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[kind]])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise too_many_pixels from None
        except Exception:  # any decoder failure is a broken file, never a 500
            raise UploadRefused(_IMAGE_BROKEN) from None
        width, height = image.size
        if width <= 0 or height <= 0:
            raise UploadRefused(_IMAGE_BROKEN)
        if width * height > ATTACHMENT_MAX_PIXELS:  # checked on the header, before decoding
            raise too_many_pixels
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise too_many_pixels from None
        except Exception:  # truncated or corrupt data in any decoder
            raise UploadRefused(_IMAGE_BROKEN) from None
    transparency = upright.info.get("transparency") if upright.mode in {"P", "L", "RGB"} else None
    upright.info = {} if transparency is None else {"transparency": transparency}
    if kind == "jpeg" and upright.mode not in {"L", "RGB"}:
        upright = upright.convert("RGB")
    elif kind == "png" and upright.mode not in _PNG_MODES:
        upright = upright.convert("RGBA")
    attempts = [{"quality": 90}, {"quality": 75}] if kind == "jpeg" else [{"compress_level": 6}]
    if kind == "png":
        attempts.append({"compress_level": 9})
    for options in attempts:
        output = io.BytesIO()
        try:
            upright.save(output, format=_PIL_FORMATS[kind], **options)
        except Exception:  # an image Pillow read but cannot write back
            raise UploadRefused(_IMAGE_BROKEN) from None
        if output.tell() <= max_bytes:
            return output.getvalue()
    raise UploadRefused(
        f"画像を安全な形に変換すると{_size_text(max_bytes)}を超えてしまいます。"
        "画像を小さくしてから添付してください。"
    )


# --- Names -------------------------------------------------------------------------------------

_WINDOWS_RESERVED: Final = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])$", re.IGNORECASE)
_UNSAFE_CHARACTERS: Final = re.compile(r'[<>:"|?*]')


def _claimed_kind(name: object) -> str | None:
    if not isinstance(name, str):
        return None
    _, dot, extension = name.rpartition(".")
    return _CLAIMED_BY_EXTENSION.get(extension.strip().lower()) if dot else None


def safe_file_name(raw: object, kind: str) -> str:
    """A name safe to show and to offer as a download, ending in the real type's extension.

    Drops folders (``../``, ``C:\\``), control, format (bidi override, zero width) and
    surrogate characters, characters Windows refuses, reserved device names; keeps Japanese.
    Falls back to 「添付ファイル.<ext>」 when nothing readable is left.
    """
    text = unicodedata.normalize("NFC", raw) if isinstance(raw, str) else ""
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
        or ch in "\t\n\r"
    )
    text = _UNSAFE_CHARACTERS.sub("_", text)
    text = re.sub(r"\s+", " ", text)
    stem, dot, extension = text.rpartition(".")
    if dot and re.fullmatch(r"[A-Za-z0-9]{1,5}", extension.strip()):
        text = stem
    stem = text.strip(" .")
    if _WINDOWS_RESERVED.match(stem) or _WINDOWS_RESERVED.match(stem.split(".")[0]):
        stem = ""
    stem = _shorten(stem)
    try:
        stem = clean_text(stem)
    except ParseError:  # cannot happen after the filter above; the fallback is still right
        stem = ""
    return f"{stem or FALLBACK_STEM}{EXTENSIONS[kind]}"


def _shorten(stem: str) -> str:
    stem = stem[:MAX_NAME_CHARS]
    while len(stem.encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem.rstrip(" .")


def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        value = size / (1024 * 1024)
        return f"{value:.1f}".removesuffix(".0") + "MB"
    if size >= 1024:
        return f"{size // 1024}KB"
    return f"{size}バイト"
