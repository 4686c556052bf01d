"""Writes of the catalog: loading national templates, adopting them, own procedures."""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from jsonschema import Draft202012Validator

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.catalog.constants import LOCAL_KEY_PREFIX, Uniqueness
from madoguchi.catalog.definitions import (
    TemplateFile,
    compose,
    national_files,
    national_life_events,
    optional_defaults,
    parameter_defaults,
    parse_template_text,
    template_digest,
)
from madoguchi.catalog.models import LifeEvent, Procedure, Template, TemplateVersion
from madoguchi.core.text import search_key
from madoguchi.forms.base import FormSpec
from madoguchi.forms.schema import (
    DefinitionProblem,
    InvalidDefinition,
    check_definition,
    parse_definition_text,
)
from madoguchi.forms.services import form_version_publish
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff, User
from madoguchi.tenants.models import Organisation, SharedGroup
from madoguchi.tenants.selectors import groups_of_organisation

#: An own procedure's identifier (also the name of its file in an organisation's repository).
PROCEDURE_SLUG = re.compile(r"[a-z][a-z0-9-]{1,63}")


class CatalogError(ValueError):
    """A catalog change was refused; ``problems`` say why, in Japanese."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class TemplateVersionConflict(CatalogError):
    """A published template version would change: publish a new version instead."""


class UpgradeConflict(CatalogError):
    """Local settings cannot be carried to the new template version as they are."""


# --- National templates ------------------------------------------------------------------------


@dataclass
class TemplateLoadReport:
    life_events: int = 0
    created: list[str] = field(default_factory=list)
    new_versions: list[str] = field(default_factory=list)
    unchanged: int = 0


def _template_search_key(metadata: Mapping[str, Any]) -> str:
    words = [
        metadata["name"],
        metadata["kana"],
        metadata.get("category", ""),
        *metadata.get("synonyms", []),
    ]
    return search_key(" ".join(words))


def template_load_all(*, now: datetime) -> TemplateLoadReport:
    """Load the national templates shipped in ``catalog/national`` (idempotent).

    A file whose (slug, version) is already stored with the same content changes nothing;
    with different content it raises :class:`TemplateVersionConflict` (a published version is
    immutable: raise the version number). Files are all checked before anything is written.
    Raises ``InvalidDefinition`` (with file name, path and line) for a broken file.
    """
    report = TemplateLoadReport()
    events = national_life_events()
    event_slugs = {e["slug"] for e in events}
    parsed = []
    for name, data in national_files():
        try:
            parsed.append(_parsed_national(name, data, frozenset(event_slugs)))
        except InvalidDefinition as error:
            raise InvalidDefinition(
                [DefinitionProblem(f"{name}: {p.path}", p.message, p.line) for p in error.problems]
            ) from None
    slugs = [t.metadata["slug"] for t in parsed]
    duplicated = {s for s in slugs if slugs.count(s) > 1}
    if duplicated:
        raise CatalogError([f"ひな形の slug が重複しています: {', '.join(sorted(duplicated))}"])
    with transaction.atomic():
        for order, event in enumerate(events):
            LifeEvent.objects.update_or_create(
                slug=event["slug"],
                defaults={
                    "name": event["name"],
                    "kana": event["kana"],
                    "description": event.get("description", ""),
                    "order": order,
                },
            )
        report.life_events = len(events)
        by_slug = {e.slug: e for e in LifeEvent.objects.all()}
        for item in parsed:
            created, new = template_version_publish(parsed=item, life_events=by_slug, now=now)
            meta = item.metadata
            label = f"{meta['name']} 第{meta['version']}版"
            if created:
                report.created.append(label)
            elif new:
                report.new_versions.append(label)
            else:
                report.unchanged += 1
    return report


#: Parsed national files by (name, content digest, life events): the files ship with the code,
#: so a process parses each once (PyYAML and the schema checks cost seconds for all 17).
_PARSED: dict[tuple[str, str, frozenset[str]], TemplateFile] = {}


def _parsed_national(name: str, data: bytes, event_slugs: frozenset[str]) -> TemplateFile:
    key = (name, hashlib.sha256(data).hexdigest(), event_slugs)
    cached = _PARSED.get(key)
    if cached is None:
        cached = _PARSED[key] = parse_template_text(data, name, set(event_slugs))
    # Callers get their own copy: nothing they do can change what the next load sees.
    return copy.deepcopy(cached)


def template_version_publish(
    *, parsed: TemplateFile, life_events: Mapping[str, LifeEvent], now: datetime
) -> tuple[bool, bool]:
    """Store one parsed template file as a version; returns (template created, version added).

    The same (slug, version) with the same content changes nothing; with other content it
    raises :class:`TemplateVersionConflict`, as does a version older than the newest.
    """
    meta = parsed.metadata
    template, created = Template.objects.get_or_create(
        slug=meta["slug"],
        group=None,
        defaults={"name": meta["name"], "kana": meta["kana"], "category": meta["category"]},
    )
    existing = TemplateVersion.objects.filter(template=template, version=meta["version"]).first()
    if existing is not None:
        if existing.digest != parsed.digest:
            raise TemplateVersionConflict(
                [
                    f"{parsed.file_name}: ひな形「{meta['name']}」第{meta['version']}版は公開済みで、内容が違います。version を上げてください。"
                ]
            )
        return False, False
    latest = template.versions.order_by("-version").first()
    if latest is not None and latest.version > meta["version"]:
        raise TemplateVersionConflict(
            [
                f"{parsed.file_name}: 第{latest.version}版より古い版（第{meta['version']}版）は追加できません。"
            ]
        )
    form_version = form_version_publish(
        organisation=None, schema=compose(parsed.form, meta, {}), now=now
    )
    TemplateVersion.objects.create(
        template=template,
        version=meta["version"],
        form_version=form_version,
        metadata={**meta, "form": parsed.form},
        digest=parsed.digest,
        published_at=now,
    )
    template.name = meta["name"]
    template.kana = meta["kana"]
    template.category = meta["category"]
    template.synonyms = meta.get("synonyms", [])
    template.search_key = _template_search_key(meta)
    template.save()
    template.life_events.set(
        [life_events[s] for s in meta.get("life_events", []) if s in life_events]
    )
    return created, True


# --- Settings at extension points ---------------------------------------------------------------

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "contact": {"type": "string", "maxLength": 1000},
        "counter": {"type": "string", "maxLength": 1000},
        "department": {"type": "string", "maxLength": 200},
        "summary": {"type": "string", "maxLength": 4000},
        "parameters": {"type": "object", "additionalProperties": {"type": "integer"}},
        "optional_fields": {"type": "object", "additionalProperties": {"type": "boolean"}},
        "local_questions": {"type": "array", "maxItems": 30, "items": {"type": "object"}},
    },
}
_SETTINGS = Draft202012Validator(SETTINGS_SCHEMA)


def check_settings(
    settings: Mapping[str, Any], metadata: Mapping[str, Any], *, organisation_name: str = ""
) -> dict[str, Any]:
    """Check an organisation's settings against a template version; return the effective form.

    Raises :class:`CatalogError` listing every problem (unknown parameter, value out of
    range, a field that is not optional, a local question that breaks the form).
    """
    problems = [
        f"{'.'.join(map(str, e.absolute_path)) or '設定'}: {e.message}"
        for e in _SETTINGS.iter_errors(settings)
    ]
    if problems:
        raise CatalogError(problems)
    declared = metadata.get("parameters") or {}
    for name, value in (settings.get("parameters") or {}).items():
        param = declared.get(name)
        if param is None:
            problems.append(f"パラメータ「{name}」はこのひな形にありません。")
            continue
        if "min" in param and value < param["min"]:
            problems.append(f"{param['label']}は{param['min']}以上にしてください。")
        if "max" in param and value > param["max"]:
            problems.append(f"{param['label']}は{param['max']}以下にしてください。")
    optional = metadata.get("optional_fields") or {}
    for key in settings.get("optional_fields") or {}:
        if key not in optional:
            problems.append(f"項目「{key}」は団体が選べる任意項目ではありません。")
    for index, question in enumerate(settings.get("local_questions") or []):
        key = str(question.get("key", ""))
        if not key.startswith(LOCAL_KEY_PREFIX):
            problems.append(
                f"団体独自の質問{index + 1}: key は local_ で始めてください（「{key}」）。"
            )
    if problems:
        raise CatalogError(problems)
    form = compose(metadata["form"], metadata, settings, organisation_name=organisation_name)
    try:
        check_definition(form)
    except InvalidDefinition as error:
        raise CatalogError([f"{p.path}: {p.message}" for p in error.problems]) from None
    return form


def _procedure_search_key(procedure: Procedure, synonyms: list[str], extra: list[str]) -> str:
    words = [
        procedure.name,
        procedure.kana,
        procedure.organisation.name,
        procedure.organisation.kana,
        *synonyms,
        *extra,
    ]
    return search_key(" ".join(words))


def _refresh_search_key(procedure: Procedure) -> None:
    synonyms: list[str] = []
    extra: list[str] = []
    if procedure.template_version is not None:
        meta = procedure.template_version.metadata
        synonyms = list(meta.get("synonyms", []))
        extra = [meta.get("category", ""), procedure.template_version.template.name]
    extra += [event.name for event in procedure.life_events.all()]
    procedure.search_key = _procedure_search_key(procedure, synonyms, extra)
    procedure.save(update_fields=["search_key"])


def _group_template_check(organisation: Organisation, template: Template) -> None:
    """A group template is only for the members of its group: anyone else is told it does not
    exist (``TemplateVersion.DoesNotExist``, a 404), exactly as for a missing one."""
    if template.group_id is None:
        return
    if not groups_of_organisation(organisation=organisation).filter(pk=template.group_id).exists():
        raise TemplateVersion.DoesNotExist


def procedure_adopt(
    *,
    organisation: Organisation,
    template_version: TemplateVersion,
    settings: Mapping[str, Any] | None = None,
    actor: User | None = None,
    now: datetime,
) -> Procedure:
    """Adopt a national or group template version as a procedure of ``organisation`` (準備中).

    The procedure's form is the template's with the organisation's settings applied at the
    declared extension points. Raises :class:`CatalogError` for invalid settings, for the
    publisher's own group template, or when the organisation already has a procedure from
    this template (or of the same slug); ``TemplateVersion.DoesNotExist`` for a group template
    of a group the organisation is not a member of. Records ``procedure.adopted``.
    """
    if not organisation.is_tenant or not organisation.active:
        raise CatalogError([f"{organisation.display_name} は手続を持てません。"])
    template = template_version.template
    _group_template_check(organisation, template)
    if template.source_organisation_id == organisation.pk:
        raise CatalogError(
            [f"「{template.name}」は{organisation.name}がグループに公開したひな形です。"]
        )
    settings = dict(settings or {})
    meta = template_version.metadata
    form = check_settings(settings, meta, organisation_name=organisation.name)
    slug = template_version.template.slug
    try:
        with transaction.atomic(durable=True):
            form_version = form_version_publish(organisation=organisation, schema=form, now=now)
            procedure = Procedure.objects.create(
                organisation=organisation,
                slug=slug,
                template_version=template_version,
                form_version=form_version,
                name=meta["name"],
                kana=meta["kana"],
                summary=settings.get("summary") or meta.get("summary", ""),
                settings=settings,
                ial=meta["ial"],
                aal=meta["aal"],
                signature_required=bool(meta.get("signature_required", False)),
                uniqueness=meta.get("uniqueness", Uniqueness.NONE),
                retention_years=meta["retention_years"],
                processing_days=meta.get("processing_days"),
            )
            procedure.life_events.set(template_version.template.life_events.all())
            _refresh_search_key(procedure)
            audit_record(
                action=AuditAction.PROCEDURE_ADOPTED,
                now=now,
                organisation=organisation,
                actor=actor,
                actor_label=actor.email if actor is not None else "",
                target_type="procedure",
                target_id=procedure.pk,
                detail={
                    "template": template.pk,
                    "version": template_version.version,
                    "group": template.group_id,
                },
            )
    except IntegrityError:
        if Procedure.objects.filter(
            organisation=organisation, template_version__template=template
        ).exists():
            raise CatalogError(
                [f"{organisation.name}はこのひな形（{meta['name']}）をすでに採用しています。"]
            ) from None
        raise CatalogError(
            [
                f"{organisation.name}には同じ識別子（{slug}）の手続がすでにあるため、"
                f"このひな形（{meta['name']}）は採用できません。"
            ]
        ) from None
    return procedure


def procedure_update_settings(
    *,
    organisation: Organisation,
    procedure: Procedure,
    settings: Mapping[str, Any],
    reception_starts_at: datetime | None = None,
    reception_ends_at: datetime | None = None,
    now: datetime,
) -> Procedure:
    """Change an adopted procedure's extension points; the form gets a new version if it changed.

    Raises :class:`CatalogError` (invalid settings, an own procedure, or a reception period
    that ends before it starts). Drafts and applications keep the version they started with.
    """
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    if procedure.template_version is None:
        raise CatalogError(["独自の手続は様式ファイルを更新してください。"])
    if reception_starts_at and reception_ends_at and reception_ends_at <= reception_starts_at:
        raise CatalogError(["受付終了は受付開始より後にしてください。"])
    meta = procedure.template_version.metadata
    form = check_settings(settings, meta, organisation_name=organisation.name)
    with transaction.atomic(durable=True):
        procedure.form_version = form_version_publish(
            organisation=organisation, schema=form, now=now
        )
        procedure.settings = dict(settings)
        procedure.summary = settings.get("summary") or meta.get("summary", "")
        procedure.reception_starts_at = reception_starts_at
        procedure.reception_ends_at = reception_ends_at
        procedure.save()
    return procedure


# --- Moving to a new template version --------------------------------------------------------


@dataclass
class UpgradePreview:
    settings: dict[str, Any]
    conflicts: list[str]
    template_changes: list[str]


def _field_index(form: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    index: dict[str, Mapping[str, Any]] = {}
    for step in form["steps"]:
        for section in step["sections"]:
            for f in section["fields"]:
                index[f["key"]] = f
                for child in f.get("fields", []):
                    index[f"{f['key']}.{child['key']}"] = child
    return index


def template_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Readable differences between two template versions' forms and settings."""
    lines: list[str] = []
    a, b = _field_index(old["form"]), _field_index(new["form"])
    for key in b.keys() - a.keys():
        lines.append(f"追加された項目: 「{b[key]['label']}」（{key}）")
    for key in a.keys() - b.keys():
        lines.append(f"削除された項目: 「{a[key]['label']}」（{key}）")
    for key in sorted(a.keys() & b.keys()):
        before, after = a[key], b[key]
        if before.get("label") != after.get("label"):
            lines.append(f"項目名の変更: 「{before['label']}」→「{after['label']}」")
        if bool(before.get("required")) != bool(after.get("required")):
            lines.append(
                f"「{after['label']}」: {'必須になりました' if after.get('required') else '任意になりました'}"
            )
        if before.get("type") != after.get("type"):
            lines.append(
                f"「{after['label']}」: 入力の種類が {before['type']} から {after['type']} に変わりました"
            )
        elif before.get("options") != after.get("options"):
            lines.append(f"「{after['label']}」: 選択肢や入力の条件が変わりました")
    for name in ("ial", "aal", "retention_years", "processing_days"):
        if old.get(name) != new.get(name):
            lines.append(f"{name}: {old.get(name)} → {new.get(name)}")
    before_rule = old.get("uniqueness", Uniqueness.NONE)
    after_rule = new.get("uniqueness", Uniqueness.NONE)
    if before_rule != after_rule:
        lines.append(
            f"重複申請の扱い: {Uniqueness(before_rule).label} → {Uniqueness(after_rule).label}"
        )
    return sorted(lines)


