from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "madoguchi.core"
    label = "core"
    verbose_name = "基盤"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from madoguchi.core.tenancy import connection_apply, rls_post_migrate

        # Row-level security on PostgreSQL: every migrate (by the owner) covers the tables it
        # added, whichever app they belong to; every new connection gets its thread's scope.
        # (post_migrate is sent once per app after all migrations ran: answering core's is enough.)
        post_migrate.connect(
            rls_post_migrate, sender=self, dispatch_uid="madoguchi_rls_post_migrate"
        )
        connection_created.connect(connection_apply, dispatch_uid="madoguchi_rls_scope")
