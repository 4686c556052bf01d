"""Organisation admin pages (団体管理者): staff, reviewers per procedure, the audit log.

Every page is for the admin's own organisation only: ids of another organisation's staff or
procedures answer 404. Writes are identity/catalog services, which record their own audit
events and send their own mail; each view makes one call and opens no transaction.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from madoguchi.audit.selectors import AuditFilters, audit_events_search
from madoguchi.catalog.models import Procedure
from madoguchi.catalog.organisation_info import (
    CONTACT_FIELDS,
    ContactRefused,
    organisation_contact_of,
    organisation_contact_save,
)
from madoguchi.catalog.selectors import procedure_get, procedures_of
from madoguchi.catalog.services import CatalogError, procedure_set_reviewers
from madoguchi.console.access import staff_required
from madoguchi.console.forms_admin import (
    ActiveForm,
    AuditSearchForm,
    ContactForm,
    CrlUploadForm,
    InviteForm,
    ReviewersForm,
    RevocationForm,
    RoleForm,
    format_cursor,
    parse_cursor,
)
from madoguchi.core.time import now as current_time
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import JpkiRevocationMethod, Staff, StaffTOTP
from madoguchi.identity.selectors import staff_get, staff_of_organisation
from madoguchi.identity.services import (
    InvalidToken,
    StaffError,
    staff_invitation_accept,
    staff_invitation_check,
    staff_invite,
    staff_set_active,
    staff_set_role,
    staff_set_signoff,
    staff_totp_reset,
)
from madoguchi.identity.signatures.selectors import (
    jpki_crls_of,
    jpki_revocation_of,
    jpki_trust_anchors,
)
from madoguchi.identity.signatures.services import (
    CrlRefused,
    jpki_crl_import,
    jpki_revocation_set,
)

admin_required = staff_required(StaffRole.ADMIN)


def _staff_or_404(staff: Staff, staff_id: int) -> Staff:
    try:
        return staff_get(organisation=staff.organisation, staff_id=staff_id)
    except Staff.DoesNotExist:
        raise Http404 from None


def _staff_page(
    request: HttpRequest,
    staff: Staff,
    *,
    invite_form: InviteForm | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    members = list(staff_of_organisation(organisation=staff.organisation))
    enrolled = set(
        StaffTOTP.objects.filter(
            user_id__in=[m.user_id for m in members], confirmed_at__isnull=False
        ).values_list("user_id", flat=True)
    )
    rows = [
        {
            "member": m,
            "invited": not m.user.has_usable_password(),
            "totp": m.user_id in enrolled,
            "is_me": m.pk == staff.pk,
        }
        for m in members
    ]
    context = {
        "staff": staff,
        "rows": rows,
        "roles": StaffRole.choices,
        "invite_form": invite_form or InviteForm(),
        "errors": errors or [],
    }
    return render(request, "console/admin/staff.html", context, status=status)


@require_GET
@admin_required
def staff_list(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    return _staff_page(request, staff)


@require_POST
@admin_required
def staff_invite_view(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _staff_page(request, staff, invite_form=form, status=400)
    now = current_time()
    data = form.cleaned_data
    try:
        member, _token = staff_invite(
            organisation=staff.organisation,
            email=data["email"],
            role=data["role"],
            display_name=data["display_name"],
            department=data["department"],
            actor=staff,
            base_url=request.build_absolute_uri("/"),
            now=now,
        )
    except StaffError as error:
        form.add_error("email", str(error))
        return _staff_page(request, staff, invite_form=form, status=400)
    messages.success(request, f"{member.user.email} に招待のメールを送りました。")
    return redirect("console:admin_staff")


def _change_failed(request: HttpRequest, staff: Staff, message: str) -> HttpResponse:
    return _staff_page(request, staff, errors=[message], status=400)


@require_POST
@admin_required
def staff_role_view(request: HttpRequest, staff_id: int, *, staff: Staff) -> HttpResponse:
    member = _staff_or_404(staff, staff_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _change_failed(request, staff, str(form.errors["role"][0]))
    now = current_time()
    try:
        member, _previous = staff_set_role(
            organisation=staff.organisation,
            staff_id=member.pk,
            role=form.cleaned_data["role"],
            actor=staff,
            now=now,
        )
    except StaffError as error:
        return _change_failed(request, staff, str(error))
    messages.success(
        request, f"{member.user.email} の役割を「{member.get_role_display()}」にしました。"
    )
    return redirect("console:admin_staff")


@require_POST
@admin_required
def staff_signoff_view(request: HttpRequest, staff_id: int, *, staff: Staff) -> HttpResponse:
    """Give or take the sign-off role (決裁権限)."""
    member = _staff_or_404(staff, staff_id)
    wanted = request.POST.get("may_sign_off", "")
    if wanted not in ("0", "1"):
        return _change_failed(request, staff, "決裁権限の指定が正しくありません。")
    try:
        member = staff_set_signoff(
            organisation=staff.organisation,
            staff_id=member.pk,
            may_sign_off=wanted == "1",
            actor=staff,
            now=current_time(),
        )
    except StaffError as error:
        return _change_failed(request, staff, str(error))
    messages.success(
        request,
        f"{member.user.email} の決裁権限を{'付けました' if member.may_sign_off else '外しました'}。",
    )
    return redirect("console:admin_staff")


@require_POST
@admin_required
def staff_active_view(request: HttpRequest, staff_id: int, *, staff: Staff) -> HttpResponse:
    member = _staff_or_404(staff, staff_id)
    form = ActiveForm(request.POST)
    if not form.is_valid():
        return _change_failed(request, staff, str(form.errors["active"][0]))
    active = form.cleaned_data["active"] == "1"
    now = current_time()
    try:
        member = staff_set_active(
            organisation=staff.organisation,
            staff_id=member.pk,
            active=active,
            actor=staff,
            now=now,
        )
    except StaffError as error:
        return _change_failed(request, staff, str(error))
    state = "有効にしました" if active else "利用停止にしました"
    messages.success(request, f"{member.user.email} を{state}。")
    return redirect("console:admin_staff")


@require_POST
@admin_required
def staff_totp_reset_view(request: HttpRequest, staff_id: int, *, staff: Staff) -> HttpResponse:
    member = _staff_or_404(staff, staff_id)
    now = current_time()
    member, _removed = staff_totp_reset(
        organisation=staff.organisation, staff_id=member.pk, actor=staff, now=now
    )
    messages.success(
        request,
        f"{member.user.email} の二要素認証をリセットしました。次のログインで設定し直します。",
    )
    return redirect("console:admin_staff")


# --- Reviewers per procedure --------------------------------------------------------------


@require_GET
@admin_required
def procedures_reviewers(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    procedures = list(
        procedures_of(organisation=staff.organisation, published_only=False).prefetch_related(
            "reviewers__user"
        )
    )
    return render(
        request, "console/admin/procedures.html", {"staff": staff, "procedures": procedures}
    )


def _reviewer_choices(staff: Staff) -> list[tuple[int, str]]:
    eligible = staff_of_organisation(organisation=staff.organisation).filter(
        active=True, role__in=(StaffRole.ADMIN, StaffRole.REVIEWER)
    )
    return [
        (m.pk, f"{m.user.display_name or m.user.email}（{m.get_role_display()}）") for m in eligible
    ]


@require_http_methods(["GET", "POST"])
@admin_required
def procedure_reviewers(request: HttpRequest, procedure_id: int, *, staff: Staff) -> HttpResponse:
    try:
        procedure = procedure_get(organisation=staff.organisation, procedure_id=procedure_id)
    except Procedure.DoesNotExist:
        raise Http404 from None
    choices = _reviewer_choices(staff)
    errors: list[str] = []
    if request.method == "POST":
        form = ReviewersForm(request.POST, choices=choices)
        if form.is_valid():
            try:
                procedure_set_reviewers(
                    organisation=staff.organisation,
                    procedure=procedure,
                    staff_ids=form.cleaned_data["reviewers"],
                    actor=staff.user,
                    now=current_time(),
                )
            except CatalogError as error:
                errors = error.problems
            else:
                messages.success(request, f"「{procedure.name}」の審査担当を保存しました。")
                return redirect("console:admin_procedures")
        else:
            errors = [str(e) for e in form.errors.get("reviewers", [])]
    else:
        form = ReviewersForm(
            initial={"reviewers": list(procedure.reviewers.values_list("pk", flat=True))},
            choices=choices,
        )
    return render(
        request,
        "console/admin/procedure_reviewers.html",
        {"staff": staff, "procedure": procedure, "form": form, "errors": errors},
        status=400 if errors else 200,
    )


# --- The audit log ----------------------------------------------------------------------------

AUDIT_PAGE_SIZE = 50


@require_GET
@admin_required
def audit_log(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    form = AuditSearchForm(request.GET or None)
    context: dict[str, Any] = {"staff": staff, "form": form, "events": [], "next_query": ""}
    if request.GET and not form.is_valid():
        return render(request, "console/admin/audit.html", context, status=400)
    filters = form.filters() if form.is_bound else AuditFilters()
    after = parse_cursor(form.cleaned_data.get("after") or "") if form.is_bound else None
    page = audit_events_search(
        organisation=staff.organisation, filters=filters, after=after, limit=AUDIT_PAGE_SIZE
    )
    context["events"] = page.events
    context["searched"] = form.is_bound
    if page.next_cursor is not None:
        query = request.GET.copy()
        query["after"] = format_cursor(page.next_cursor)
        context["next_query"] = query.urlencode()
    return render(request, "console/admin/audit.html", context)


# --- My Number card signatures: revocation (公的個人認証) ------------------------------------


def _jpki_page(
    request: HttpRequest,
    staff: Staff,
    *,
    upload_form: CrlUploadForm | None = None,
    revocation_form: RevocationForm | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    organisation = staff.organisation
    current = jpki_revocation_of(organisation=organisation)
    context = {
        "staff": staff,
        "crls": list(jpki_crls_of(organisation=organisation)),
        "revocation": JpkiRevocationMethod(current).label,
        "upload_form": upload_form or CrlUploadForm(),
        "revocation_form": revocation_form
        or RevocationForm(initial={"revocation": current}, choices=JpkiRevocationMethod.choices),
        "errors": errors or [],
        "now": current_time(),
        "anchors": jpki_trust_anchors(),
    }
    return render(request, "console/admin/jpki.html", context, status=status)


@require_GET
@admin_required
def jpki_settings(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    return _jpki_page(request, staff)


@require_POST
@admin_required
def jpki_crl_upload(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    form = CrlUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _jpki_page(request, staff, upload_form=form, status=400)
    try:
        crl = jpki_crl_import(
            organisation=staff.organisation,
            data=form.cleaned_data["crl_file"],
            actor=staff.user,
            now=current_time(),
        )
    except CrlRefused as error:
        return _jpki_page(request, staff, upload_form=form, errors=[error.message], status=400)
    messages.success(
        request,
        f"失効リストを取り込みました（CRL番号 {crl.crl_number or '—'}、失効 {crl.revoked_count} 件）。",
    )
    return redirect("console:admin_jpki")


@require_POST
@admin_required
def jpki_revocation_view(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    form = RevocationForm(request.POST, choices=JpkiRevocationMethod.choices)
    if not form.is_valid():
        return _jpki_page(request, staff, revocation_form=form, status=400)
    jpki_revocation_set(
        organisation=staff.organisation,
        method=form.cleaned_data["revocation"],
        actor=staff.user,
        now=current_time(),
    )
    messages.success(request, "失効確認の方法を保存しました。")
    return redirect("console:admin_jpki")


@require_http_methods(["GET", "POST"])
@admin_required
def contact_settings(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    """団体の連絡先・規約: shown to residents on the organisation's pages and procedures."""
    organisation = staff.organisation
    if request.method == "POST":
        form = ContactForm(request.POST)
        if form.is_valid():
            try:
                organisation_contact_save(
                    organisation=organisation,
                    actor=staff.user,
                    data=form.cleaned_data,
                    now=current_time(),
                )
            except ContactRefused as refused:
                for name, message in refused.errors.items():
                    form.add_error(name, message)
            else:
                messages.success(request, "連絡先・規約を保存しました。")
                return redirect("console:admin_contact")
    else:
        row = organisation_contact_of(organisation=organisation)
        form = ContactForm(
            initial={name: getattr(row, name) for name in CONTACT_FIELDS} if row else None
        )
    return render(
        request,
        "console/admin/contact.html",
        {"form": form, "organisation": organisation},
        status=400 if form.errors else 200,
    )


# --- Accepting an invitation (anonymous: the invitee has no password yet) ---------------------


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    try:
        member = staff_invitation_check(token=token)
    except InvalidToken:
        response = render(request, "console/admin/invitation_invalid.html", status=404)
        add_never_cache_headers(response)
        return response
    form = SetPasswordForm(member.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        now = current_time()
        try:
            member = staff_invitation_accept(
                token=token, password=form.cleaned_data["new_password1"], now=now
            )
        except InvalidToken:
            return render(request, "console/admin/invitation_invalid.html", status=404)
        except ValidationError as error:
            form.add_error("new_password1", error)
        else:
            request.session["login_message"] = (
                "パスワードを設定しました。ログインして、二要素認証を設定してください。"
            )
            return redirect("console:login")
    status = 400 if form.errors else 200
    response = render(
        request,
        "console/admin/invitation.html",
        {"member": member, "form": form, "token": token},
        status=status,
    )
    add_never_cache_headers(response)
    return response