def procedure_upgrade_preview(*, procedure: Procedure, to: TemplateVersion) -> UpgradePreview:
    """What moving ``procedure`` to template version ``to`` would do, and what conflicts."""
    if (
        procedure.template_version is None
        or to.template_id != procedure.template_version.template_id
    ):
        raise CatalogError(["この手続は、そのひな形から作られていません。"])
    old_meta = procedure.template_version.metadata
    meta = to.metadata
    settings = dict(procedure.settings)
    conflicts: list[str] = []
    params = dict(settings.get("parameters") or {})
    for name, value in list(params.items()):
        declared = (meta.get("parameters") or {}).get(name)
        if declared is None:
            conflicts.append(
                f"設定していたパラメータ「{old_meta['parameters'][name]['label']}」（{value}）は新しい版にありません。"
            )
            params.pop(name)
        elif ("min" in declared and value < declared["min"]) or (
            "max" in declared and value > declared["max"]
        ):
            conflicts.append(f"「{declared['label']}」の設定値 {value} は新しい版の範囲外です。")
    settings["parameters"] = params
    optional = dict(settings.get("optional_fields") or {})
    for key in list(optional):
        if key not in (meta.get("optional_fields") or {}):
            conflicts.append(
                f"任意項目「{key}」の選択は新しい版では選べません（ひな形どおりになります）。"
            )
            optional.pop(key)
    settings["optional_fields"] = optional
    new_keys = set(_field_index(meta["form"]))
    for question in settings.get("local_questions") or []:
        if question.get("key") in new_keys:
            conflicts.append(
                f"団体独自の質問「{question.get('label')}」の key が新しい版の項目と重なっています。"
            )
    if not conflicts:
        try:
            check_settings(settings, meta, organisation_name=procedure.organisation.name)
        except CatalogError as error:
            conflicts.extend(error.problems)
    return UpgradePreview(
        settings=settings, conflicts=conflicts, template_changes=template_changes(old_meta, meta)
    )


