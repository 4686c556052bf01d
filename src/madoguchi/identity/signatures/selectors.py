"""Reads for the organisation admin's JPKI page: the stored CRLs and the revocation choice."""

from __future__ import annotations

from django.db.models import QuerySet

from madoguchi.identity.models import JpkiCrl
from madoguchi.identity.signatures.revocation import revocation_method
from madoguchi.identity.signatures.trust import trust_anchors
from madoguchi.tenants.models import Organisation


def jpki_crls_of(*, organisation: Organisation) -> QuerySet[JpkiCrl]:
    """The organisation's current CRLs (one per issuer), without their bytes."""
    return (
        JpkiCrl.objects.filter(organisation=organisation)
        .defer("der")
        .select_related("imported_by")
        .order_by("issuer")
    )


def jpki_revocation_of(*, organisation: Organisation) -> str:
    """The revocation method in force for ``organisation`` (its choice or the default)."""
    return revocation_method(organisation)


def jpki_trust_anchors() -> list[dict[str, object]]:
    """The certification authorities whose cards are accepted now: ``name`` (the subject in
    words) and ``test`` (the installation's own test CA, never in production)."""
    return [
        {"name": anchor.certificate.subject.human_friendly, "test": anchor.test}
        for anchor in trust_anchors()
    ]
