from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "madoguchi.applications"
    label = "applications"
    verbose_name = "申請"

    def ready(self) -> None:
        from madoguchi.applications.receivers import delete_drafts_of_closing_resident
        from madoguchi.identity.events import resident_closing

        resident_closing.connect(
            delete_drafts_of_closing_resident, dispatch_uid="applications.closing_drafts"
        )
