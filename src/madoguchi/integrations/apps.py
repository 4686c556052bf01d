from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "madoguchi.integrations"
    label = "integrations"
    verbose_name = "連携（API・Webhook・出力）"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from madoguchi.applications.events import application_arrived, application_status_changed
        from madoguchi.integrations.webhooks import (
            on_application_arrived,
            on_application_status_changed,
        )

        # Both signals are sent inside the transaction of the change: the webhook rows
        # commit with the application (or its move), or not at all.
        application_arrived.connect(on_application_arrived, dispatch_uid="integrations.arrived")
        application_status_changed.connect(
            on_application_status_changed, dispatch_uid="integrations.status_changed"
        )
