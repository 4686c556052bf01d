from django.apps import AppConfig


class DemoIdpConfig(AppConfig):
    name = "madoguchi.demo_idp"
    label = "demo_idp"
    verbose_name = "デモ用の認証サービス"
