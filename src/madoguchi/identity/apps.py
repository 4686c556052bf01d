from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "madoguchi.identity"
    label = "identity"
    verbose_name = "利用者・職員"
