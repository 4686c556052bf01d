"""Reads of the catalog: templates, procedures, their differences from the template, search."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Prefetch, Q, QuerySet

from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.definitions import national_synonyms, optional_defaults, parameter_defaults
from madoguchi.catalog.models import LifeEvent, Procedure, Template, TemplateVersion
from madoguchi.core.text import search_key
from madoguchi.core.time import to_tokyo
from madoguchi.forms.base import field_types
from madoguchi.tenants.models import Organisation, SharedGroup
from madoguchi.tenants.selectors import groups_of_organisation

MAX_QUERY_LENGTH = 100


def templates_list() -> QuerySet[Template]:
    """National templates with their versions (newest last) and life events."""
    return (
        Template.objects.filter(group__isnull=True)
        .prefetch_related(
            Prefetch("versions", queryset=TemplateVersion.objects.order_by("version")),
            "life_events",
        )
        .order_by("category", "slug")
    )


def template_version_get(*, slug: str, version: int | None = None) -> TemplateVersion:
    """A national template's version (the newest when ``version`` is None). Raises
    DoesNotExist (also for a group template's slug: those are reached through the group)."""
    qs = TemplateVersion.objects.select_related("template", "form_version").filter(
        template__slug=slug[:64], template__group__isnull=True
    )
    if version is None:
        result = qs.order_by("-version").first()
        if result is None:
            raise TemplateVersion.DoesNotExist
        return result
    return qs.get(version=version)


def latest_template_version(*, template_id: int) -> TemplateVersion | None:
    return TemplateVersion.objects.filter(template_id=template_id).order_by("-version").first()


def group_library(*, organisation: Organisation) -> QuerySet[Template]:
    """The group templates (グループ内ひな形) of every active group ``organisation`` is a
    member of, its own publications included, with their versions (newest last)."""
    groups = groups_of_organisation(organisation=organisation).values("pk")
    return (
        Template.objects.filter(group__in=groups)
        .select_related("group", "source_organisation")
        .prefetch_related(
            Prefetch("versions", queryset=TemplateVersion.objects.order_by("version"))
        )
        .order_by("group__name", "name", "pk")
    )


def group_library_of(*, group: SharedGroup) -> list[dict[str, Any]]:
    """A group's library as its operator sees it: each template's name, who published it,
    and its newest version number."""
    rows = (
        Template.objects.filter(group=group)
        .order_by("name", "pk")
        .values("pk", "name", "source_organisation__name")
        .annotate(latest=Max("versions__version"))
    )
    return [dict(row) for row in rows]


def group_template_get(*, organisation: Organisation, template_id: int) -> Template:
    """A group template of a group ``organisation`` belongs to; anything else (a national
    template, another group's) raises ``Template.DoesNotExist`` (404)."""
    return group_library(organisation=organisation).get(pk=template_id)


def group_templates_published_by(*, organisation: Organisation) -> dict[int, list[Template]]:
    """The organisation's own procedures in group libraries: procedure id → its templates."""
    found: dict[int, list[Template]] = {}
    for template in group_library(organisation=organisation).filter(
        source_organisation=organisation
    ):
        assert template.source_procedure_id is not None
        found.setdefault(template.source_procedure_id, []).append(template)
    return found


def newer_template_versions(procedures: list[Procedure]) -> dict[int, int]:
    """Procedure id → the newest version of its (national or group) template, for those whose
    template has a newer version than the one they use."""
    current = {
        p.pk: (p.template_version.template_id, p.template_version.version)
        for p in procedures
        if p.template_version is not None
    }
    if not current:
        return {}
    rows = (
        TemplateVersion.objects.filter(template_id__in={t for t, _ in current.values()})
        .values("template_id")
        .annotate(latest=Max("version"))
        .order_by()
    )
    latest = {row["template_id"]: row["latest"] for row in rows}
    return {
        pk: latest[template_id]
        for pk, (template_id, version) in current.items()
        if latest.get(template_id, 0) > version
    }


def life_events_list() -> QuerySet[LifeEvent]:
    return LifeEvent.objects.order_by("order")


def procedures_of(
    *, organisation: Organisation, published_only: bool = True
) -> QuerySet[Procedure]:
    """An organisation's procedures (for residents: only published ones, and none of an
    organisation that no longer exists, as in search and ``published_procedure_get``)."""
    qs = Procedure.objects.filter(organisation=organisation).select_related(
        "template_version__template__source_organisation", "form_version"
    )
    if published_only:
        qs = qs.filter(status=ProcedureStatus.PUBLISHED, organisation__active=True)
    return qs.order_by("name")


@dataclass(frozen=True)
class OnlineOrganisation:
    organisation: Organisation
    procedures: int


def online_organisations_in_prefecture(*, prefecture_code: str) -> list[OnlineOrganisation]:
    """The active organisations of a prefecture (itself included) that publish at least one
    procedure online, with how many, most first (then in code order) — for the prefecture
    portal, which lists them before the full list of municipalities."""
    rows = (
        Procedure.objects.filter(
            status=ProcedureStatus.PUBLISHED,
            organisation__active=True,
            organisation__prefecture_code=prefecture_code[:2],
        )
        .values("organisation_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {row["organisation_id"]: row["n"] for row in rows}
    orgs = Organisation.objects.filter(pk__in=counts).select_related("parent")
    found = [OnlineOrganisation(org, counts[org.pk]) for org in orgs]
    return sorted(found, key=lambda item: (-item.procedures, item.organisation.lg_code))


def procedure_get(
    *, organisation: Organisation, procedure_id: int, published_only: bool = False
) -> Procedure:
    """One procedure of ``organisation``; another organisation's id raises DoesNotExist (404)."""
    return procedures_of(organisation=organisation, published_only=published_only).get(
        pk=procedure_id
    )


#: Published procedures as loaded by ``published_procedure_get``, keyed by what changes
#: when they change: (id, the procedure's updated_at, its form version, the organisation's
#: updated_at). Process-local; every look-up still asks the database for the key, so a change
#: committed by any process is seen by the next look-up in every process.
_PUBLISHED: dict[tuple[Any, ...], Procedure] = {}
_PUBLISHED_MAX = 512


def _published_copy(procedure: Procedure) -> Procedure:
    """A copy a caller may change without changing the cached one (and its related rows)."""
    clone = copy.copy(procedure)
    clone._state = copy.copy(procedure._state)
    clone._state.fields_cache = {
        name: copy.copy(related) for name, related in procedure._state.fields_cache.items()
    }
    return clone


def published_procedure_get(*, procedure_id: int) -> Procedure:
    """A published procedure of any organisation, for residents and the public API.

    One small query (the procedure's and its organisation's ``updated_at`` and the form
    version, only while published and the organisation active) names the version to use; the
    procedure with its organisation, template and form version is loaded once per process
    and version and then served from memory. Every change of a procedure (status, settings,
    a new form version: ``Procedure.save`` moves ``updated_at``) or of its organisation
    therefore reaches the next look-up in every process. Raises ``Procedure.DoesNotExist``.

    The large JSON documents (the form schema, the template's metadata) are deferred: the
    form spec is cached by the version's digest, so they are read only on a cache miss or by
    the pages that show them.
    """
    if not isinstance(procedure_id, int) or isinstance(procedure_id, bool):
        raise Procedure.DoesNotExist
    row = (
        Procedure.objects.filter(
            pk=procedure_id, status=ProcedureStatus.PUBLISHED, organisation__active=True
        )
        .values_list("updated_at", "form_version_id", "organisation__updated_at")
        .first()
    )
    if row is None:
        raise Procedure.DoesNotExist
    key = (procedure_id, *row)
    cached = _PUBLISHED.get(key)
    if cached is None:
        cached = (
            Procedure.objects.select_related(
                "organisation__prefecture",
                "organisation__parent",
                "template_version__template",
                "form_version",
            )
            .defer("form_version__schema", "template_version__metadata")
            .get(pk=procedure_id, status=ProcedureStatus.PUBLISHED, organisation__active=True)
        )
        if (cached.updated_at, cached.form_version_id, cached.organisation.updated_at) != row:
            return cached  # changed between the two queries: use it, keep nothing
        if len(_PUBLISHED) >= _PUBLISHED_MAX:
            _PUBLISHED.clear()
        _PUBLISHED[key] = cached
    return _published_copy(cached)


def _expand(term: str, synonyms: Mapping[str, list[str]]) -> list[str]:
    keys = [search_key(term)]
    for word, alternatives in synonyms.items():
        if search_key(word) == keys[0]:
            keys.extend(search_key(alt) for alt in alternatives)
    return [k for k in dict.fromkeys(keys) if k]


def procedures_search(
    *,
    q: str = "",
    organisation: Organisation | None = None,
    life_event: str | None = None,
    prefecture_code: str | None = None,
) -> QuerySet[Procedure]:
    """Published procedures matching every word of ``q`` (each word or one of its synonyms),
    in name, reading, synonyms, life events or organisation; kanji/kana and full-/half-width
    insensitive."""
    qs = Procedure.objects.filter(
        status=ProcedureStatus.PUBLISHED, organisation__active=True
    ).select_related("organisation")
    if organisation is not None:
        qs = qs.filter(organisation=organisation)
    if prefecture_code is not None:
        qs = qs.filter(organisation__prefecture_code=prefecture_code)
    if life_event:
        qs = qs.filter(life_events__slug=life_event[:64])
    synonyms = national_synonyms()
    for term in q[:MAX_QUERY_LENGTH].replace("\u3000", " ").split()[:8]:
        keys = _expand(term, synonyms)
        if not keys:
            continue
        condition = Q()
        for key in keys:
            condition |= Q(search_key__contains=key)
        qs = qs.filter(condition)
    return qs.distinct().order_by("organisation__lg_code", "name")


@dataclass(frozen=True)
class DiffLine:
    """One difference between a procedure and its national template."""

    kind: str  # "parameter" | "optional" | "local" | "setting" | "version"
    text: str


def procedure_diff(*, procedure: Procedure) -> list[DiffLine]:
    """How this organisation's procedure differs from the national template, in words."""
    version = procedure.template_version
    if version is None:
        return [DiffLine("version", "国のひな形によらない、団体独自の手続です。")]
    meta = version.metadata
    settings = procedure.settings
    source = version.template.source_organisation
    origin = (
        f"グループのひな形「{meta['name']}」第{version.version}版（{source.name}が公開）"
        if source is not None
        else f"国のひな形「{meta['name']}」第{version.version}版"
    )
    lines = [DiffLine("version", f"{origin}をもとにしています。")]
    latest = latest_template_version(template_id=version.template_id)
    if latest is not None and latest.version > version.version:
        lines.append(DiffLine("version", f"新しい版（第{latest.version}版）が公開されています。"))
    defaults = parameter_defaults(meta)
    for name, value in (settings.get("parameters") or {}).items():
        param = meta["parameters"][name]
        if value != defaults.get(name):
            unit = param.get("unit", "")
            lines.append(
                DiffLine(
                    "parameter", f"{param['label']}: ひな形 {defaults[name]}{unit} → {value}{unit}"
                )
            )
    labels = _labels(meta["form"])
    for key, on in (settings.get("optional_fields") or {}).items():
        default = optional_defaults(meta).get(key, True)
        if on != default:
            lines.append(
                DiffLine(
                    "optional",
                    f"任意項目「{labels.get(key, key)}」: {'求める' if on else '求めない'}（ひな形の既定は{'求める' if default else '求めない'}）",
                )
            )
    for question in settings.get("local_questions") or []:
        ftype = field_types[question["type"]] if question.get("type") in field_types else None
        required = "、必須" if question.get("required") else ""
        lines.append(
            DiffLine(
                "local",
                f"団体独自の質問を追加: 「{question.get('label')}」（{ftype.label if ftype else question.get('type')}{required}）",
            )
        )
    for key, label in (
        ("contact", "問い合わせ先"),
        ("counter", "受付窓口"),
        ("department", "担当部署"),
        ("summary", "手続の説明"),
    ):
        if settings.get(key):
            lines.append(DiffLine("setting", f"{label}: {settings[key]}"))
    if procedure.reception_starts_at or procedure.reception_ends_at:
        start = (
            to_tokyo(procedure.reception_starts_at).strftime("%Y-%m-%d %H:%M")
            if procedure.reception_starts_at
            else "—"
        )
        end = (
            to_tokyo(procedure.reception_ends_at).strftime("%Y-%m-%d %H:%M")
            if procedure.reception_ends_at
            else "—"
        )
        lines.append(DiffLine("setting", f"受付期間: {start} 〜 {end}"))
    return lines


def _labels(form: Mapping[str, Any]) -> dict[str, str]:
    return {
        f["key"]: f["label"]
        for step in form["steps"]
        for section in step["sections"]
        for f in section["fields"]
    }
