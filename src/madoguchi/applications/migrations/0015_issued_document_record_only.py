# Second half of 0014: the notice's PDF now lives only in the documents register. (A separate
# migration: PostgreSQL refuses to alter a table with pending trigger events from 0014's rows.)

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("applications", "0014_issued_document_record")]

    operations = [
        migrations.RemoveField(model_name="issueddocument", name="pdf"),
        migrations.RemoveField(model_name="issueddocument", name="sha256"),
        migrations.AlterField(
            model_name="issueddocument",
            name="record",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="issued_for",
                to="documents.document",
            ),
        ),
    ]
