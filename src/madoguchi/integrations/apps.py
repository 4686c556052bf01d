from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "madoguchi.integrations"
    label = "integrations"
    verbose_name = "連携（API・Webhook・出力）"
    default_auto_field = "django.db.models.BigAutoField"
