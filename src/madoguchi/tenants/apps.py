from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "madoguchi.tenants"
    label = "tenants"
    verbose_name = "団体マスタ"
