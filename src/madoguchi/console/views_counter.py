"""Console pages for 窓口・郵送の受付: register an application received at the counter or by
post, and open a resident's draft handed over with a QR code or short code (書かない窓口).

Views parse input, call one service of ``madoguchi.applications.received``, render. The
registration is two requests (fill in → confirm → register) without storage in between: the
confirmation page carries what was typed as hidden inputs, and the register button sends it
with the idempotency key rendered into the first page, so a double click never registers twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from madoguchi.applications.constants import (
    PAPER_FORM_MAX_BYTES,
    Channel,
    IdentityDocument,
    ReceivedForm,
)
from madoguchi.applications.received import (
    HandoffNotFound,
    HandoffRefused,
    OpenedHandoff,
    application_register_received,
    counter_handoff_open,
    handoff_secret_normalise,
    received_check,
    received_form_spec,
    received_paper_upload,
)
from madoguchi.applications.selectors import preview_rows
from madoguchi.applications.services import (
    IdempotencyConflict,
    InvalidIdempotencyKey,
    ProcedureClosed,
    SubmissionError,
    ValidationFailed,
    new_idempotency_key,
)
from madoguchi.applications.uploads import UploadRefused
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.selectors import procedure_get, procedures_of
from madoguchi.console.access import staff_required
from madoguchi.console.views_catalog import _change_group
from madoguchi.core.text import parse_int
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.rendering import answers_from_post, error_summary, render_step
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff

MAX_FIELD = 20000  # absurd posts are cut here; the service says the real limits
#: Inputs of the page itself (not answers), carried to the confirmation as they are.
OWN_INPUTS = (
    "channel",
    "received_date",
    "documents",
    "contact_email",
    "summary",
    "form",
    "paper_form",
)


def _may_register(staff: Staff) -> None:
    if staff.role not in (StaffRole.ADMIN, StaffRole.REVIEWER):
        raise PermissionDenied(
            "窓口・郵送の申請を受け付けられるのは、審査担当と団体管理者の職員です。"
        )


def _procedure(staff: Staff, procedure_id: Any) -> Procedure:
    try:
        procedure = procedure_get(
            organisation=staff.organisation, procedure_id=procedure_id, published_only=False
        )
    except (Procedure.DoesNotExist, ValueError, TypeError):
        raise Http404("その手続はありません。") from None
    return procedure


def _receivable(staff: Staff) -> list[Procedure]:
    return [
        p
        for p in procedures_of(organisation=staff.organisation, published_only=False)
        if p.status != ProcedureStatus.DRAFT
    ]


def _post(request: HttpRequest, name: str) -> str:
    return str(request.POST.get(name, ""))[:MAX_FIELD]


@require_http_methods(["GET"])
@staff_required()
def counter(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    """「窓口・郵送の受付」: choose the procedure and how much to enter, or type a short code."""
    _may_register(staff)
    errors: dict[str, str] = {}
    procedures = _receivable(staff)
    chosen = request.GET.get("procedure")
    form = request.GET.get("form") or ReceivedForm.FULL
    if chosen is not None:
        procedure_id = parse_int(str(chosen)[:20], minimum=1)
        if form not in ReceivedForm.values:
            errors["form"] = "入力する項目を選んでください。"
        if procedure_id is None or procedure_id not in {p.pk for p in procedures}:
            errors["procedure"] = "手続を一覧から選んでください。"
        if not errors:
            url = reverse("console:counter_register", args=[procedure_id])
            return redirect(f"{url}?form={form}")
    return render(
        request,
        "console/counter/start.html",
        {
            "staff": staff,
            "procedures": procedures,
            "forms": ReceivedForm.choices,
            "form": form,
            "errors": errors,
        },
        status=400 if errors else 200,
    )


def _form_page(
    request: HttpRequest,
    staff: Staff,
    procedure: Procedure,
    *,
    form: str,
    answers: Mapping[str, Any],
    values: Mapping[str, Any],
    errors: Mapping[str, str] | None = None,
    handoff: OpenedHandoff | None = None,
    handoff_secret: str = "",
    idempotency_key: str = "",
    paper: Mapping[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    spec = received_form_spec(form_spec(procedure.form_version), form)
    errors = dict(errors or {})
    answer_errors = {k: v for k, v in errors.items() if k not in (*OWN_INPUTS, "handoff", "")}
    own_errors = {k: v for k, v in errors.items() if k in (*OWN_INPUTS, "handoff", "")}
    return render(
        request,
        "console/counter/register.html",
        {
            "staff": staff,
            "procedure": procedure,
            "form": form,
            "form_label": ReceivedForm(form).label,
            "steps_html": [
                (step, render_step(spec, step, answers, answer_errors)) for step in spec.steps
            ],
            "answer_errors": error_summary(spec, answer_errors),
            "own_errors": own_errors,
            "error_count": len(errors),
            "values": values,
            "channels": [(Channel.COUNTER.value, "窓口"), (Channel.MAIL.value, "郵送")],
            "documents": IdentityDocument.choices,
            "today": to_tokyo(now()).date().isoformat(),
            "handoff": handoff,
            "handoff_secret": handoff_secret,
            "idempotency_key": idempotency_key or new_idempotency_key(),
            "paper": paper or {},
        },
        status=status,
    )


def _values(request: HttpRequest) -> dict[str, Any]:
    return {
        "channel": _post(request, "channel"),
        "received_date": _post(request, "received_date")[:100],
        "documents": [str(d)[:100] for d in request.POST.getlist("documents")[:20]],
        "contact_email": _post(request, "contact_email")[:1000],
        "summary": _post(request, "summary"),
    }


def _carry(request: HttpRequest) -> list[tuple[str, str]]:
    """Everything typed, as hidden inputs for the confirmation page."""
    skip = {"csrfmiddlewaretoken", "_action", "_add", "_remove", "paper_form_id", "paper_form_name"}
    return [
        (name, str(value)[:MAX_FIELD])
        for name, items in request.POST.lists()
        if name not in skip
        for value in items[:200]
    ][:2000]


@require_http_methods(["GET", "POST"])
@staff_required()
def counter_register(request: HttpRequest, procedure_id: int, *, staff: Staff) -> HttpResponse:
    """Fill in, confirm, register. Another organisation's procedure is not found (404)."""
    procedure = _procedure(staff, procedure_id)
    _may_register(staff)
    source = request.POST if request.method == "POST" else request.GET
    form = str(source.get("form") or ReceivedForm.FULL)
    if form not in ReceivedForm.values:
        form = ReceivedForm.FULL
    if request.method == "GET":
        return _form_page(
            request,
            staff,
            procedure,
            form=form,
            answers={},
            values={
                "channel": Channel.COUNTER.value,
                "received_date": to_tokyo(now()).date().isoformat(),
            },
        )
    spec = received_form_spec(form_spec(procedure.form_version), form)
    answers = answers_from_post(spec, request.POST)
    values = _values(request)
    secret = handoff_secret_normalise(_post(request, "handoff")[:200])
    key = _post(request, "idempotency_key")[:100]
    action = request.POST.get("_action", "")
    paper = {
        "id": _post(request, "paper_form_id")[:64],
        "name": _post(request, "paper_form_name")[:200],
    }
    page: dict[str, Any] = {
        "form": form,
        "answers": answers,
        "values": values,
        "handoff_secret": secret,
        "idempotency_key": key,
        "paper": paper,
    }
    upload = request.FILES.get("paper_form")
    if upload is not None:
        try:
            stored = received_paper_upload(
                organisation=staff.organisation,
                staff=staff,
                procedure=procedure,
                idempotency_key=key,
                name=str(upload.name or ""),
                data=upload.read(PAPER_FORM_MAX_BYTES + 1),
                now=now(),
            )
        except UploadRefused as refused:
            errors = {"paper_form": f"スキャンした申請書: {refused.message}"}
            return _form_page(request, staff, procedure, errors=errors, status=422, **page)
        except InvalidIdempotencyKey as error:
            page["idempotency_key"] = ""
            return _form_page(
                request, staff, procedure, errors={"": str(error)}, status=409, **page
            )
        paper.update(id=stored.pk.hex, name=stored.name)
    add, remove = request.POST.get("_add"), request.POST.get("_remove")
    if add or remove:
        _change_group(answers, add, remove)
        return _form_page(request, staff, procedure, **page)
    if action == "edit":
        return _form_page(request, staff, procedure, **page)
    when = now()
    common: dict[str, Any] = {
        "organisation": staff.organisation,
        "staff": staff,
        "procedure": procedure,
        "channel": values["channel"],
        "received_date": values["received_date"],
        "form": form,
        "answers": answers,
        "documents": values["documents"],
        "now": when,
        "contact_email": values["contact_email"],
        "summary": values["summary"],
    }
    try:
        if action != "register":
            check = received_check(**common)
            return render(
                request,
                "console/counter/confirm.html",
                {
                    "staff": staff,
                    "procedure": procedure,
                    "check": check,
                    "rows": preview_rows(check.spec, check.answers),
                    "channel_label": Channel(values["channel"]).label,
                    "documents": [IdentityDocument(d).label for d in check.documents],
                    "form_label": ReceivedForm(form).label,
                    "carry": _carry(request),
                    "received_date": check.identity.extra.get("received_date", ""),
                    "linked": bool(secret),
                    "paper": paper,
                },
            )
        result = application_register_received(
            **common, idempotency_key=key, handoff=secret, paper_form=paper["id"]
        )
    except Procedure.DoesNotExist:
        raise Http404("その手続はありません。") from None
    except HandoffNotFound:
        raise Http404("そのコードはありません。") from None
    except ValidationFailed as failure:
        return _form_page(request, staff, procedure, errors=failure.errors, status=422, **page)
    except HandoffRefused as refused:
        page["handoff_secret"] = ""
        message = f"{refused} 住民のアカウントと結び付けずに受け付ける場合は、内容を確かめてもう一度「確認する」を押してください。"
        return _form_page(
            request, staff, procedure, errors={"handoff": message}, status=409, **page
        )
    except (IdempotencyConflict, InvalidIdempotencyKey) as error:
        page["idempotency_key"] = ""
        return _form_page(request, staff, procedure, errors={"": str(error)}, status=409, **page)
    except (ProcedureClosed, SubmissionError) as error:
        return _form_page(request, staff, procedure, errors={"": str(error)}, status=409, **page)
    application = result.application
    if result.created:
        messages.success(
            request,
            f"{Channel(application.channel).label}の申請を受け付けました（受付番号 {application.receipt_number}）。",
        )
    else:
        messages.info(request, f"この申請は登録済みです（受付番号 {application.receipt_number}）。")
    return redirect("console:application", application.pk)


