"""Every tenant-owned table carries ``organisation``: revisions and attachments get it.

The column is added nullable, filled from the application (revisions) and from the
procedure the file was uploaded for (attachments), then made non-null.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill(apps, schema_editor):
    Application = apps.get_model("applications", "Application")
    ApplicationRevision = apps.get_model("applications", "ApplicationRevision")
    Attachment = apps.get_model("applications", "Attachment")
    Procedure = apps.get_model("catalog", "Procedure")
    ApplicationRevision.objects.filter(organisation__isnull=True).update(
        organisation_id=Subquery(
            Application.objects.filter(pk=OuterRef("application_id")).values("organisation_id")[:1]
        )
    )
    Attachment.objects.filter(organisation__isnull=True).update(
        organisation_id=Subquery(
            Procedure.objects.filter(pk=OuterRef("procedure_id")).values("organisation_id")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0004_decision_and_kind_constraints"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="applicationrevision",
            name="organisation",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tenants.organisation",
            ),
        ),
        migrations.AddField(
            model_name="attachment",
            name="organisation",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tenants.organisation",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="applicationrevision",
            name="organisation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tenants.organisation",
            ),
        ),
        migrations.AlterField(
            model_name="attachment",
            name="organisation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tenants.organisation",
            ),
        ),
    ]
