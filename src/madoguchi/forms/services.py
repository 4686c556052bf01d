"""Writes of form definitions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction

from madoguchi.forms.models import FormDefinition, FormVersion
from madoguchi.forms.schema import check_definition
from madoguchi.tenants.models import Organisation


def canonical_digest(schema: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a definition (sorted keys, UTF-8, no spaces)."""
    text = json.dumps(schema, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def form_version_publish(
    *,
    organisation: Organisation | None,
    schema: Mapping[str, Any],
    now: datetime,
    key: str | None = None,
) -> FormVersion:
    """Store ``schema`` as the next version of its form (national when no organisation).

    The form is identified by ``key`` (default: the schema's own key), so two procedures of
    one organisation whose files happen to share a key keep separate version histories.

    Checks the definition completely first (raises ``InvalidDefinition``). Publishing the
    same content as the latest version returns that version instead of a copy.
    """
    check_definition(schema)
    digest = canonical_digest(schema)
    with transaction.atomic():
        definition, _ = FormDefinition.objects.select_for_update().get_or_create(
            organisation=organisation, key=key or schema["key"], defaults={"title": schema["title"]}
        )
        latest = definition.versions.order_by("-version").first()
        if latest is not None and latest.digest == digest:
            return latest
        if definition.title != schema["title"]:
            definition.title = schema["title"]
            definition.save(update_fields=["title"])
        return FormVersion.objects.create(
            definition=definition,
            version=(latest.version + 1) if latest else 1,
            schema=dict(schema),
            digest=digest,
            published_at=now,
        )