def procedure_upgrade(
    *,
    organisation: Organisation,
    procedure: Procedure,
    to: TemplateVersion,
    accept_changes: bool = False,
    actor: User | None = None,
    now: datetime,
) -> Procedure:
    """Move a procedure to a newer version of its national or group template, carrying its
    local settings over.

    Raises :class:`UpgradeConflict` listing what cannot be carried over, unless
    ``accept_changes`` (the admin has seen the preview and accepts the listed adjustments);
    :class:`CatalogError` for an older version or a group template of a group the
    organisation has left. Applications already made keep the form version they were made
    with. Records ``procedure.upgraded``.
    """
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    current = procedure.template_version
    if current is None or to.version <= current.version:
        raise CatalogError(["新しい版を指定してください。"])
    try:
        _group_template_check(organisation, to.template)
    except TemplateVersion.DoesNotExist:
        raise CatalogError(
            ["このグループのひな形は、グループに参加していないため新しい版に移行できません。"]
        ) from None
    preview = procedure_upgrade_preview(procedure=procedure, to=to)
    if preview.conflicts and not accept_changes:
        raise UpgradeConflict(preview.conflicts)
    form = check_settings(preview.settings, to.metadata, organisation_name=organisation.name)
    meta = to.metadata
    with transaction.atomic(durable=True):
        procedure.form_version = form_version_publish(
            organisation=organisation, schema=form, now=now
        )
        procedure.template_version = to
        procedure.settings = preview.settings
        procedure.name = meta["name"]
        procedure.kana = meta["kana"]
        procedure.ial, procedure.aal = meta["ial"], meta["aal"]
        procedure.signature_required = bool(meta.get("signature_required", False))
        # The template's rule, unless the organisation chose its own (kept as chosen).
        if procedure.uniqueness == current.metadata.get("uniqueness", Uniqueness.NONE):
            procedure.uniqueness = meta.get("uniqueness", Uniqueness.NONE)
        procedure.retention_years = meta["retention_years"]
        procedure.processing_days = meta.get("processing_days")
        procedure.save()
        procedure.life_events.set(to.template.life_events.all())
        _refresh_search_key(procedure)
        audit_record(
            action=AuditAction.PROCEDURE_UPGRADED,
            now=now,
            organisation=organisation,
            actor=actor,
            actor_label=actor.email if actor is not None else "",
            target_type="procedure",
            target_id=procedure.pk,
            detail={
                "template": to.template_id,
                "from": current.version,
                "to": to.version,
                "accepted_changes": len(preview.conflicts),
            },
        )
    return procedure


