from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "madoguchi.console"
    label = "console"
    verbose_name = "職員コンソール"
