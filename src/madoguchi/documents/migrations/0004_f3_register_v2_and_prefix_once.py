# Register format 2 and one prefix per fiscal year (issue 14 review):
# - register entries keep the document's kind and number as issued, and both enter the entry
#   hash (madoguchi-register-2: what /verify/ shows is covered by the chain);
# - the documents carried over from the applications' own notices (applications 0014) are
#   appended to their organisation's register in issue order, so every document has an entry
#   and the audit needs no exemption;
# - two number series of one organisation and fiscal year never have the same prefix.
# There was no production data before this: the entries written with format 1 (development
# databases) are rehashed with format 2, and their published heads with them.

import hashlib
from datetime import UTC

from django.db import migrations, models

GENESIS = "0" * 64


def _entry_hash(*, lg_code, seq, kind, number, code, sha256, issued_at, prev_hash):
    # A frozen copy of madoguchi.documents.register.entry_hash (format 2).
    text = "\n".join(
        (
            "madoguchi-register-2",
            lg_code,
            str(seq),
            kind,
            hashlib.sha256(number.encode("utf-8")).hexdigest(),
            hashlib.sha256(code.encode("ascii")).hexdigest(),
            sha256,
            issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            prev_hash,
        )
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def forwards(apps, schema_editor):
    Organisation = apps.get_model("tenants", "Organisation")
    Document = apps.get_model("documents", "Document")
    Register = apps.get_model("documents", "Register")
    RegisterEntry = apps.get_model("documents", "RegisterEntry")
    RegisterHead = apps.get_model("documents", "RegisterHead")
    ids = set(Document.objects.values_list("organisation_id", flat=True)) | set(
        Register.objects.values_list("organisation_id", flat=True)
    )
    for org in Organisation.objects.filter(pk__in=ids).order_by("pk"):
        prev = GENESIS
        seq = 0
        hash_at = {}
        for entry in (
            RegisterEntry.objects.filter(organisation=org)
            .select_related("document")
            .order_by("seq")
        ):
            seq = entry.seq
            entry.kind = entry.document.kind
            entry.number = entry.document.number
            entry.prev_hash = prev
            entry.entry_hash = _entry_hash(
                lg_code=org.lg_code,
                seq=entry.seq,
                kind=entry.kind,
                number=entry.number,
                code=entry.code,
                sha256=entry.sha256,
                issued_at=entry.issued_at,
                prev_hash=prev,
            )
            entry.save(update_fields=["kind", "number", "prev_hash", "entry_hash"])
            prev = hash_at[seq] = entry.entry_hash
        for document in (
            Document.objects.filter(organisation=org, register_entry__isnull=True)
            .defer("pdf")
            .order_by("issued_at", "pk")
        ):
            seq += 1
            digest = _entry_hash(
                lg_code=org.lg_code,
                seq=seq,
                kind=document.kind,
                number=document.number,
                code=document.code,
                sha256=document.sha256,
                issued_at=document.issued_at,
                prev_hash=prev,
            )
            RegisterEntry.objects.create(
                organisation=org,
                seq=seq,
                document=document,
                kind=document.kind,
                number=document.number,
                code=document.code,
                sha256=document.sha256,
                issued_at=document.issued_at,
                prev_hash=prev,
                entry_hash=digest,
            )
            prev = hash_at[seq] = digest
        if seq:
            Register.objects.update_or_create(
                organisation=org, defaults={"length": seq, "head": prev}
            )
        for head in RegisterHead.objects.filter(organisation=org):
            if head.length in hash_at and head.head != hash_at[head.length]:
                head.head = hash_at[head.length]
                head.save(update_fields=["head"])


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0003_document_sha256_index"),
        ("applications", "0015_issued_document_record_only"),
        ("tenants", "0003_organisation_romaji_search_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="registerentry",
            name="kind",
            field=models.CharField(default="", max_length=32),
        ),
        migrations.AddField(
            model_name="registerentry",
            name="number",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddConstraint(
            model_name="numberseries",
            constraint=models.UniqueConstraint(
                fields=("organisation", "fiscal_year", "prefix"),
                name="number_series_prefix_once",
            ),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
