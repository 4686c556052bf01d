from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "madoguchi.applications"
    label = "applications"
    verbose_name = "申請"

    def ready(self) -> None:
        from madoguchi.applications.events import application_arrived, application_status_changed
        from madoguchi.applications.receivers import (
            delete_drafts_of_closing_resident,
            notify_staff_of_arrival,
            notify_staff_of_resubmission,
        )
        from madoguchi.identity.events import resident_closing

        resident_closing.connect(
            delete_drafts_of_closing_resident, dispatch_uid="applications.closing_drafts"
        )
        application_arrived.connect(
            notify_staff_of_arrival, dispatch_uid="applications.staff_notice_arrival"
        )
        application_status_changed.connect(
            notify_staff_of_resubmission, dispatch_uid="applications.staff_notice_resubmitted"
        )
