"""Existing organisations get the romanised reading in their search key (``kamakura``).

The master loader computes it for new loads; an installation whose master was loaded before
would otherwise not find 鎌倉市 by ``kamakura`` until the master data changes.
"""

from django.db import migrations


def add_romaji(apps, schema_editor):
    from madoguchi.core.text import search_key
    from madoguchi.tenants.romaji import romaji_keys

    Organisation = apps.get_model("tenants", "Organisation")
    names = dict(Organisation.objects.values_list("pk", "name"))
    changed = []
    for org in Organisation.objects.all().iterator():
        parent = names.get(org.parent_id, "") if org.parent_id else ""
        words = [f"{parent}{org.name}", org.kana, org.lg_code, org.name_en, romaji_keys(org.kana)]
        key = search_key(" ".join(w for w in words if w))[:256]
        if key != org.search_key:
            org.search_key = key
            changed.append(org)
    Organisation.objects.bulk_update(changed, ["search_key"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("tenants", "0002_organisation_contact")]

    operations = [migrations.RunPython(add_romaji, migrations.RunPython.noop)]