# --- Own procedures (no template) ------------------------------------------------------------


def procedure_create_own(
    *,
    organisation: Organisation,
    slug: str,
    definition: str | bytes,
    kana: str = "",
    summary: str = "",
    ial: int = 1,
    aal: int = 1,
    retention_years: int = 5,
    processing_days: int | None = None,
    actor: User | None = None,
    channel: str = "console",
    now: datetime,
) -> Procedure:
    """Create (or give a new form version to) an organisation's own procedure from a file.

    Raises ``InvalidDefinition`` whose problems carry the path and line of each error, and
    :class:`CatalogError` for a ward or an inactive organisation (not tenants) or a slug that
    names a procedure adopted from a template. Nothing is stored when it raises. Records
    ``procedure.definition_saved`` (with the form version and ``channel``: console or api).
    """
    spec, data = _own_definition_checked(
        organisation=organisation, slug=slug, definition=definition
    )
    with transaction.atomic(durable=True):
        return _procedure_own_store(
            organisation=organisation,
            slug=slug,
            spec=spec,
            data=data,
            kana=kana,
            summary=summary,
            ial=ial,
            aal=aal,
            retention_years=retention_years,
            processing_days=processing_days,
            actor=actor,
            channel=channel,
            now=now,
        )


def _own_definition_checked(
    *, organisation: Organisation, slug: str, definition: str | bytes
) -> tuple[FormSpec, Any]:
    """The checks of :func:`procedure_create_own` before anything is written (raises
    ``CatalogError`` or ``InvalidDefinition``)."""
    if not organisation.is_tenant or not organisation.active:
        raise CatalogError([f"{organisation.display_name} は手続を持てません。"])
    if not isinstance(slug, str) or not PROCEDURE_SLUG.fullmatch(slug):
        raise CatalogError(
            [
                "手続の識別子は、半角英小文字で始まり、英小文字・数字・ハイフンだけの"
                "2〜64文字にしてください。"
            ]
        )
    return parse_definition_text(definition)


