from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "madoguchi.catalog"
    label = "catalog"
    verbose_name = "手続・ひな形"
