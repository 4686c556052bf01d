"""Console pages for reviewing applications: the inbox (受付一覧), one application, its moves,
corrections, messages, notes, assignment, the audited reveal of My Number, decisions and the
organisation's 文例. Views parse input, call one service, render; the rules live in
``madoguchi.applications.review``.

Every application URL takes the numeric id and looks it up inside the staff member's own
organisation only, so another organisation's id (or a made-up one) answers 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from madoguchi.applications.attachment_review import attachment_states
from madoguchi.applications.constants import ApplicationStatus, Channel, Decision
from madoguchi.applications.documents import certificate_issued_by, document_download_name
from madoguchi.applications.duplicate_review import possible_duplicates
from madoguchi.applications.inbox import (
    SORTS,
    applicant_name,
    application_documents,
    application_get,
    application_notes,
    application_overdue,
    assignable_staff,
    decision_template_get,
    decision_templates_of,
    inbox_filters_parse,
    inbox_page,
    issued_document_get,
)
from madoguchi.applications.models import (
    Application,
    DecisionProposal,
    DecisionTemplate,
    IssuedDocument,
)
from madoguchi.applications.received import received_facts
from madoguchi.applications.review import (
    NotAllowed,
    ReviewError,
    TransitionRefused,
    application_assign,
    application_correction_request,
    application_decision_make,
    application_message_send,
    application_move,
    application_view_record,
    applications_bulk_assign,
    applications_bulk_transition,
    decision_check,
    decision_template_delete,
    decision_template_save,
    my_number_reveal,
    note_add,
    require_move,
    revealable_fields,
    staff_may_move,
)
from madoguchi.applications.selectors import (
    application_identity,
    application_messages,
    application_rows,
    staff_allowed_targets,
)
from madoguchi.applications.signoff import (
    decision_label,
    decision_return,
    decision_signoff,
    proposal_open,
    proposals_of,
    require_signer,
    staff_may_sign_off,
)
from madoguchi.applications.versions import application_history_rows, versions_compare
from madoguchi.catalog.selectors import procedures_of
from madoguchi.console.access import can_manage, staff_required
from madoguchi.core.replica import replica_reads_view
from madoguchi.core.text import parse_int
from madoguchi.core.time import now
from madoguchi.documents.certificate import DAMAGE_LEVELS
from madoguchi.documents.seal import SealError
from madoguchi.documents.services import staff_may_change_documents
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff

S = ApplicationStatus
#: Moves offered as plain buttons; the others have their own forms (message, notice).
BUTTON_TARGETS = (S.ACCEPTED, S.IN_REVIEW)
MAX_BODY_FIELD = 20000  # refuse absurd posts before any processing; services say the real limit


def _application(staff: Staff, application_id: int) -> Application:
    try:
        return application_get(organisation=staff.organisation, application_id=application_id)
    except Application.DoesNotExist:
        raise Http404 from None


def _post(request: HttpRequest, name: str) -> str:
    return str(request.POST.get(name, ""))[:MAX_BODY_FIELD]


# --- inbox --------------------------------------------------------------------------------


@require_GET
@staff_required()
@replica_reads_view
def inbox(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    filters, errors = inbox_filters_parse(request.GET, viewer_id=staff.user_id)
    page = inbox_page(
        organisation=staff.organisation,
        filters=filters,
        now=now(),
        after=request.GET.get("after") or None,
    )
    if page.cursor_rejected:
        errors["after"] = "ページの指定が正しくないため、最初のページを表示しています。"
    query = [(k, item) for k, items in request.GET.lists() if k != "after" for item in items]
    next_url = f"?{urlencode([*query, ('after', page.next_cursor)])}" if page.next_cursor else None
    procedures = list(procedures_of(organisation=staff.organisation, published_only=False))
    staff_list = assignable_staff(organisation=staff.organisation)
    chips = _filter_chips(query, procedures=procedures, staff_list=staff_list, errors=errors)
    return render(
        request,
        "console/review/inbox.html",
        {
            "staff": staff,
            "page": page,
            "filters": filters,
            "errors": errors,
            "procedures": procedures,
            "statuses": S.choices,
            "channels": Channel.choices,
            "sorts": SORTS,
            "staff_list": staff_list,
            "chips": chips,
            # The filters behind the disclosure that are in use (the search box is outside).
            "hidden_filters": sum(1 for chip in chips if chip["key"] != "q"),
            "next_url": next_url,
            "first_url": f"?{urlencode(query)}" if request.GET.get("after") else None,
            "can_act": staff.role != StaffRole.VIEWER,
            "return_query": urlencode(query),
        },
    )


#: Inbox query parameters shown as removable chips, with their Japanese names. A filter
#: added to ``inbox_filters_parse`` adds its line here (a flag's chip shows the name only).
CHIP_LABELS: Mapping[str, str] = {
    "q": "検索",
    "procedure": "手続",
    "channel": "受付方法",
    "status": "状態",
    "from": "到達日（から）",
    "to": "到達日（まで）",
    "assignee": "担当者",
    "overdue": "処理期限を過ぎたもの",
    "duplicates": "重複の可能性あり",
}
_FLAGS = frozenset({"overdue", "duplicates"})


def _filter_chips(
    query: list[tuple[str, str]],
    *,
    procedures: list[Any],
    staff_list: list[Staff],
    errors: Mapping[str, str],
) -> list[dict[str, str]]:
    """One chip per filter in use: its words and the link that drops it (and only it)."""
    names = {
        "procedure": {str(p.pk): p.name for p in procedures},
        "channel": dict(Channel.choices),
        "status": dict(S.choices),
        "assignee": {
            "me": "自分",
            "none": "未割当",
            **{str(s.user_id): str(s.user) for s in staff_list},
        },
    }
    chips = []
    for index, (key, value) in enumerate(query):
        if key not in CHIP_LABELS or not value.strip() or key in errors:
            continue
        label = CHIP_LABELS[key]
        text = label if key in _FLAGS else f"{label}: {names.get(key, {}).get(value, value)}"
        rest = [pair for i, pair in enumerate(query) if i != index]
        chips.append({"key": key, "text": text, "url": f"?{urlencode(rest)}" if rest else "?"})
    return chips


@require_POST
@staff_required()
def applications_bulk(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    """Bulk accept or assign. Each checkbox carries "id:status as seen"."""
    if staff.role == StaffRole.VIEWER:
        raise NotAllowed("閲覧のみの職員は、申請を操作できません。")
    items: list[tuple[int, str]] = []
    for raw in request.POST.getlist("items")[:200]:
        pk, _, seen = str(raw).partition(":")
        application_id = parse_int(pk)
        if application_id is not None and seen in S.values:
            items.append((application_id, seen))
    # The inbox filters to go back to, re-encoded so that nothing but a query string survives.
    back_query = QueryDict(str(request.POST.get("return", ""))[:2000]).urlencode()
    back = reverse("console:inbox") + (f"?{back_query}" if back_query else "")
    if not items:
        messages.error(request, "操作する申請を1件以上選んでください。")
        return redirect(back)
    action = request.POST.get("action", "")
    when = now()
    if action == "accept":
        results = applications_bulk_transition(
            organisation=staff.organisation,
            staff=staff,
            items=items,
            to_status=S.ACCEPTED,
            now=when,
        )
        done = [r for r in results if r.ok]
        if done:
            messages.success(request, f"{len(done)}件を受付にしました。")
        for r in results:
            if not r.ok:
                label = f"受付番号 {r.receipt_number}" if r.receipt_number else "選んだ申請"
                messages.error(request, f"{label}: {r.message}")
        return redirect(back)
    if action in ("assign_me", "unassign"):
        try:
            count = applications_bulk_assign(
                organisation=staff.organisation,
                application_ids=[pk for pk, _ in items],
                assignee_staff=staff if action == "assign_me" else None,
                actor_staff=staff,
                now=when,
            )
        except ReviewError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                f"{count}件の担当者を{'自分にしました' if action == 'assign_me' else '外しました'}。",
            )
        return redirect(back)
    messages.error(request, "操作を選んでください。")
    return redirect(back)


# --- one application ----------------------------------------------------------------------


def _detail(
    request: HttpRequest,
    staff: Staff,
    application: Application,
    *,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    revealed: Mapping[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    when = now()
    may_move = staff_may_move(staff=staff, procedure=application.procedure)
    spec = form_spec(application.form_version)
    reveal_labels = revealable_fields(application)
    targets = staff_allowed_targets(application)
    proposal = proposal_open(application)
    if proposal is not None:
        targets = []  # nothing else moves while a proposed decision waits for sign-off
    proposals = proposals_of(application)
    current = next((p for p in proposals if proposal is not None and p.pk == proposal.pk), None)
    current_signoffs = list(current.signoffs.all()) if current is not None else []
    signed = {s.signer_id for s in current_signoffs}
    can_sign = (
        proposal is not None
        and staff_may_sign_off(staff=staff)
        and proposal.proposed_by_id != staff.user_id
        and staff.user_id not in signed
    )
    return render(
        request,
        "console/review/application.html",
        {
            "staff": staff,
            "application": application,
            "name": applicant_name(application),
            "rows": application_rows(application),
            "overdue": application_overdue(application, when),
            "may_move": may_move,
            "can_note": staff.role != StaffRole.VIEWER,
            "button_targets": [(t, S(t).label) for t in targets if t in BUTTON_TARGETS]
            if may_move
            else [],
            "can_correct": may_move and S.CORRECTION_REQUESTED in targets,
            "can_decide": may_move and S.APPROVED in targets,
            "can_reject": may_move and S.REJECTED in targets,
            "correction_fields": [
                (f.key, f.label) for f in spec.fields if f.type not in ("notice", "computed")
            ],
            "templates": decision_templates_of(organisation=staff.organisation),
            "messages_thread": application_messages(application),
            "notes": application_notes(application),
            "history": application_history_rows(
                organisation=staff.organisation, application=application
            ),
            "versions": versions_compare(
                organisation=staff.organisation,
                application=application,
                older=request.GET.get("older"),
                newer=request.GET.get("newer"),
            ),
            "documents": application_documents(application),
            "can_change_documents": staff_may_change_documents(staff),
            "issues_certificate": certificate_issued_by(application),
            "damage_levels": DAMAGE_LEVELS,
            "identity": application_identity(application),
            "duplicates": possible_duplicates(
                organisation=staff.organisation, application=application
            ),
            **_attachments(request, staff, application),
            "staff_list": assignable_staff(organisation=staff.organisation) if may_move else [],
            "reveal_labels": reveal_labels,
            "revealed": [(reveal_labels.get(p, p), v) for p, v in (revealed or {}).items()],
            "errors": dict(errors or {}),
            "values": dict(values or {}),
            "received": received_facts(application),
            "signoff_steps": application.procedure.signoff_steps,
            "proposal": proposal,
            "proposal_signoffs": current_signoffs,
            "proposal_label": decision_label(proposal.outcome) if proposal else "",
            "next_step": proposal.steps_done + 1 if proposal else 0,
            "can_sign": can_sign,
            "proposals": [(p, decision_label(p.outcome)) for p in proposals],
        },
        status=status,
    )


def _attachments(request: HttpRequest, staff: Staff, application: Application) -> dict[str, Any]:
    """The files with their states, and the one chosen for the preview (``?preview=<id>``)."""
    states = attachment_states(organisation=staff.organisation, application=application)
    chosen = str(request.GET.get("preview", ""))[:64].replace("-", "").lower()
    preview = next((a for a in states if a.attachment.pk.hex == chosen), None)
    return {
        "attachments": states,
        "preview": preview,
        "preview_missing": bool(chosen) and preview is None,
    }


@require_GET
@staff_required()
def application_detail(request: HttpRequest, application_id: int, *, staff: Staff) -> HttpResponse:
    application = _application(staff, application_id)
    application_view_record(
        organisation=staff.organisation, application=application, staff=staff, now=now()
    )
    return _detail(request, staff, application)


def _label(status: str) -> str:
    return str(S(status).label) if status in S.values else status


def _after_post(request: HttpRequest, application: Application, success: str) -> HttpResponse:
    messages.success(request, success)
    return redirect("console:application", application.pk)


def _refused(
    request: HttpRequest,
    staff: Staff,
    application: Application,
    key: str,
    error: Exception,
    values: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """Show the page again with the error next to the form (and what was typed kept)."""
    application.refresh_from_db()
    message = str(error.args[0]) if error.args else str(error)
    return _detail(request, staff, application, errors={key: message}, values=values, status=400)


@require_POST
@staff_required()
def application_transition_view(
    request: HttpRequest, application_id: int, *, staff: Staff
) -> HttpResponse:
    application = _application(staff, application_id)
    to_status = _post(request, "to_status")
    try:
        application_move(
            organisation=staff.organisation,
            application=application,
            staff=staff,
            to_status=to_status,
            expected_status=_post(request, "expected_status"),
            reason=_post(request, "reason"),
            now=now(),
        )
    except TransitionRefused as error:
        return _refused(request, staff, application, "transition", error)
    label = S(to_status).label
    return _after_post(request, application, f"状態を「{label}」にしました。")


def _with_template(
    staff: Staff, request: HttpRequest, body: str, kind: str
) -> tuple[str, str | None]:
    """The body with the chosen 文例 put in front: works without JavaScript."""
    chosen = request.POST.get("template", "")
    if not chosen:
        return body, None
    try:
        template = decision_template_get(organisation=staff.organisation, template_id=chosen)
    except DecisionTemplate.DoesNotExist:
        return body, "選んだ文例が見つかりません。"
    if template.kind != kind:
        return body, "この欄では使えない文例です。"
    return (f"{template.body}\n{body}" if body.strip() else template.body), None


@require_POST
@staff_required()
def application_correction(
    request: HttpRequest, application_id: int, *, staff: Staff
) -> HttpResponse:
    application = _application(staff, application_id)
    body, problem = _with_template(staff, request, _post(request, "body"), "correction")
    fields = [str(f) for f in request.POST.getlist("fields")]
    values = {"correction_body": _post(request, "body"), "correction_fields": fields}
    if problem:
        return _refused(request, staff, application, "correction", ValueError(problem), values)
    try:
        application_correction_request(
            organisation=staff.organisation,
            application=application,
            staff=staff,
            body=body,
            fields=fields,
            expected_status=_post(request, "expected_status"),
            now=now(),
        )
    except TransitionRefused as error:
        return _refused(request, staff, application, "correction", error, values)
    return _after_post(request, application, "補正を依頼しました。申請者にメールで知らせます。")


@require_POST
@staff_required()
def application_message(request: HttpRequest, application_id: int, *, staff: Staff) -> HttpResponse:
    application = _application(staff, application_id)
    body = _post(request, "body")
    try:
        application_message_send(
            organisation=staff.organisation,
            application=application,
            staff=staff,
            body=body,
            now=now(),
        )
    except TransitionRefused as error:
        return _refused(request, staff, application, "message", error, {"message_body": body})
    return _after_post(request, application, "メッセージを送りました。")


@require_POST
@staff_required()
def application_note(request: HttpRequest, application_id: int, *, staff: Staff) -> HttpResponse:
    application = _application(staff, application_id)
    body = _post(request, "body")
    try:
        note_add(
            organisation=staff.organisation,
            application=application,
            staff=staff,
            body=body,
            now=now(),
        )
    except TransitionRefused as error:
        return _refused(request, staff, application, "note", error, {"note_body": body})
    return _after_post(request, application, "内部メモを追加しました。")


@require_POST
@staff_required()
def application_assign_view(
    request: HttpRequest, application_id: int, *, staff: Staff
) -> HttpResponse:
    application = _application(staff, application_id)
    raw = _post(request, "assignee")
    assignee: Staff | None = None
    # Whether this staff member may assign at all comes before who is chosen.
    require_move(staff=staff, application=application)
    if raw:
        assignee = next(
            (s for s in assignable_staff(organisation=staff.organisation) if str(s.user_id) == raw),
            None,
        )
        if assignee is None:
            return _refused(
                request, staff, application, "assign", ValueError("担当者に指定できない職員です。")
            )
    try:
        application_assign(
            organisation=staff.organisation,
            applications=[application],
            assignee_staff=assignee,
            actor_staff=staff,
            now=now(),
        )
    except ReviewError as error:
        return _refused(request, staff, application, "assign", error)
    return _after_post(
        request, application, "担当者を設定しました。" if assignee else "担当者を外しました。"
    )


@require_POST
@staff_required()
def application_reveal(request: HttpRequest, application_id: int, *, staff: Staff) -> HttpResponse:
    application = _application(staff, application_id)
    purpose = _post(request, "purpose")
    try:
        revealed = my_number_reveal(
            organisation=staff.organisation,
            application=application,
            staff=staff,
            purpose=purpose,
            now=now(),
        )
    except ReviewError as error:
        return _refused(request, staff, application, "reveal", error, {"purpose": purpose})
    # Rendered once in this response and never stored (no redirect, no session, no cache).
    response = _detail(request, staff, application, revealed=revealed)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@staff_required()
def application_decide_view(
    request: HttpRequest, application_id: int, *, staff: Staff
) -> HttpResponse:
    """Decide (or, for a procedure with sign-off, propose) in two steps that work without
    JavaScript: the form posts here and a confirmation page shows what will happen; only its
    「確定」 button (``confirm=1``) calls the service."""
    application = _application(staff, application_id)
    outcome = _post(request, "outcome")
    kind = "approve" if outcome == "approve" else "reject"
    reason, problem = _with_template(staff, request, _post(request, "reason"), kind)
    damage_level = _post(request, "damage_level")
    values = {
        "decision_reason": _post(request, "reason"),
        "outcome": outcome,
        "damage_level": damage_level,
    }
    if problem:
        return _refused(request, staff, application, "decide", ValueError(problem), values)
    if request.POST.get("back") == "1":
        return _detail(
            request,
            staff,
            application,
            values={"decision_reason": reason, "damage_level": damage_level},
        )
    signoff_steps = application.procedure.signoff_steps
    expected = _post(request, "expected_status")
    try:
        if request.POST.get("confirm") != "1":
            # Every check the service makes before its lock, so the page never promises
            # what the button would then refuse.
            decision, reason = decision_check(
                organisation=staff.organisation,
                application=application,
                staff=staff,
                outcome=outcome,
                reason=reason,
                expected_status=expected,
                damage_level=damage_level,
            )
            certificate = decision == Decision.APPROVE and certificate_issued_by(application)
            return render(
                request,
                "console/review/decide_confirm.html",
                {
                    "staff": staff,
                    "application": application,
                    "name": applicant_name(application),
                    "outcome": decision.value,
                    "outcome_label": decision.label,
                    "reason": reason,
                    "expected_status": expected,
                    "signoff_steps": signoff_steps,
                    "certificate": certificate,
                    "damage_level": damage_level if certificate else "",
                    "by_mail": bool(
                        application.contact_email
                        or (application.applicant is not None and application.applicant.email)
                    ),
                },
            )
        application_decision_make(
            organisation=staff.organisation,
            application=application,
            staff=staff,
            outcome=outcome,
            reason=reason,
            expected_status=expected,
            now=now(),
            damage_level=damage_level,
        )
    except TransitionRefused as error:
        return _refused(request, staff, application, "decide", error, values)
    except SealError as error:  # the seal or the TSA is away: nothing was issued
        return _refused(request, staff, application, "decide", error, values)
    label = "承認" if outcome == "approve" else "却下"
    if signoff_steps:
        return _after_post(
            request,
            application,
            f"{label}で起案しました。決裁権限のある職員に決裁を依頼しました（{signoff_steps}段階）。",
        )
    return _after_post(
        request, application, f"{label}しました。決定通知書を交付し、申請者にメールで知らせます。"
    )


def _proposal(staff: Staff, application: Application, raw: str) -> DecisionProposal:
    pk = parse_int(raw)
    if pk is None:
        raise Http404
    proposal = next((p for p in proposals_of(application) if p.pk == pk), None)
    if proposal is None or proposal.organisation_id != staff.organisation_id:
        raise Http404
    return proposal


@require_POST
@staff_required()
def application_signoff_view(
    request: HttpRequest, application_id: int, *, staff: Staff
) -> HttpResponse:
    """Sign off (決裁) or return (差戻し) the waiting proposal. Signing the last step asks
    for confirmation first (it makes the decision final); returning needs a reason."""
    application = _application(staff, application_id)
    proposal = _proposal(staff, application, _post(request, "proposal"))
    step = parse_int(_post(request, "step")) or 0
    action = _post(request, "action")
    comment = _post(request, "comment")
    values = {"signoff_comment": comment, "return_reason": _post(request, "return_reason")}
    try:
        if action == "return":
            decision_return(
                organisation=staff.organisation,
                proposal=proposal,
                staff=staff,
                expected_step=step,
                reason=_post(request, "return_reason"),
                now=now(),
            )
            return _after_post(request, application, "起案を差し戻しました。起案者に知らせます。")
        if action != "signoff":
            raise ReviewError("操作を選んでください。")
        final = step == proposal.steps_required
        if final and request.POST.get("confirm") != "1":
            require_signer(staff=staff, proposal=proposal)
            return render(
                request,
                "console/review/signoff_confirm.html",
                {
                    "staff": staff,
                    "application": application,
                    "name": applicant_name(application),
                    "proposal": proposal,
                    "outcome_label": decision_label(proposal.outcome),
                    "step": step,
                    "comment": comment,
                },
            )
        decision_signoff(
            organisation=staff.organisation,
            proposal=proposal,
            staff=staff,
            expected_step=step,
            comment=comment,
            now=now(),
        )
    except TransitionRefused as error:
        return _refused(request, staff, application, "signoff", error, values)
    except SealError as error:  # the seal or the TSA is away: nothing was issued
        return _refused(request, staff, application, "signoff", error, values)
    if final:
        return _after_post(
            request,
            application,
            f"決裁しました。{decision_label(proposal.outcome)}が確定し、決定通知書を交付して"
            "申請者にメールで知らせます。",
        )
    return _after_post(
        request, application, f"第{step}段階を決裁しました。次の段階の決裁権者に知らせます。"
    )


@require_GET
@staff_required()
def document_pdf(
    request: HttpRequest, application_id: int, document_id: int, *, staff: Staff
) -> HttpResponse:
    application = _application(staff, application_id)
    try:
        document = issued_document_get(
            organisation=staff.organisation, application=application, document_id=document_id
        )
    except IssuedDocument.DoesNotExist:
        raise Http404 from None
    response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
    response["Content-Disposition"] = document_download_name(
        document, application, disposition="inline"
    )
    response["Cache-Control"] = "private, no-store"
    return response


# --- 文例 ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_required()
def decision_templates(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    """List the 文例; admins add, change and delete them on the same page."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    editing: DecisionTemplate | None = None
    raw_id = request.GET.get("edit") or request.POST.get("template_id") or ""
    if raw_id:
        try:
            editing = decision_template_get(organisation=staff.organisation, template_id=raw_id)
        except DecisionTemplate.DoesNotExist:
            raise Http404 from None
    status = 200
    if request.method == "POST":
        values = {k: _post(request, k) for k in ("kind", "title", "body")}
        try:
            if request.POST.get("action") == "delete" and editing is not None:
                decision_template_delete(
                    organisation=staff.organisation, staff=staff, template=editing, now=now()
                )
                messages.success(request, f"文例「{editing.title}」を削除しました。")
                return redirect("console:decision_templates")
            decision_template_save(
                organisation=staff.organisation,
                staff=staff,
                template=editing,
                now=now(),
                **values,
            )
        except ReviewError as error:
            errors["template"] = str(error)
            status = 400
        else:
            messages.success(request, f"文例「{values['title'].strip()}」を保存しました。")
            return redirect("console:decision_templates")
    elif editing is not None:
        values = {"kind": editing.kind, "title": editing.title, "body": editing.body}
    return render(
        request,
        "console/review/decision_templates.html",
        {
            "staff": staff,
            "templates": decision_templates_of(organisation=staff.organisation),
            "kinds": DecisionTemplate.Kind.choices,
            "editing": editing,
            "values": values,
            "errors": errors,
            "can_manage": can_manage(staff),
        },
        status=status,
    )
