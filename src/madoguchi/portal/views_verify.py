"""Anyone checks a document the organisation issued (文書の検証): ``/verify/``.

- ``/verify/<code>``: the document of a verification code (照合番号, printed with a QR code
  on every issued document): issuer, the document's own name (罹災証明書, …), number, issue
  date (和暦 and 西暦), status (a corrected notice names the one it replaces), SHA-256 of the
  PDF as issued, and its place in the register. No login, no personal data (no applicant,
  no answers); a receipt notice shows its receipt number as 文書番号 — the holder has it
  printed on the document. A code that does not exist answers 404 with a page that says
  only that.
- ``/verify/``: a form to type a code, and a form to upload a PDF, checked by
  :func:`madoguchi.documents.verify.pdf_verify` (signatures, issued here or not, changed
  or not). The upload is read in memory and never stored.

Both are limited per client address (:mod:`madoguchi.documents.ratelimit`): a refused
attempt shows a Japanese page with status 429.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_http_methods

from madoguchi.core.request import client_address
from madoguchi.core.time import now, to_tokyo
from madoguchi.documents.codes import code_normalise
from madoguchi.documents.ratelimit import verify_lookup_admit, verify_upload_admit, wait_text
from madoguchi.documents.selectors import PublicFacts, document_public_facts, document_public_get
from madoguchi.documents.verify import (
    Refusal,
    UploadReport,
    Verdict,
    max_bytes,
    pdf_verify,
    too_large_text,
)
from madoguchi.forms.japanese import wareki

#: The words of the verify pages that come from the model (kinds, statuses, names as
#: printed), marked so that the catalogue has them: the templates pass them through
#: ``{% translate %}``.
VERIFY_WORDS = (
    gettext_noop("承認通知書"),
    gettext_noop("却下通知書"),
    gettext_noop("到達通知"),
    gettext_noop("証明書"),
    gettext_noop("罹災証明書"),
    gettext_noop("施設使用許可書"),
    gettext_noop("使用許可書"),
    gettext_noop("発行文書"),
    gettext_noop("有効"),
    gettext_noop("取り消されています"),
    gettext_noop("訂正された文書に差し替えられています"),
)

#: The multipart envelope allowed beyond the file itself before the body is refused unread.
ENVELOPE_BYTES = 64 * 1024
CODE_FIELD_MAX = 64


def date_texts(instant: datetime | None) -> dict[str, str]:
    """和暦 and 西暦 of an instant, in Japan time."""
    if instant is None:
        return {"wareki": "", "seireki": "", "time": ""}
    local = to_tokyo(instant)
    day = local.date()
    return {
        "wareki": wareki(day),
        "seireki": _("%(year)d年%(month)d月%(day)d日")
        % {"year": day.year, "month": day.month, "day": day.day},
        "time": f"{local:%H:%M}",
    }


def facts_context(facts: PublicFacts) -> dict[str, Any]:
    return {
        "facts": facts,
        "issued": date_texts(facts.issued_at),
        "changed": date_texts(facts.status_changed_at),
        "head_day": facts.inclusion.head_day if facts.inclusion else None,
    }


def _index(
    request: HttpRequest,
    *,
    code_error: str = "",
    upload_error: str = "",
    typed: str = "",
    report: UploadReport | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "code_error": code_error,
        "upload_error": upload_error,
        "typed": typed,
        "report": report,
        "max_megabytes": f"{max_bytes() / (1024 * 1024):g}",
    }
    if report is not None and report.issued is not None:
        facts = document_public_facts(report.issued.document)
        context.update(facts_context(facts))
    if report is not None:
        context["signature_rows"] = [
            {"s": s, "signed": date_texts(s.signed_at)} for s in report.signatures
        ]
    return render(request, "portal/verify/index.html", context, status=status)


def _limited(request: HttpRequest, seconds: int) -> HttpResponse:
    response = render(
        request, "portal/verify/limited.html", {"message": wait_text(seconds)}, status=429
    )
    response["Retry-After"] = str(seconds)
    return response


@require_GET
def verify_index(request: HttpRequest) -> HttpResponse:
    """The two forms; ``?code=`` (the code form, sent by GET) goes to that code's page."""
    if "code" not in request.GET:
        return _index(request)
    typed = str(request.GET.get("code", ""))[:CODE_FIELD_MAX]
    if not typed.strip():
        return _index(
            request, code_error=_("照合番号を入力してください。"), typed=typed, status=400
        )
    normalised = code_normalise(typed)
    if normalised is None:
        return _index(
            request,
            code_error=_(
                "照合番号の形が正しくありません。文書に印刷されている16文字"
                "（例: 7K3Q-M2XD-90PA-RT4N）を入力してください。"
            ),
            typed=typed,
            status=400,
        )
    return redirect("portal:verify:code", code=normalised)


@require_GET
def verify_code(request: HttpRequest, code: str) -> HttpResponse:
    current = now()
    wait = verify_lookup_admit(client_address=client_address(request), now=current)
    if wait is not None:
        return _limited(request, wait)
    normalised = code_normalise(code[:CODE_FIELD_MAX])
    if normalised is not None and normalised != code:
        return redirect("portal:verify:code", code=normalised)
    document = document_public_get(code) if normalised is not None else None
    if document is None:
        return render(
            request, "portal/verify/not_found.html", {"typed": code[:CODE_FIELD_MAX]}, status=404
        )
    facts = document_public_facts(document)
    response = render(request, "portal/verify/document.html", facts_context(facts))
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_http_methods(["GET", "POST"])
def verify_upload(request: HttpRequest) -> HttpResponse:
    """Check an uploaded PDF; GET shows the forms (a reload after a refusal)."""
    if request.method != "POST":
        return redirect("portal:verify:index")
    current = now()
    wait = verify_upload_admit(client_address=client_address(request), now=current)
    if wait is not None:
        return _limited(request, wait)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_bytes() + ENVELOPE_BYTES:
        # Refused before the body is read or parsed.
        return _index(request, upload_error=too_large_text(), status=413)
    upload = request.FILES.get("pdf")
    if upload is None:
        return _index(
            request,
            upload_error=_(
                "PDFファイルが選ばれていません。「ファイルを選択」で検証したいPDFを選んでから"
                "送信してください。"
            ),
            status=400,
        )
    if upload.size is not None and upload.size > max_bytes():
        return _index(request, upload_error=too_large_text(), status=413)
    data = upload.read(max_bytes() + 1)
    report = pdf_verify(data, now=current)
    if report.verdict == Verdict.REFUSED:
        status = 400
        if report.refusal == Refusal.TOO_LARGE:
            status = 413
        elif report.refusal == Refusal.BUSY:
            status = 503
        return _index(request, upload_error=report.refusal_text, status=status)
    response = _index(request, report=report)
    response["Cache-Control"] = "no-store"
    return response