def _procedure_own_store(
    *,
    organisation: Organisation,
    slug: str,
    spec: FormSpec,
    data: Any,
    kana: str,
    summary: str,
    ial: int,
    aal: int,
    retention_years: int,
    processing_days: int | None,
    actor: User | None,
    channel: str,
    now: datetime,
) -> Procedure:
    """The write step of :func:`procedure_create_own`, in the caller's transaction, with its
    audit event. Only the catalog's own public services call it (the builder's publish, in
    ``catalog.drafts``)."""
    form_version = form_version_publish(
        organisation=organisation,
        schema=data,
        now=now,
        key=f"own_{slug.replace('-', '_')}"[:64],
    )
    procedure, created = Procedure.objects.get_or_create(
        organisation=organisation,
        slug=slug,
        defaults={"form_version": form_version, "name": spec.title},
    )
    if not created and procedure.template_version_id is not None:
        raise CatalogError(
            [f"「{slug}」はひな形から作った手続です。独自の様式には置き換えられません。"]
        )
    procedure.form_version = form_version
    procedure.name = spec.title
    procedure.kana = kana
    procedure.summary = summary or spec.description
    procedure.ial, procedure.aal = ial, aal
    procedure.retention_years = retention_years
    procedure.processing_days = processing_days
    procedure.save()
    _refresh_search_key(procedure)
    audit_record(
        action=AuditAction.PROCEDURE_DEFINITION_SAVED,
        now=now,
        organisation=organisation,
        actor=actor,
        actor_label=actor.email if actor is not None else "",
        target_type="procedure",
        target_id=procedure.pk,
        detail={
            "form_version": form_version.version,
            "created": created,
            "channel": channel[:16],
        },
    )
    return procedure


