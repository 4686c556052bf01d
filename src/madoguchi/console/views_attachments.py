"""Console: the files of an application, shown beside the answers and downloaded.

The preview itself is part of the application page (``?preview=<file id>``, see
``views_review``); these two views serve the bytes. Both look the application and the file
up inside the staff member's organisation (404 otherwise) and each read is audited by
:func:`madoguchi.applications.attachment_review.attachment_read`.

Inline: only a file that passed the checks, with its own type, ``Content-Disposition:
inline``, ``X-Content-Type-Options: nosniff`` and a Content-Security-Policy that lets it run
nothing (an image document is sandboxed; a PDF gets no script, no connection and may be
framed by the console only — Chromium's PDF viewer refuses a sandboxed document).
Download: ``attachment``, with the file's name for old clients in ASCII and in full
(Japanese) by RFC 5987; a suspicious file goes as ``application/octet-stream``.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from madoguchi.applications.attachment_review import AttachmentNotShown, Purpose, attachment_read
from madoguchi.applications.attachments import AttachmentUnreadable
from madoguchi.applications.inbox import application_get
from madoguchi.applications.models import Application, Attachment
from madoguchi.console.access import staff_required
from madoguchi.core.time import now
from madoguchi.identity.models import Staff

#: The policy of a file shown inline: nothing runs, nothing is fetched, framed by us only.
IMAGE_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"
)
PDF_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'; form-action 'none'; base-uri 'none'"


def content_disposition(disposition: str, name: str) -> str:
    """RFC 6266 with RFC 5987: ``filename`` an ASCII stand-in (quotes and controls gone),
    ``filename*`` the name in UTF-8, so that 通帳.png arrives as 通帳.png."""
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    ascii_stem = re.sub(r"[^A-Za-z0-9._ -]+", "", stem).strip(" .") or "attachment"
    ascii_ext = re.sub(r"[^A-Za-z0-9]+", "", extension)
    fallback = f"{ascii_stem}.{ascii_ext}" if ascii_ext else ascii_stem
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _serve(
    request: HttpRequest,
    staff: Staff,
    application_id: int,
    attachment_id: uuid.UUID,
    purpose: Purpose,
) -> HttpResponse:
    try:
        application = application_get(
            organisation=staff.organisation, application_id=application_id
        )
        content = attachment_read(
            organisation=staff.organisation,
            staff=staff,
            application=application,
            attachment_id=attachment_id,
            purpose=purpose,
            now=now(),
        )
    except (Application.DoesNotExist, Attachment.DoesNotExist):
        raise Http404 from None
    except (AttachmentNotShown, AttachmentUnreadable) as refused:
        text = refused.message if isinstance(refused, AttachmentNotShown) else str(refused)
        response = HttpResponse(f"{text}\n", content_type="text/plain; charset=utf-8", status=409)
        response["Cache-Control"] = "private, no-store"
        return response
    attachment = content.attachment
    if purpose == "view":
        response = HttpResponse(content.data, content_type=attachment.content_type)
        response["Content-Disposition"] = content_disposition("inline", attachment.name)
        response["Content-Security-Policy"] = PDF_CSP if attachment.kind == "pdf" else IMAGE_CSP
        response["X-Frame-Options"] = "SAMEORIGIN"
    else:
        content_type = "application/octet-stream" if content.suspicious else attachment.content_type
        response = HttpResponse(content.data, content_type=content_type)
        response["Content-Disposition"] = content_disposition("attachment", attachment.name)
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@require_GET
@staff_required()
def attachment_view(
    request: HttpRequest, application_id: int, attachment_id: uuid.UUID, *, staff: Staff
) -> HttpResponse:
    """The file shown inline (an ``<img>`` or a frame on the application page)."""
    return _serve(request, staff, application_id, attachment_id, "view")


@require_GET
@staff_required()
def attachment_download(
    request: HttpRequest, application_id: int, attachment_id: uuid.UUID, *, staff: Staff
) -> HttpResponse:
    """The file as a download, under its own (Japanese) name."""
    return _serve(request, staff, application_id, attachment_id, "download")
