"""The Django admin is for platform operators (運用者) only: read-mostly views of the master."""

from __future__ import annotations

from django.contrib import admin

from madoguchi.identity.models import GroupOperator, Staff, User
from madoguchi.tenants.models import MasterLoad, Organisation, PopulationImport, SharedGroup


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin[Organisation]):
    list_display = ("lg_code", "name", "kana", "kind", "prefecture_code", "population", "active")
    list_filter = ("kind", "active", "prefecture_code")
    search_fields = ("lg_code", "name", "kana")
    readonly_fields = ("lg_code", "search_key", "created_at", "updated_at")


@admin.register(SharedGroup)
class SharedGroupAdmin(admin.ModelAdmin[SharedGroup]):
    list_display = ("slug", "name", "prefecture", "active")


@admin.register(MasterLoad)
class MasterLoadAdmin(admin.ModelAdmin[MasterLoad]):
    list_display = ("loaded_at", "source", "created", "updated", "deactivated", "reactivated")


@admin.register(PopulationImport)
class PopulationImportAdmin(admin.ModelAdmin[PopulationImport]):
    list_display = ("imported_at", "file_name", "encoding", "as_of", "rows")


@admin.register(User)
class UserAdmin(admin.ModelAdmin[User]):
    list_display = ("email", "display_name", "is_active", "is_staff")
    search_fields = ("email",)
    exclude = ("password",)


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin[Staff]):
    list_display = ("user", "organisation", "role", "active")
    list_filter = ("role", "active")


admin.site.register(GroupOperator)
admin.site.site_header = "窓口 運用者管理"