# --- Group library (グループ内ひな形) -----------------------------------------------------------

GROUP_TEMPLATE_CATEGORY = "グループ内ひな形"


def _group_template_content(
    procedure: Procedure, group: SharedGroup
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata without version, form) of what ``procedure`` gives the group's library.

    An own procedure gives its form as it is. An adopted procedure gives its national
    template's form with the publisher's fee parameters and optional-field choices as the new
    defaults (the members can still set both); its local questions stay the publisher's.
    """
    org = procedure.organisation
    source = f"{org.name}が共同利用グループ「{group.name}」のライブラリに公開した様式です。"
    version = procedure.template_version
    if version is None:
        form = copy.deepcopy(dict(procedure.form_version.schema))
        meta: dict[str, Any] = {
            "category": GROUP_TEMPLATE_CATEGORY,
            "synonyms": [],
            "parameters": {},
            "optional_fields": {},
            "signature_required": procedure.signature_required,
        }
    else:
        base = copy.deepcopy(version.metadata)
        form = base.pop("form")
        base.pop("version", None)
        base.pop("changes", None)
        meta = base
        params = dict(meta.get("parameters") or {})
        for name, value in (procedure.settings.get("parameters") or {}).items():
            if name in params:
                params[name] = {**params[name], "default": value}
        meta["parameters"] = params
        optional = dict(meta.get("optional_fields") or {})
        for key, on in (procedure.settings.get("optional_fields") or {}).items():
            if key in optional:
                optional[key] = {**optional[key], "default": bool(on)}
        meta["optional_fields"] = optional
        source += (
            f"（国のひな形「{version.metadata['name']}」第{version.version}版をもとにしています）"
        )
    meta.update(
        name=procedure.name,
        kana=procedure.kana or procedure.name,
        summary=procedure.summary,
        life_events=sorted(e.slug for e in procedure.life_events.all()),
        ial=procedure.ial,
        aal=procedure.aal,
        uniqueness=procedure.uniqueness,
        retention_years=procedure.retention_years,
        processing_days=procedure.processing_days,
        source=source,
    )
    return meta, form


def _group_template_slug(group: SharedGroup, procedure: Procedure) -> str:
    slug = procedure.slug
    if Template.objects.filter(group=group, slug=slug).exists():
        slug = f"{procedure.slug[:57]}-{procedure.organisation.lg_code}"
    return slug


def group_template_publish(
    *,
    organisation: Organisation,
    group: SharedGroup,
    procedure: Procedure,
    actor: User | None,
    now: datetime,
) -> tuple[TemplateVersion, bool]:
    """Publish ``procedure`` of ``organisation`` to the library of ``group`` (グループ内ひな形).

    The first publication creates the group template (version 1); publishing again with a
    changed form or changed attributes adds the next immutable version, and the members that
    adopted it see that a new version is there; publishing the same content again adds
    nothing and returns the latest version with ``False``. Returns (version, added).

    Raises ``Procedure.DoesNotExist`` for another organisation's procedure,
    ``SharedGroup.DoesNotExist`` for a group the organisation is not an active member of,
    and :class:`CatalogError` (Japanese, nothing stored) for a procedure adopted from a group
    template (publish the source instead) or a form that no longer checks.
    Records ``group_template.published``.
    """
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    if not groups_of_organisation(organisation=organisation).filter(pk=group.pk).exists():
        raise SharedGroup.DoesNotExist
    if procedure.template_version is not None and procedure.template_version.template.group_id:
        raise CatalogError(
            [
                "グループのひな形から採用した手続は、グループに公開できません。"
                "もとのひな形を公開した団体が新しい版を公開します。"
            ]
        )
    meta, form = _group_template_content(procedure, group)
    digest = template_digest(meta, form)
    try:
        return _group_template_store(organisation, group, procedure, meta, form, digest, actor, now)
    except IntegrityError:  # another admin published the same procedure at the same moment
        raise CatalogError(
            ["同じ手続が同時に公開されました。グループのひな形の一覧を確かめてください。"]
        ) from None


def _group_template_store(
    organisation: Organisation,
    group: SharedGroup,
    procedure: Procedure,
    meta: dict[str, Any],
    form: dict[str, Any],
    digest: str,
    actor: User | None,
    now: datetime,
) -> tuple[TemplateVersion, bool]:
    with transaction.atomic(durable=True):
        template = (
            Template.objects.select_for_update()
            .filter(group=group, source_procedure=procedure)
            .first()
        )
        if template is None:
            template = Template.objects.create(
                slug=_group_template_slug(group, procedure),
                name=meta["name"],
                kana=meta["kana"],
                category=meta["category"],
                group=group,
                source_organisation=organisation,
                source_procedure=procedure,
            )
        latest = template.versions.order_by("-version").first()
        if latest is not None and latest.digest == digest:
            return latest, False
        number = latest.version + 1 if latest is not None else 1
        meta.update(slug=template.slug, version=number)
        try:
            form_version = form_version_publish(
                organisation=None,
                schema=compose(form, meta, {}),
                now=now,
                key=f"group{group.pk}_{template.slug}".replace("-", "_")[:64],
            )
        except InvalidDefinition as error:
            raise CatalogError([f"{p.path}: {p.message}" for p in error.problems]) from None
        created = TemplateVersion.objects.create(
            template=template,
            version=number,
            form_version=form_version,
            metadata={**meta, "form": form},
            digest=digest,
            published_at=now,
        )
        template.name = meta["name"]
        template.kana = meta["kana"]
        template.search_key = _template_search_key(meta)
        template.save()
        template.life_events.set(LifeEvent.objects.filter(slug__in=meta["life_events"]))
        audit_record(
            action=AuditAction.GROUP_TEMPLATE_PUBLISHED,
            now=now,
            organisation=organisation,
            actor=actor,
            actor_label=actor.email if actor is not None else "",
            target_type="template",
            target_id=template.pk,
            detail={"group": group.pk, "procedure": procedure.pk, "version": number},
        )
    return created, True


__all__ = [
    "CatalogError",
    "TemplateLoadReport",
    "TemplateVersionConflict",
    "UpgradeConflict",
    "UpgradePreview",
    "check_settings",
    "group_template_publish",
    "optional_defaults",
    "parameter_defaults",
    "procedure_adopt",
    "procedure_create_own",
    "procedure_set_uniqueness",
    "procedure_update_settings",
    "procedure_upgrade",
    "procedure_upgrade_preview",
    "template_changes",
    "template_load_all",
    "template_version_publish",
]


# --- Reviewers of a procedure ----------------------------------------------------------------


def procedure_set_reviewers(
    *,
    organisation: Organisation,
    procedure: Procedure,
    staff_ids: Iterable[object],
    actor: User,
    now: datetime,
) -> list[int]:
    """Assign the 審査担当 of a procedure of ``organisation`` (none: every reviewer may work it).

    Only active staff of the same organisation with a role that reviews (団体管理者, 審査担当)
    can be assigned. Returns the sorted ids now assigned. Raises ``Procedure.DoesNotExist``
    for another organisation's procedure and :class:`CatalogError` (Japanese, nothing changed)
    for an id that is not such a staff member. Records ``procedure.reviewers_set``.
    """
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    wanted: set[int] = set()
    for value in staff_ids:
        text = str(value)
        if not text.isascii() or not text.isdigit() or len(text) > 12:
            raise CatalogError(["担当者の指定が正しくありません。一覧から選び直してください。"])
        wanted.add(int(text))
    with transaction.atomic(durable=True):
        eligible = set(
            Staff.objects.filter(
                organisation=organisation,
                active=True,
                role__in=(StaffRole.ADMIN, StaffRole.REVIEWER),
                pk__in=wanted,
            ).values_list("pk", flat=True)
        )
        if eligible != wanted:
            raise CatalogError(
                ["担当者に指定できるのは、この団体の有効な団体管理者・審査担当だけです。"]
            )
        previous = sorted(procedure.reviewers.values_list("pk", flat=True))
        procedure.reviewers.set(sorted(wanted))
        audit_record(
            action="procedure.reviewers_set",
            now=now,
            organisation=organisation,
            actor=actor,
            actor_label=actor.email,
            target_type="procedure",
            target_id=procedure.pk,
            detail={"before": previous, "after": sorted(wanted)},
        )
    return sorted(wanted)


# --- 重複申請の扱い ------------------------------------------------------------------------------


def procedure_set_uniqueness(
    *,
    organisation: Organisation,
    procedure: Procedure,
    uniqueness: object,
    actor: User,
    now: datetime,
) -> Procedure:
    """Set a procedure's duplicate rule (重複申請の扱い): none, one per person, one per person
    per fiscal year, one per household. Applies to applications arriving from now on;
    applications already made keep the claims they made.

    Raises ``Procedure.DoesNotExist`` for another organisation's procedure and
    :class:`CatalogError` (Japanese, nothing changed) for a value that is not a rule.
    Records ``procedure.uniqueness_set`` with the rule before and after.
    """
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    if not isinstance(uniqueness, str) or uniqueness not in Uniqueness.values:
        raise CatalogError(["重複申請の扱いを一覧から選んでください。"])
    with transaction.atomic(durable=True):
        locked = Procedure.objects.select_for_update().get(pk=procedure.pk)
        before = locked.uniqueness
        locked.uniqueness = uniqueness
        locked.save(update_fields=["uniqueness", "updated_at"])
        audit_record(
            action=AuditAction.PROCEDURE_UNIQUENESS_SET,
            now=now,
            organisation=organisation,
            actor=actor,
            actor_label=actor.email,
            target_type="procedure",
            target_id=procedure.pk,
            detail={"before": before, "after": uniqueness},
        )
    procedure.uniqueness = uniqueness
    return procedure


# --- 決裁の段階 ----------------------------------------------------------------------------------


def procedure_set_signoff_steps(
    *,
    organisation: Organisation,
    procedure: Procedure,
    steps: object,
    actor: User,
    now: datetime,
) -> Procedure:
    """Set how many sign-off steps (決裁の段階, 0–3) a decision of the procedure needs: with
    0 a reviewer's decision is final; with 1 or more a decision is proposed (起案) and takes
    effect once other staff with the sign-off role have signed it off at each step.
    Proposals already waiting keep the number of steps they were made with.

    Raises ``Procedure.DoesNotExist`` for another organisation's procedure and
    :class:`CatalogError` (Japanese, nothing changed) for a value outside 0–3.
    Records ``procedure.signoff_set`` with the number before and after.
    """
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    text = str(steps).strip() if isinstance(steps, str | int) else ""
    if not text.isascii() or not text.isdigit() or int(text) > 3:
        raise CatalogError(["決裁の段階は0から3の数で選んでください。"])
    value = int(text)
    with transaction.atomic(durable=True):
        locked = Procedure.objects.select_for_update().get(pk=procedure.pk)
        before = locked.signoff_steps
        locked.signoff_steps = value
        locked.save(update_fields=["signoff_steps", "updated_at"])
        audit_record(
            action=AuditAction.PROCEDURE_SIGNOFF_SET,
            now=now,
            organisation=organisation,
            actor=actor,
            actor_label=actor.email,
            target_type="procedure",
            target_id=procedure.pk,
            detail={"before": before, "after": value},
        )
    procedure.signoff_steps = value
    return procedure
