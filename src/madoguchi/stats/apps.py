from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "madoguchi.stats"
    label = "stats"
    verbose_name = "統計"
