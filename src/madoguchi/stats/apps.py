from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "madoguchi.stats"
    label = "stats"
    verbose_name = "統計"

    def ready(self) -> None:
        from madoguchi.applications.events import application_arrived
        from madoguchi.stats.receivers import count_arrival

        application_arrived.connect(count_arrival, dispatch_uid="stats.count_arrival")
