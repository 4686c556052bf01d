# Issued documents move into the documents register (issue 14): each existing notice becomes a
# documents.Document (unsealed, without a number: it was issued before numbering), and the
# application's IssuedDocument points at it instead of holding its own copy of the PDF.

import secrets

import django.db.models.deletion
from django.db import migrations, models

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _code():
    raw = "".join(secrets.choice(ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def forwards(apps, schema_editor):
    IssuedDocument = apps.get_model("applications", "IssuedDocument")
    Document = apps.get_model("documents", "Document")
    for issued in IssuedDocument.objects.order_by("pk").iterator():
        pdf = bytes(issued.pdf)
        record = Document.objects.create(
            organisation_id=issued.organisation_id,
            kind=issued.kind,
            title=issued.title,
            source_key=f"application:{issued.application_id}:decision:{issued.pk}",
            code=_code(),
            issued_at=issued.created_at,
            pdf=pdf,
            sha256=issued.sha256,
            issued_length=len(pdf),
        )
        issued.record_id = record.pk
        issued.save(update_fields=["record"])


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0013_test_mode_and_statistics"),
        ("documents", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="issueddocument",
            name="record",
            field=models.OneToOneField(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="issued_for",
                to="documents.document",
            ),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
