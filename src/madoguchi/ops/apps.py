from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "madoguchi.ops"
    label = "ops"
    verbose_name = "運用"
