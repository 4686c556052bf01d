"""The Django admin is for platform operators (運用者) only: read-mostly views of the master.

It can move any staff member to any organisation and role, so it is guarded as the console is:

- Its login is the console's (password, then the second factor, under the attempt limits of
  ``identity.throttle``): the admin's own login page only sends there and checks no password.
- A page opens only for an active operator (``is_staff``) whose session carries identity's
  two-factor mark (``identity.login.MFA_SESSION_KEY``); a password-only session — from the
  resident portal, or any other way — is sent to the console login.
- Every change made here (add, change, delete of any model) is an audit event: who, which model
  and object, which fields — field names only, never their values.
- A staff member's role or activity changed here ends their API tokens, as in the console.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse

from madoguchi.audit.services import audit_record
from madoguchi.core.time import now
from madoguchi.identity.login import session_mfa_complete
from madoguchi.identity.models import GroupOperator, Staff, User
from madoguchi.identity.tokens import staff_tokens_end
from madoguchi.tenants.models import MasterLoad, Organisation, PopulationImport, SharedGroup

#: Fields whose change ends the API tokens of the account (see ``identity.tokens``).
_TOKEN_ENDING_FIELDS = {"role", "active", "is_active", "organisation"}


class OperatorAdminSite(admin.AdminSite):
    site_header = "窓口 運用者管理"
    site_title = "窓口 運用者管理"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(
            user.is_active
            and user.is_staff
            and session_mfa_complete(session=request.session, user=user)
        )

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """No password is checked here: the console's login (both factors, throttled).

        Someone already logged in with both factors who is not a platform operator (staff of
        an organisation, a group operator) is refused here; sending them to the console
        login would send them straight back (a redirect loop)."""
        if session_mfa_complete(session=request.session, user=request.user):
            raise PermissionDenied("運用者管理の画面は、プラットフォームの運用者だけが使えます。")
        wanted = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        return redirect_to_login(wanted, reverse("console:login"))


site = OperatorAdminSite(name="admin")


def _organisation_of(obj: models.Model) -> Organisation | None:
    if isinstance(obj, Organisation):
        return obj
    organisation = getattr(obj, "organisation", None)
    return organisation if isinstance(organisation, Organisation) else None


def _owner_of(obj: models.Model) -> User | None:
    owner = obj if isinstance(obj, User) else getattr(obj, "user", None)
    return owner if isinstance(owner, User) else None


def _audit(request: HttpRequest, obj: models.Model, action: str, fields: list[str]) -> None:
    user = request.user
    operator = user if isinstance(user, User) else None
    audit_record(
        action=action,
        now=now(),
        organisation=_organisation_of(obj),
        actor=operator,
        actor_label=operator.email if operator is not None else "",
        target_type=obj._meta.label_lower,
        target_id=obj.pk,
        detail={"model": obj._meta.label_lower, "fields": sorted(fields)},
    )


class AuditedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Every add, change and delete is an audit event, in the admin's own transaction."""

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        changed = list(form.changed_data)
        _audit(request, obj, "admin.changed" if change else "admin.added", changed)
        owner = _owner_of(obj)
        if change and owner is not None and _TOKEN_ENDING_FIELDS & set(changed):
            staff_tokens_end(user=owner, now=now(), reason="operator_admin")

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        _audit(request, obj, "admin.deleted", [])
        owner = _owner_of(obj)
        if isinstance(obj, Staff) and owner is not None:
            staff_tokens_end(user=owner, now=now(), reason="operator_admin")
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        # One by one, so that each deletion is audited and ends what it must.
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Organisation, site=site)
class OrganisationAdmin(AuditedAdmin):
    list_display = ("lg_code", "name", "kana", "kind", "prefecture_code", "population", "active")
    list_filter = ("kind", "active", "prefecture_code")
    search_fields = ("lg_code", "name", "kana")
    readonly_fields = ("lg_code", "search_key", "created_at", "updated_at")


@admin.register(SharedGroup, site=site)
class SharedGroupAdmin(AuditedAdmin):
    list_display = ("slug", "name", "prefecture", "active")


@admin.register(MasterLoad, site=site)
class MasterLoadAdmin(AuditedAdmin):
    list_display = ("loaded_at", "source", "created", "updated", "deactivated", "reactivated")


@admin.register(PopulationImport, site=site)
class PopulationImportAdmin(AuditedAdmin):
    list_display = ("imported_at", "file_name", "encoding", "as_of", "rows")


@admin.register(User, site=site)
class UserAdmin(AuditedAdmin):
    list_display = ("email", "display_name", "is_active", "is_staff")
    search_fields = ("email",)
    exclude = ("password",)


@admin.register(Staff, site=site)
class StaffAdmin(AuditedAdmin):
    list_display = ("user", "organisation", "role", "active")
    list_filter = ("role", "active")
    # How the member hears of work is their own choice (console → お知らせメールの設定).
    exclude = ("notice_mode",)


@admin.register(GroupOperator, site=site)
class GroupOperatorAdmin(AuditedAdmin):
    pass
