"""Document.name: the document's own name as printed (罹災証明書, 施設使用許可書, …); existing
rows take it from their title, before 「（」 (the receipt or booking number)."""

from django.db import migrations, models


def names_fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    Document = apps.get_model("documents", "Document")
    for document in Document.objects.filter(name="").only("pk", "kind", "title").iterator():
        name = document.title.split("（", 1)[0].split("(", 1)[0].strip()[:64]
        if document.kind == "permit":
            name = "使用許可書"  # as the permit prints it
        Document.objects.filter(pk=document.pk).update(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0004_f3_register_v2_and_prefix_once"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="name",
            field=models.CharField(
                blank=True, default="", max_length=64, verbose_name="文書の名称"
            ),
        ),
        migrations.RunPython(names_fill, migrations.RunPython.noop),
    ]
