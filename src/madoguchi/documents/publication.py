"""Publishing the register (台帳の公開): the daily heads and the public view of the entries.

Once a day (Japan time) each organisation's register head — its length and the hash of its
last entry — is fixed as a :class:`RegisterHead` and never changed again. Anyone who keeps a
published head can later recompute the chain from the public entries and check that entry
``length`` still has that hash: nothing before it was rewritten, removed or inserted.

The public entries carry no verification code and no number (only their SHA-256 enter the hash, see
:func:`madoguchi.documents.register.entry_hash`), no title and no name: a code is what lets
its holder look a document up, and it stays with the holder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from madoguchi.core.time import to_tokyo
from madoguchi.documents.constants import DocumentKind
from madoguchi.documents.models import Register, RegisterEntry, RegisterHead
from madoguchi.documents.register import HASH_VERSION as _HASH_VERSION
from madoguchi.tenants.models import Organisation

#: The formula of :func:`madoguchi.documents.register.entry_hash`, as the public pages and the
#: API describe it (a test recomputes with it).
HASH_VERSION = _HASH_VERSION


def register_heads_publish(*, now: datetime) -> int:
    """Publish today's head (Japan date of ``now``) of every organisation whose register has
    entries and has none for today; returns how many were published.

    Idempotent: a day's head is written once and never changed (a second call the same day
    publishes nothing; two workers racing on one organisation leave one row, the unique
    constraint refusing the other). Each head is read under the register's lock, so it is
    the head of a whole entry, never of one half-appended."""
    day = to_tokyo(now).date()
    published = 0
    done = set(RegisterHead.objects.filter(day=day).values_list("organisation_id", flat=True))
    pending = (
        Register.objects.filter(length__gt=0)
        .exclude(organisation_id__in=done)
        .values_list("pk", flat=True)
        .order_by("organisation_id")
    )
    for register_id in list(pending):
        try:
            with transaction.atomic(durable=True):
                register = Register.objects.select_for_update().get(pk=register_id)
                if RegisterHead.objects.filter(
                    organisation_id=register.organisation_id, day=day
                ).exists():
                    continue
                RegisterHead.objects.create(
                    organisation_id=register.organisation_id,
                    day=day,
                    length=register.length,
                    head=register.head,
                    published_at=now,
                )
        except IntegrityError:  # another worker published it first
            continue
        published += 1
    return published


def register_heads_of_day(*, now: datetime) -> list[RegisterHead]:
    """The heads published for the Japan date of ``now`` (every organisation), by
    organisation code, with their organisation."""
    return list(
        RegisterHead.objects.filter(day=to_tokyo(now).date())
        .select_related("organisation")
        .order_by("organisation__lg_code")
    )


def instant_text(instant: datetime) -> str:
    """An issue instant as the entry hash reads it: ``2026-12-04T23:17:40.123456Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class PublishedRegister:
    """One organisation's register as the public list shows it."""

    organisation: Organisation
    length: int
    latest: RegisterHead | None


def registers_published() -> list[PublishedRegister]:
    """Every organisation with a register, by organisation code, with its latest published
    head (None before the first publication)."""
    registers = list(
        Register.objects.filter(length__gt=0)
        .select_related("organisation")
        .order_by("organisation__lg_code")
    )
    latest: dict[int, RegisterHead] = {}
    for head in RegisterHead.objects.filter(
        organisation_id__in=[r.organisation_id for r in registers]
    ).order_by("organisation_id", "day"):
        latest[head.organisation_id] = head
    return [
        PublishedRegister(
            organisation=r.organisation, length=r.length, latest=latest.get(r.organisation_id)
        )
        for r in registers
    ]


def register_heads_of(organisation: Organisation) -> QuerySet[RegisterHead]:
    """The organisation's published heads, newest day first."""
    return RegisterHead.objects.filter(organisation=organisation).order_by("-day")


def register_entries_of(organisation: Organisation) -> QuerySet[RegisterEntry]:
    """The organisation's register entries, first first. Callers publish only the fields of
    :func:`entry_public` (never ``code``)."""
    return (
        RegisterEntry.objects.filter(organisation=organisation)
        .only(
            "seq",
            "kind",
            "number",
            "code",
            "sha256",
            "issued_at",
            "prev_hash",
            "entry_hash",
        )
        .order_by("seq")
    )


@dataclass(frozen=True)
class PublicEntry:
    """What the register publishes of one entry."""

    seq: int
    kind: str
    kind_label: str
    #: SHA-256 of the document number as printed (UTF-8; of "" for a document without one).
    number_sha256: str
    issued_at: datetime
    #: The instant exactly as it enters the hash (UTC, microseconds, ``Z``).
    issued_at_text: str
    issued_on: date
    code_sha256: str
    sha256: str
    prev_hash: str
    entry_hash: str


def entry_public(entry: RegisterEntry) -> PublicEntry:
    """The public fields of an entry: the code and the number only as their SHA-256, the
    document only by kind (as issued, as they enter the hash)."""
    kind = entry.kind
    return PublicEntry(
        seq=entry.seq,
        kind=kind,
        kind_label=str(DocumentKind(kind).label) if kind in DocumentKind.values else kind,
        number_sha256=hashlib.sha256(entry.number.encode("utf-8")).hexdigest(),
        issued_at=entry.issued_at,
        issued_at_text=instant_text(entry.issued_at),
        issued_on=to_tokyo(entry.issued_at).date(),
        code_sha256=hashlib.sha256(entry.code.encode("ascii")).hexdigest(),
        sha256=entry.sha256,
        prev_hash=entry.prev_hash,
        entry_hash=entry.entry_hash,
    )