def _open(request: HttpRequest, staff: Staff, secret: str) -> HttpResponse:
    try:
        opened = counter_handoff_open(
            organisation=staff.organisation, staff=staff, secret=secret, now=now()
        )
    except HandoffNotFound:
        raise Http404("そのコードはありません。") from None
    except HandoffRefused as refused:
        return render(
            request,
            "console/counter/start.html",
            {
                "staff": staff,
                "procedures": _receivable(staff),
                "forms": ReceivedForm.choices,
                "form": ReceivedForm.FULL,
                "errors": {"code": str(refused)},
            },
            status=429 if refused.reason == "throttled" else 400,
        )
    if opened.procedure.status == ProcedureStatus.DRAFT:
        raise Http404("その手続はありません。")
    return _form_page(
        request,
        staff,
        opened.procedure,
        form=ReceivedForm.FULL,
        answers=opened.answers,
        values={
            "channel": Channel.COUNTER.value,
            "received_date": to_tokyo(now()).date().isoformat(),
        },
        handoff=opened,
        handoff_secret=opened.secret,
    )


@require_http_methods(["GET"])
@staff_required()
def counter_handoff(request: HttpRequest, handoff: str, *, staff: Staff) -> HttpResponse:
    """The URL in the resident's QR code: the draft, prefilled in the counter registration."""
    _may_register(staff)
    return _open(request, staff, handoff[:200])


@require_http_methods(["POST"])
@staff_required()
def counter_code(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    """The short code typed at the counter (rate-limited per staff member)."""
    _may_register(staff)
    return _open(request, staff, _post(request, "code")[:200])
