"""Applying online: start or resume, the steps, confirmation, sending, completion, receipt."""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.applications.attachments import (
    attachment_delete_unclaimed,
    attachments_upload,
)
from madoguchi.applications.canonical import CONTENT_TYPE as CANONICAL_TYPE
from madoguchi.applications.documents import application_receipt_issue, application_receipt_pdf
from madoguchi.applications.duplicate_review import DuplicateApplication
from madoguchi.applications.guests import GUEST_LINK_MAX_AGE, guest_email_confirmation_send
from madoguchi.applications.models import Application
from madoguchi.applications.selectors import (
    answers_by_type,
    application_by_receipt,
    application_identity,
    application_of_applicant,
    draft_of_applicant,
    own_earlier_application,
    preview_rows,
    profile_prefill,
    stored_display_rows,
)
from madoguchi.applications.services import (
    AssuranceInsufficient,
    IdempotencyConflict,
    InvalidIdempotencyKey,
    ProcedureClosed,
    SignatureInvalid,
    StaleFormVersion,
    SubmissionError,
    ValidationFailed,
    application_canonical,
    application_signature_check,
    application_submit,
    draft_delete,
    new_idempotency_key,
    procedure_is_open,
)
from madoguchi.catalog.constants import ProcedureStatus, Uniqueness
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.testers import procedure_for_applicant, procedure_tester_of
from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.core.request import client_address
from madoguchi.core.text import parse_int
from madoguchi.core.time import now, to_tokyo
from madoguchi.documents.seal import SealError
from madoguchi.forms.area import organisation_area
from madoguchi.forms.base import FormSpec, StepSpec
from madoguchi.forms.engine import ValidationResult, validate
from madoguchi.forms.identity import verified_fields, verified_prefill
from madoguchi.forms.rendering import (
    BankLookup,
    Live,
    answers_from_post,
    bank_pick,
    error_summary,
    html_id,
    input_name,
    render_live,
    render_step,
)
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.assurance import (
    Shortfall,
    VerifiedAttributes,
    assurance_shortfall,
    identity_current,
)
from madoguchi.identity.models import ResidentProfile, User
from madoguchi.identity.services import guest_email_token_check
from madoguchi.notifications.ratelimit import MailRateLimited
from madoguchi.portal import apply_state
from madoguchi.portal.apply_state import WorkingCopy
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import organisation_get

logger = logging.getLogger(__name__)


def _procedure(request: HttpRequest, code: str, procedure_id: int) -> Procedure:
    """The published procedure, or (運用テスト) the 準備中 one the user is a tester of."""
    try:
        org = organisation_get(code=code)
        return procedure_for_applicant(
            organisation=org, procedure_id=procedure_id, user=request.user
        )
    except (InvalidLgCode, Organisation.DoesNotExist, Procedure.DoesNotExist):
        raise Http404("その手続はありません。") from None


def _apply_url(procedure: Procedure, name: str = "form", **query: str) -> str:
    url = reverse(f"portal:apply:{name}", args=[procedure.organisation.lg_code, procedure.pk])
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def _who(request: HttpRequest, procedure: Procedure) -> tuple[User | None, dict[str, str] | None]:
    """The resident, or the confirmed guest; (None, None) when neither may apply yet.

    During an operational test (運用テスト) the procedure is reached by its named testers only:
    a staff member named as a tester applies with their staff login, and nobody applies as a
    guest (a guest is nobody's named tester)."""
    if procedure.status == ProcedureStatus.DRAFT:
        tester = request.user
        if isinstance(tester, User) and procedure_tester_of(procedure=procedure, user=tester):
            return tester, None
        return None, None
    user = apply_state.resident(request)
    if user is not None:
        return user, None
    if procedure.ial == 1:
        return None, apply_state.guest_of(request, procedure)
    return None, None


def _shortfall(
    request: HttpRequest, procedure: Procedure, user: User | None, *, signed: bool
) -> Shortfall | None:
    """What the resident still needs for this procedure (the service applies the same rule)."""
    return assurance_shortfall(
        ial=procedure.ial,
        aal=procedure.aal,
        signature_required=procedure.signature_required,
        identity=identity_current(user=user, session=request.session),
        signed=signed,
    )


def _closed(request: HttpRequest, procedure: Procedure) -> HttpResponse:
    return render(
        request,
        "portal/apply/closed.html",
        {"procedure": procedure, "org": procedure.organisation},
        status=409,
    )


def _verified_attributes(request: HttpRequest, user: User) -> VerifiedAttributes | None:
    identity = identity_current(user=user, session=request.session)
    if identity is None or identity.attributes is None or identity.attributes.is_empty():
        return None
    return identity.attributes


@require_http_methods(["GET", "POST"])
def start(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    """The way in: log in, apply as a guest, or (for residents) pre-fill and resume."""
    procedure = _procedure(request, code, procedure_id)
    if not procedure_is_open(procedure, now(), applicant=request.user):
        return _closed(request, procedure)
    user, guest = _who(request, procedure)
    if request.user.is_authenticated and user is None:
        raise PermissionDenied("職員のアカウントでは申請できません。")
    if user is None and guest is None:
        return render(
            request,
            "portal/apply/start.html",
            {
                "procedure": procedure,
                "org": procedure.organisation,
                "guest_allowed": procedure.ial == 1 and procedure.status != ProcedureStatus.DRAFT,
                "next": request.get_full_path(),
                "shortfall": _shortfall(request, procedure, None, signed=False),
            },
        )
    spec = form_spec(procedure.form_version)
    needs = _shortfall(request, procedure, user, signed=False)
    if needs is not None and request.method == "GET":
        # Said before the first question: what this procedure needs and how to get it.
        messages.info(request, " ".join((needs.message, *needs.remedies)))
    if user is not None:
        draft = draft_of_applicant(applicant=user, procedure=procedure)
        earlier = (
            own_earlier_application(applicant=user, procedure=procedure, now=now())
            if draft is None and request.method == "GET" and request.GET.get("again") != "1"
            else None
        )
        if earlier is not None:
            # Said before the first question, not after the last: this account already has
            # the one application the procedure accepts (another family member still may).
            return render(
                request,
                "portal/apply/already.html",
                {
                    "procedure": procedure,
                    "org": procedure.organisation,
                    "earlier": earlier,
                    "per_year": procedure.uniqueness == Uniqueness.PERSON_FISCAL_YEAR,
                    "household": procedure.uniqueness == Uniqueness.HOUSEHOLD,
                },
            )
        if draft is None:
            profile = ResidentProfile.objects.filter(user=user).first()
            prefill = profile_prefill(spec, profile, email=user.email)
            # What the national login or a card verified fills the applicant's fields (once).
            verified = _verified_attributes(request, user)
            if verified is not None:
                prefill = {**prefill, **verified_prefill(spec, verified)}
            if request.method == "POST":
                copy = WorkingCopy(procedure=procedure, step=spec.steps[0].key)
                if request.POST.get("prefill") == "yes":
                    copy.answers = prefill
                apply_state.save(request, copy, spec)
                return redirect(_apply_url(procedure))
            if prefill:
                rows = stored_display_rows(spec, prefill)
                return render(
                    request,
                    "portal/apply/prefill.html",
                    {
                        "procedure": procedure,
                        "org": procedure.organisation,
                        "rows": rows,
                        "verified": verified is not None,
                    },
                )
        elif draft.form_version_id != procedure.form_version_id and request.method == "GET":
            messages.warning(
                request,
                gettext(
                    "申請様式が更新されたため、以前の下書きは使えません。"
                    "お手数ですが最初から入力してください。"
                ),
            )
            draft.delete()
    return redirect(_apply_url(procedure))


def _merge_step(copy: WorkingCopy, spec: FormSpec, step: StepSpec, posted: dict[str, Any]) -> None:
    """This step's answers replace what was there (an unticked box is an answer too);
    attachment slots keep their uploaded files, which are not re-posted."""
    for f in step.fields:
        if f.type == "attachment":
            continue
        copy.answers.pop(f.key, None)
        if f.key in posted:
            copy.answers[f.key] = posted[f.key]


def _uploads(
    request: HttpRequest, copy: WorkingCopy, step: StepSpec, user: User | None
) -> dict[str, str]:
    """Store files chosen on this step; refuse each bad one with its own message."""
    errors: dict[str, str] = {}
    for f in step.fields:
        if f.type != "attachment":
            continue
        files = request.FILES.getlist(input_name(f.key))
        if not files:
            continue
        batch = attachments_upload(
            procedure=copy.procedure,
            field_key=f.key,
            files=files,
            kept=list(copy.answers.get(f.key) or []),
            owner=user,
            guest_key=copy.guest_key,
            now=now(),
        )
        if batch.refusals:
            errors[f.key] = batch.error
        if batch.items:
            copy.answers[f.key] = batch.items
    return errors


def _remove_file(copy: WorkingCopy, user: User | None, value: str) -> None:
    key, _, file_id = value.partition(":")
    items = copy.answers.get(key)
    if not isinstance(items, list):
        return
    kept = [i for i in items if not (isinstance(i, dict) and i.get("id") == file_id)]
    if len(kept) != len(items):
        attachment_delete_unclaimed(owner=user, guest_key=copy.guest_key, attachment_id=file_id)
    if kept:
        copy.answers[key] = kept
    else:
        copy.answers.pop(key, None)


def _change_group(answers: dict[str, Any], add: str | None, remove: str | None) -> str:
    """Add or remove a group item; the name of an added item (``children.1``), else ""."""
    added = ""
    if add and isinstance(answers.get(add, []), list):
        answers.setdefault(add, []).append({})
        added = f"{add}.{len(answers[add]) - 1}"
    if remove and "." in remove:
        key, _, index = remove.rpartition(".")
        items = answers.get(key)
        position = parse_int(index)
        if isinstance(items, list) and position is not None and position < len(items):
            items.pop(position)
    return added


@require_http_methods(["GET", "POST"])
def form(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    """One step of the form. Every step is checked by the server and kept as a draft."""
    procedure = _procedure(request, code, procedure_id)
    if not procedure_is_open(procedure, now(), applicant=request.user):
        return _closed(request, procedure)
    user, guest = _who(request, procedure)
    if user is None and guest is None:
        return redirect(_apply_url(procedure, "start"))
    spec = form_spec(procedure.form_version)
    keys = [s.key for s in spec.steps]
    copy = apply_state.load(request, procedure)
    wanted = request.POST.get("_step") or request.GET.get("step") or copy.step or keys[0]
    step_key = wanted if wanted in keys else keys[0]
    errors: dict[str, str] = {}
    after = ""
    added = ""
    if request.method == "POST":
        step = spec.step(step_key)
        _merge_step(copy, spec, step, answers_from_post(spec, request.POST))
        errors = _uploads(request, copy, step, user)
        add, remove = request.POST.get("_add"), request.POST.get("_remove")
        remove_file = request.POST.get("_remove_file")
        if remove_file:
            _remove_file(copy, user, remove_file[:200])
        elif add or remove:
            groups = {f.key for f in step.fields if f.type == "group"}
            added = _change_group(copy.answers, add if add in groups else None, remove)
        elif request.POST.get("_bank_pick"):
            picked = bank_pick(spec, copy.answers, request.POST["_bank_pick"])
            after = f"#{html_id(picked)}" if picked else ""
        elif request.POST.get("_bank_search"):
            # Without JavaScript: come back to this step with the results (a GET, so that
            # reloading or going back does not post the form again).
            lookup = BankLookup.parse("", request.POST["_bank_search"], "")
            if lookup.field:
                query = request.POST.get(f"_{lookup.kind}_q.{lookup.field}", "")[:40]
                target = f"{lookup.field}.{lookup.kind}"
                after = "&" + urlencode({"lookup": target, "q": query})
                after += f"#{html_id(lookup.field)}"
        elif request.POST.get("_back"):
            # Going back never loses or checks what was typed on this step.
            step_key = keys[max(keys.index(step_key) - 1, 0)]
        elif request.POST.get("_save"):
            copy.step = step_key
            apply_state.save(request, copy, spec)
            messages.success(
                request,
                gettext(
                    "下書きを保存しました。マイページからいつでも続きを入力できます"
                    "（保存から30日で削除されます）。"
                )
                if user is not None
                else gettext("入力内容を一時的に保存しました。この画面を閉じると消えます。"),
            )
            return redirect(_apply_url(procedure) + f"?step={step_key}")
        elif not errors:
            result = validate(
                spec,
                copy.answers,
                today=to_tokyo(now()).date(),
                step=step_key,
                area=organisation_area(procedure.organisation),
            )
            errors = result.errors
            if not errors:
                index = keys.index(step_key)
                if index + 1 < len(keys):
                    step_key = keys[index + 1]
                else:
                    copy.step = step_key
                    apply_state.save(request, copy, spec)
                    return redirect(_apply_url(procedure, "confirm"))
        copy.step = step_key
        apply_state.save(request, copy, spec)
        if not errors:
            if added:
                # The new item's first field takes the focus (autofocus, which also scrolls it
                # into view): the same with JavaScript (htmx swaps the fields in) and without.
                # No #fragment: a browser skips autofocus when the URL targets an element.
                return redirect(_apply_url(procedure) + f"?step={step_key}&focus={added}")
            return redirect(_apply_url(procedure) + f"?step={step_key}" + after)
    if request.method == "GET" and request.GET.get("check") == "1":
        # Sent back from the confirmation: show what is missing or wrong on this step.
        errors = validate(
            spec,
            copy.answers,
            today=to_tokyo(now()).date(),
            step=step_key,
            area=organisation_area(procedure.organisation),
        ).errors
    step = spec.step(step_key)
    has_files = any(f.type == "attachment" for f in step.fields)
    files = {
        f.key: list(copy.answers.get(f.key) or []) for f in step.fields if f.type == "attachment"
    }
    return render(
        request,
        "portal/apply/step.html",
        {
            "procedure": procedure,
            "org": procedure.organisation,
            "spec": spec,
            "step": step,
            "steps": spec.steps,
            "step_number": keys.index(step_key) + 1,
            "fields_html": render_step(
                spec,
                step,
                copy.answers,
                errors,
                bank_lookup=BankLookup.parse(
                    reverse("portal:apply:bank_lookup"),
                    request.GET.get("lookup", ""),
                    request.GET.get("q", ""),
                ),
                live=_live(procedure, validate(spec, copy.answers, today=to_tokyo(now()).date())),
                focus=request.GET.get("focus", "")[:100] if not errors else "",
            ),
            "live_url": _apply_url(procedure, "live"),
            "errors": error_summary(spec, errors),
            "multipart": has_files,
            "files": files,
            "guest": guest,
            "resumed": copy.resumed_draft
            and request.method == "GET"
            and not request.GET.get("step"),
            "draft_expires_at": copy.draft_expires_at,
            "is_first": step_key == keys[0],
            "verified_labels": _verified_labels(request, user, spec, step, copy.answers),
        },
        status=422 if errors and request.method == "POST" else 200,
    )


def _live(procedure: Procedure, checked: ValidationResult) -> Live:
    """A live step: what its rules hide and compute now, and where to ask again."""
    return Live.of(checked, url=_apply_url(procedure, "live"), form_url=_apply_url(procedure))


#: At most this many ``_live_hidden`` values are read (a step has far fewer questions).
LIVE_HIDDEN_LIMIT = 200


@require_POST
def live(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    """The live form (htmx): the step as posted, checked by the same rules, answered with the
    fragments that changed (questions shown or hidden, computed values, the address a postal
    code fills, the message of the field just left). Reads only: nothing is saved, the draft
    is as the last 「次へ」 or 「下書きを保存」 left it."""
    procedure = _procedure(request, code, procedure_id)
    if not procedure_is_open(procedure, now(), applicant=request.user):
        return HttpResponse(status=409)
    user, guest = _who(request, procedure)
    if user is None and guest is None:
        return HttpResponse(status=403)
    spec = form_spec(procedure.form_version)
    try:
        step = spec.step(request.POST.get("_step", ""))
    except KeyError:
        return HttpResponse("その入力画面はありません。", status=400)
    copy = apply_state.load(request, procedure)
    _merge_step(copy, spec, step, answers_from_post(spec, request.POST))
    result = validate(spec, copy.answers, today=to_tokyo(now()).date(), step=step.key)
    response = HttpResponse(
        render_live(
            spec,
            step,
            copy.answers,
            result,
            live=_live(procedure, result),
            shown_hidden=[v[:200] for v in request.POST.getlist("_live_hidden")][
                :LIVE_HIDDEN_LIMIT
            ],
            touched=request.POST.get("_live_touched", "")[:200],
            typing=request.POST.get("_live_event") == "input",
        )
    )
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    """Everything at once before sending; sending carries this attempt's idempotency key."""
    procedure = _procedure(request, code, procedure_id)
    user, guest = _who(request, procedure)
    if user is None and guest is None:
        return redirect(_apply_url(procedure, "start"))
    spec = form_spec(procedure.form_version)
    copy = apply_state.load(request, procedure)
    if request.method == "POST":
        sent = apply_state.sent_receipt(request, procedure)
        if sent and not copy.answers:
            # Sent already by this session (a second click after the first one finished): the
            # answers are gone with the sending, so show its receipt rather than replay nothing
            # (which the service refuses as other answers under the same key).
            return redirect("portal:apply:complete", sent)
        key = request.POST.get("idempotency_key", "")
        version = request.POST.get("form_version")
        version_id = parse_int(version, minimum=1)
        if version and version_id is None:
            messages.error(
                request, "申請様式の指定が正しくありません。内容を確認してから送信してください。"
            )
            return redirect(_apply_url(procedure, "confirm"))
        held = apply_state.signature_held(
            request, procedure, content_sha256=request.POST.get("signed_digest", "")
        )
        try:
            result = application_submit(
                organisation=procedure.organisation,
                procedure=procedure,
                applicant=user,
                answers=copy.answers,
                idempotency_key=key,
                now=now(),
                form_version_id=version_id,
                contact_email=guest["email"] if guest else "",
                guest_key=copy.guest_key,
                identity=identity_current(user=user, session=request.session),
                signature=held.cms if held else None,
                signature_via=held.via if held else "upload",
                language=get_language() or "ja",
            )
        except ValidationFailed as failure:
            first = _first_step_with_error(spec, failure.errors)
            messages.error(request, "入力内容に誤りがあります。該当する項目を直してください。")
            return redirect(_apply_url(procedure) + f"?step={first}&check=1")
        except ProcedureClosed:
            return _closed(request, procedure)
        except (StaleFormVersion, IdempotencyConflict, InvalidIdempotencyKey) as error:
            messages.error(request, str(error))
            copy.idempotency_key = ""
            apply_state.save(request, copy, spec)
            return redirect(_apply_url(procedure, "confirm"))
        except AssuranceInsufficient as short:
            messages.error(request, " ".join((str(short), *short.shortfall.remedies)))
            return redirect(_apply_url(procedure, "confirm") + "#identity")
        except SignatureInvalid as error:
            apply_state.signature_clear(request, procedure)
            messages.error(request, str(error))
            return redirect(_apply_url(procedure, "confirm") + "#identity")
        except DuplicateApplication as error:
            messages.error(request, str(error))
            if error.first_receipt:  # the resident's own first application: show it
                return redirect("portal:apply:mypage_detail", error.first_receipt)
            return redirect(_apply_url(procedure, "confirm"))
        except SubmissionError as error:
            messages.error(request, str(error))
            return redirect(_apply_url(procedure, "confirm"))
        application = result.application
        apply_state.clear(request, procedure)
        apply_state.signature_clear(request, procedure)
        apply_state.remember_receipt(request, application.receipt_number)
        apply_state.remember_sent(request, procedure, application.receipt_number)
        return redirect("portal:apply:complete", application.receipt_number)
    sent = apply_state.sent_receipt(request, procedure)
    if sent and not copy.answers:
        # Back from the completion page: the answers are gone because they were sent. Saying
        # so (with the receipt) keeps an unsure resident from typing everything in again.
        messages.info(request, f"この申請は送信済みです（受付番号 {sent}）。")
        return redirect("portal:apply:complete", sent)
    full = validate(
        spec,
        copy.answers,
        today=to_tokyo(now()).date(),
        area=organisation_area(procedure.organisation),
    )
    if full.errors:
        first = _first_step_with_error(spec, full.errors)
        messages.error(
            request,
            "まだ入力されていない項目か、誤りのある項目があります。"
            "（下書きから再開した場合、個人番号はもう一度入力してください。）",
        )
        return redirect(_apply_url(procedure) + f"?step={first}&check=1")
    if not copy.idempotency_key:
        copy.idempotency_key = new_idempotency_key()
        apply_state.save(request, copy, spec)
    signing = _signing(request, procedure, user, copy)
    return render(
        request,
        "portal/apply/confirm.html",
        {
            "procedure": procedure,
            "org": procedure.organisation,
            "spec": spec,
            "steps": spec.steps,
            "rows": preview_rows(spec, full.answers),
            "idempotency_key": copy.idempotency_key,
            "form_version": procedure.form_version_id,
            "guest": guest,
            **signing,
        },
    )


def _signing(
    request: HttpRequest, procedure: Procedure, user: User | None, copy: WorkingCopy
) -> dict[str, Any]:
    """The identity part of the confirmation page: what is still needed, and the signature
    held for exactly these answers (a signature for other answers no longer counts)."""
    needs_card = procedure.signature_required or procedure.ial >= 3
    if not needs_card and _shortfall(request, procedure, user, signed=False) is None:
        return {"shortfall": None, "held": None, "signed_digest": "", "offer_signing": False}
    content = _canonical_of(procedure, user, copy)
    digest = hashlib.sha256(content).hexdigest() if content else ""
    held = apply_state.signature_held(request, procedure, content_sha256=digest)
    return {
        "shortfall": _shortfall(request, procedure, user, signed=held is not None),
        "held": held,
        "signed_digest": digest if held else "",
        "offer_signing": True,
    }


def _canonical_of(procedure: Procedure, user: User | None, copy: WorkingCopy) -> bytes | None:
    """The bytes to sign for the answers so far, or None while they are not valid."""
    try:
        return application_canonical(
            organisation=procedure.organisation,
            procedure=procedure,
            applicant=user,
            answers=copy.answers,
            now=now(),
            guest_key=copy.guest_key,
        )
    except ValidationFailed:
        return None


def _answers_for_signing(
    request: HttpRequest, procedure: Procedure
) -> tuple[User | None, WorkingCopy] | None:
    user, guest = _who(request, procedure)
    if user is None and guest is None:
        return None
    return user, apply_state.load(request, procedure)


@require_http_methods(["GET"])
def canonical_download(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    """The bytes to sign with the My Number card (署名対象データ), as a file."""
    procedure = _procedure(request, code, procedure_id)
    found = _answers_for_signing(request, procedure)
    if found is None:
        return redirect(_apply_url(procedure, "start"))
    user, copy = found
    content = _canonical_of(procedure, user, copy)
    if content is None:
        messages.error(request, "入力内容に誤りがあります。確認画面から直してください。")
        return redirect(_apply_url(procedure, "confirm"))
    response = HttpResponse(content, content_type=CANONICAL_TYPE)
    name = f"madoguchi-{procedure.organisation.lg_code}-{procedure.pk}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


#: A JPKI signature file (CMS with the certificate) is a few KiB.
SIGNATURE_UPLOAD_LIMIT = 64 * 1024


@require_POST
def signature_upload(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    """Check a signature file made over the downloaded bytes, and keep it for sending."""
    procedure = _procedure(request, code, procedure_id)
    found = _answers_for_signing(request, procedure)
    if found is None:
        return redirect(_apply_url(procedure, "start"))
    user, copy = found
    upload = request.FILES.get("signature")
    if upload is None or not upload.size:
        messages.error(request, "署名ファイル（.p7s など）を選んでください。")
        return redirect(_apply_url(procedure, "confirm") + "#identity")
    if upload.size > SIGNATURE_UPLOAD_LIMIT:
        messages.error(
            request,
            "署名ファイルが大きすぎます。マイナンバーカードで作成した署名ファイルを選んでください。",
        )
        return redirect(_apply_url(procedure, "confirm") + "#identity")
    data = upload.read(SIGNATURE_UPLOAD_LIMIT + 1)
    try:
        check = application_signature_check(
            organisation=procedure.organisation,
            procedure=procedure,
            applicant=user,
            answers=copy.answers,
            signature=data,
            now=now(),
            guest_key=copy.guest_key,
        )
    except ValidationFailed:
        messages.error(request, "入力内容に誤りがあります。確認画面から直してください。")
        return redirect(_apply_url(procedure, "confirm"))
    except SignatureInvalid as error:
        messages.error(request, str(error))
        return redirect(_apply_url(procedure, "confirm") + "#identity")
    apply_state.signature_store(
        request,
        procedure,
        content_sha256=check.content_sha256,
        cms=data,
        via="upload",
        signer=check.verification.attributes.name,
        mismatches=[m.__dict__ for m in check.mismatches],
    )
    messages.success(request, "電子署名を確認しました。内容を確かめて送信してください。")
    return redirect(_apply_url(procedure, "confirm") + "#identity")


def _verified_labels(
    request: HttpRequest, user: User | None, spec: FormSpec, step: StepSpec, answers: Any
) -> list[str]:
    """Labels of this step's applicant fields that still hold the verified values."""
    verified = _verified_attributes(request, user) if user is not None else None
    if verified is None:
        return []
    keys = set(verified_fields(spec, answers, verified))
    return [f.label for f in step.fields if f.key in keys]


def _first_step_with_error(spec: FormSpec, errors: dict[str, str]) -> str:
    for step in spec.steps:
        keys = {f.key for f in step.fields}
        if any(path.split(".")[0] in keys for path in errors):
            return step.key
    return spec.steps[0].key


def _own_application(request: HttpRequest, receipt_number: str) -> Application:
    """The application if this resident (or this guest session) sent it; else 404."""
    if not receipt_number.isascii() or not receipt_number.isprintable():
        # NUL and control characters never form a receipt number (and PostgreSQL refuses
        # a NUL in a query: it would answer 500).
        raise Http404("その申請はありません。")
    user = apply_state.resident(request)
    try:
        if user is not None:
            return application_of_applicant(applicant=user, receipt_number=receipt_number)
        if apply_state.session_owns(request, receipt_number):
            return application_by_receipt(receipt_number=receipt_number)
    except Application.DoesNotExist:
        pass
    raise Http404("その申請はありません。")


def complete(request: HttpRequest, receipt_number: str) -> HttpResponse:
    application = _own_application(request, receipt_number)
    return render(
        request,
        "portal/apply/complete.html",
        {
            "application": application,
            "procedure": application.procedure,
            "org": application.organisation,
            "arrived": to_tokyo(application.arrived_at),
            "has_account": apply_state.resident(request) is not None,
            "identity": application_identity(application),
        },
    )


def receipt_pdf(request: HttpRequest, receipt_number: str) -> HttpResponse:
    application = _own_application(request, receipt_number)
    if application.is_test:  # 運用テスト: never entered in the register
        pdf = application_receipt_pdf(application, now=now())
    else:
        try:
            pdf = bytes(
                application_receipt_issue(
                    organisation=application.organisation,
                    application=application,
                    actor=apply_state.resident(request),
                    now=now(),
                ).pdf
            )
        except SealError as error:
            return HttpResponse(
                f"到達通知を発行できませんでした。{error}時間をおいて、もう一度お試しください。",
                status=503,
                content_type="text/plain; charset=utf-8",
            )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="receipt-{application.receipt_number}.pdf"'
    )
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
def guest_email(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    """Applying without an account: prove the e-mail address first (procedures of level 1)."""
    procedure = _procedure(request, code, procedure_id)
    if procedure.ial != 1 or procedure.status == ProcedureStatus.DRAFT:
        # 運用テスト: only named testers apply, with their accounts; nobody as a guest.
        raise Http404("この手続はアカウントなしでは申請できません。")
    error = ""
    email = ""
    if request.method == "POST":
        email = request.POST.get("email", "").strip()[:254]
        try:
            validate_email(email)
        except ValidationError:
            error = gettext("メールアドレスを正しく入力してください（例: taro@example.jp）。")
        if not error:
            try:
                guest_email_confirmation_send(
                    procedure=procedure,
                    email=email,
                    now=now(),
                    client_address=client_address(request) or "",
                    link_for=lambda token: request.build_absolute_uri(
                        reverse(
                            "portal:apply:guest_confirm",
                            args=[procedure.organisation.lg_code, procedure.pk, token],
                        )
                    ),
                )
            except MailRateLimited as limited:
                response = render(
                    request,
                    "portal/apply/guest_email.html",
                    {
                        "procedure": procedure,
                        "org": procedure.organisation,
                        "limited": str(limited),
                        "email": email,
                    },
                    status=429,
                )
                response["Retry-After"] = str(limited.retry_after_seconds)
                return response
            return render(
                request,
                "portal/apply/guest_sent.html",
                {"procedure": procedure, "org": procedure.organisation, "email": email},
            )
    return render(
        request,
        "portal/apply/guest_email.html",
        {"procedure": procedure, "org": procedure.organisation, "error": error, "email": email},
        status=422 if error else 200,
    )


@require_http_methods(["GET", "POST"])
def guest_confirm(request: HttpRequest, code: str, procedure_id: int, token: str) -> HttpResponse:
    """GET shows a button (mail scanners open links); POST starts the guest application."""
    procedure = _procedure(request, code, procedure_id)
    checked = guest_email_token_check(token=token[:500], max_age=GUEST_LINK_MAX_AGE)
    if (
        checked is None
        or checked[1] != procedure.pk
        or procedure.ial != 1
        or procedure.status == ProcedureStatus.DRAFT
    ):
        return render(
            request,
            "portal/apply/guest_invalid.html",
            {"procedure": procedure, "org": procedure.organisation},
            status=400,
        )
    if request.method == "POST":
        apply_state.guest_start(request, procedure, checked[0])
        # The address was proved a moment ago: the form's e-mail field starts with it, so the
        # guest is not asked for it again (they may still change it on the form).
        spec = form_spec(procedure.form_version)
        copy = apply_state.load(request, procedure)
        if not copy.answers:
            copy.answers = answers_by_type(spec, {"email": checked[0]})
            copy.step = copy.step or spec.steps[0].key
            apply_state.save(request, copy, spec)
        return redirect(_apply_url(procedure))
    return render(
        request,
        "portal/apply/guest_confirm.html",
        {"procedure": procedure, "org": procedure.organisation, "email": checked[0]},
    )


@require_POST
def draft_discard(request: HttpRequest, code: str, procedure_id: int) -> HttpResponse:
    procedure = _procedure(request, code, procedure_id)
    user = apply_state.resident(request)
    if user is not None:
        draft_delete(applicant=user, procedure=procedure)
    apply_state.clear(request, procedure)
    messages.success(request, gettext("下書きを削除しました。"))
    return redirect("portal:procedure", procedure.organisation.lg_code, procedure.pk)
