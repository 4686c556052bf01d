"""様式の下書き (the console's form builder): drafts of an organisation's own forms.

A draft holds the same definition the engine checks. Each public service here owns its
transaction, takes the organisation explicitly (another organisation's draft raises
``ProcedureDraft.DoesNotExist``, a 404) and names the ``revision`` the editor started from:
when someone else saved in between, :class:`DraftConflict` says so and nothing is
overwritten. An edit itself is a pure function of ``madoguchi.forms.builder`` (it raises
``BuilderError`` and nothing is stored).

Publishing (:func:`procedure_draft_publish`) goes through the one write path of own
procedures — the checks and the store of :func:`catalog.services.procedure_create_own` —
in the same transaction that marks the draft published, so a form is published whole or not
at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.services import audit_record
from madoguchi.catalog.models import Procedure, ProcedureDraft, TemplateVersion
from madoguchi.catalog.services import (
    PROCEDURE_SLUG,
    CatalogError,
    _own_definition_checked,
    _procedure_own_store,
)
from madoguchi.core.time import to_tokyo
from madoguchi.forms.builder import BuilderError, blank_definition, copied_definition
from madoguchi.forms.schema import (
    MAX_DEFINITION_BYTES,
    DefinitionProblem,
    InvalidDefinition,
    check_definition,
    load_definition_text,
)
from madoguchi.identity.models import User
from madoguchi.tenants.models import Organisation

#: Drafts per organisation: enough for every small procedure of a city, not unbounded.
MAX_DRAFTS = 500


class DraftError(ValueError):
    """The draft could not be changed; ``str()`` says why, in Japanese. Nothing was stored."""


class DraftConflict(DraftError):
    """Someone else saved the draft after this editor opened it."""


def procedure_drafts_of(*, organisation: Organisation) -> QuerySet[ProcedureDraft]:
    """The organisation's drafts, the last saved first."""
    return ProcedureDraft.objects.filter(organisation=organisation).select_related(
        "updated_by", "procedure"
    )


def procedure_draft_get(*, organisation: Organisation, draft_id: int) -> ProcedureDraft:
    """One draft of ``organisation``; another organisation's id raises DoesNotExist (404)."""
    return procedure_drafts_of(organisation=organisation).get(pk=draft_id)


def _encoded_size(definition: Mapping[str, Any]) -> int:
    return len(json.dumps(definition, ensure_ascii=False).encode("utf-8"))


def _check_size(definition: Mapping[str, Any]) -> None:
    if _encoded_size(definition) > MAX_DEFINITION_BYTES:
        raise DraftError("様式が大きすぎます（1MBまで）。項目や選択肢を減らしてください。")


def procedure_draft_create(
    *,
    organisation: Organisation,
    slug: str,
    title: str,
    actor: User,
    now: datetime,
    source_procedure: Procedure | None = None,
    source_template: TemplateVersion | None = None,
) -> ProcedureDraft:
    """Start a draft: blank, a copy of one of the organisation's procedures, or a copy of a
    national template's form. ``slug`` names the own procedure it will publish to.

    Raises :class:`DraftError` (slug malformed or taken by another draft, too many drafts,
    an organisation that cannot have procedures), ``BuilderError`` for a bad title, and
    ``Procedure.DoesNotExist`` for another organisation's procedure.
    """
    if not organisation.is_tenant or not organisation.active:
        raise DraftError(f"{organisation.display_name} は手続を持てません。")
    slug = slug.strip() if isinstance(slug, str) else ""
    if not PROCEDURE_SLUG.fullmatch(slug):
        raise DraftError(
            "手続の識別子は、半角英小文字で始まり、英小文字・数字・ハイフンだけの"
            "2〜64文字にしてください（例: event-2026）。"
        )
    if source_procedure is not None and source_procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    if source_procedure is not None:
        definition = copied_definition(source_procedure.form_version.schema, title=title)
    elif source_template is not None:
        definition = copied_definition(source_template.form_version.schema, title=title)
    else:
        definition = blank_definition(title=title)
    _check_size(definition)
    with transaction.atomic(durable=True):
        if ProcedureDraft.objects.filter(organisation=organisation).count() >= MAX_DRAFTS:
            raise DraftError(
                f"下書きが多すぎます（{MAX_DRAFTS}件まで）。不要な下書きを削除してください。"
            )
        try:
            with transaction.atomic():
                draft = ProcedureDraft.objects.create(
                    organisation=organisation,
                    slug=slug,
                    definition=definition,
                    created_at=now,
                    created_by=actor,
                    updated_at=now,
                    updated_by=actor,
                )
        except IntegrityError:
            raise DraftError(f"識別子「{slug}」の下書きがすでにあります。") from None
        audit_record(
            action=AuditAction.PROCEDURE_DRAFT_CREATED,
            now=now,
            organisation=organisation,
            actor=actor,
            target_type="procedure_draft",
            target_id=draft.pk,
            detail={
                "source_procedure": source_procedure.pk if source_procedure else None,
                "source_template_version": source_template.pk if source_template else None,
            },
        )
    return draft


def _conflict(draft: ProcedureDraft) -> DraftConflict:
    who = ""
    if draft.updated_by is not None and draft.updated_by.display_name:
        who = f"{draft.updated_by.display_name}さんが"
    when = to_tokyo(draft.updated_at).strftime("%H:%M")
    return DraftConflict(
        f"この下書きは、開いた後に{who or 'ほかの職員が'}保存しています（{when}）。"
        "あなたの変更は保存していません。画面を開き直して、最新の内容からもう一度変更してください。"
    )


def _save(
    *,
    organisation: Organisation,
    draft_id: int,
    revision: int,
    definition: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    actor: User,
    now: datetime,
) -> ProcedureDraft:
    """Store ``definition`` if the draft is still at ``revision`` (one conditional UPDATE, so
    two editors saving at once cannot both win), in the caller's transaction."""
    _check_size(definition)
    updated = ProcedureDraft.objects.filter(
        organisation=organisation, pk=draft_id, revision=revision
    ).update(
        definition=dict(definition),
        previous=dict(previous) if previous is not None else None,
        revision=revision + 1,
        updated_at=now,
        updated_by=actor,
    )
    draft = procedure_draft_get(organisation=organisation, draft_id=draft_id)
    if not updated:
        raise _conflict(draft)
    return draft


def procedure_draft_change(
    *,
    organisation: Organisation,
    draft_id: int,
    revision: int,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    actor: User,
    now: datetime,
) -> ProcedureDraft:
    """Apply one builder edit (a function of ``madoguchi.forms.builder``, given the current
    definition, returning the new one) and save it as the next revision; the state before it
    is kept for :func:`procedure_draft_undo`.

    Raises ``ProcedureDraft.DoesNotExist`` (another organisation's draft), ``BuilderError``
    (the edit is impossible) and :class:`DraftConflict` (someone saved since ``revision``);
    in each case nothing is stored.
    """
    draft = procedure_draft_get(organisation=organisation, draft_id=draft_id)
    if draft.revision != revision:
        raise _conflict(draft)
    new = change(json.loads(json.dumps(draft.definition)))
    with transaction.atomic(durable=True):
        return _save(
            organisation=organisation,
            draft_id=draft_id,
            revision=revision,
            definition=new,
            previous=draft.definition,
            actor=actor,
            now=now,
        )


def procedure_draft_undo(
    *, organisation: Organisation, draft_id: int, revision: int, actor: User, now: datetime
) -> ProcedureDraft:
    """Undo the last change (one step: the undone state is itself kept, so undoing twice
    redoes). Raises :class:`DraftError` when there is nothing to undo, :class:`DraftConflict`
    when someone saved since ``revision``."""
    draft = procedure_draft_get(organisation=organisation, draft_id=draft_id)
    if draft.revision != revision:
        raise _conflict(draft)
    if draft.previous is None:
        raise DraftError("元に戻せる変更はありません。")
    with transaction.atomic(durable=True):
        return _save(
            organisation=organisation,
            draft_id=draft_id,
            revision=revision,
            definition=draft.previous,
            previous=draft.definition,
            actor=actor,
            now=now,
        )


def procedure_draft_import(
    *,
    organisation: Organisation,
    draft_id: int,
    revision: int,
    text: str | bytes,
    actor: User,
    now: datetime,
) -> ProcedureDraft:
    """Replace the draft's definition by a YAML/JSON file (as exported). The file must be a
    complete, valid definition (raises ``InvalidDefinition`` with lines); the state before
    is kept for undo."""
    draft = procedure_draft_get(organisation=organisation, draft_id=draft_id)
    if draft.revision != revision:
        raise _conflict(draft)
    data, lines = load_definition_text(text)
    check_definition(data, lines)
    data = json.loads(json.dumps(data, ensure_ascii=False))
    with transaction.atomic(durable=True):
        saved = _save(
            organisation=organisation,
            draft_id=draft_id,
            revision=revision,
            definition=data,
            previous=draft.definition,
            actor=actor,
            now=now,
        )
        audit_record(
            action=AuditAction.PROCEDURE_DRAFT_IMPORTED,
            now=now,
            organisation=organisation,
            actor=actor,
            target_type="procedure_draft",
            target_id=draft_id,
            detail={"revision": saved.revision},
        )
    return saved


def procedure_draft_publish(
    *,
    organisation: Organisation,
    draft_id: int,
    revision: int,
    actor: User,
    now: datetime,
) -> Procedure:
    """Publish the draft as a new immutable form version of its own procedure (created 準備中
    the first time), through the checks and the store of ``procedure_create_own``.

    The whole definition is checked first: ``InvalidDefinition`` lists every problem and
    nothing is published. Raises :class:`DraftConflict` when someone saved since
    ``revision`` (what is published is exactly what the editor saw), ``CatalogError`` when
    the slug belongs to a procedure adopted from a template. Settings the organisation gave
    the procedure (よみ, 概要, assurance levels, retention) are kept.
    """
    draft = procedure_draft_get(organisation=organisation, draft_id=draft_id)
    if draft.revision != revision:
        raise _conflict(draft)
    text = json.dumps(draft.definition, ensure_ascii=False)
    spec, data = _own_definition_checked(
        organisation=organisation, slug=draft.slug, definition=text
    )
    existing = Procedure.objects.filter(organisation=organisation, slug=draft.slug).first()
    with transaction.atomic(durable=True):
        marked = ProcedureDraft.objects.filter(
            organisation=organisation, pk=draft_id, revision=revision
        ).update(published_at=now, published_revision=revision)
        if not marked:
            raise _conflict(procedure_draft_get(organisation=organisation, draft_id=draft_id))
        procedure = _procedure_own_store(
            organisation=organisation,
            slug=draft.slug,
            spec=spec,
            data=data,
            kana=existing.kana if existing else "",
            summary=existing.summary if existing else "",
            ial=existing.ial if existing else 1,
            aal=existing.aal if existing else 1,
            retention_years=existing.retention_years if existing else 5,
            processing_days=existing.processing_days if existing else None,
            actor=actor,
            channel="builder",
            now=now,
        )
        ProcedureDraft.objects.filter(pk=draft_id).update(procedure=procedure)
        audit_record(
            action=AuditAction.PROCEDURE_DRAFT_PUBLISHED,
            now=now,
            organisation=organisation,
            actor=actor,
            target_type="procedure_draft",
            target_id=draft_id,
            detail={
                "procedure": procedure.pk,
                "form_version": procedure.form_version_id,
                "revision": revision,
            },
        )
    return procedure


def procedure_draft_delete(
    *, organisation: Organisation, draft_id: int, actor: User, now: datetime
) -> None:
    """Delete a draft (a published procedure and its versions stay)."""
    with transaction.atomic(durable=True):
        draft = procedure_draft_get(organisation=organisation, draft_id=draft_id)
        draft.delete()
        audit_record(
            action=AuditAction.PROCEDURE_DRAFT_DELETED,
            now=now,
            organisation=organisation,
            actor=actor,
            target_type="procedure_draft",
            target_id=draft_id,
        )


__all__ = [
    "BuilderError",
    "CatalogError",
    "DefinitionProblem",
    "DraftConflict",
    "DraftError",
    "InvalidDefinition",
    "procedure_draft_change",
    "procedure_draft_create",
    "procedure_draft_delete",
    "procedure_draft_get",
    "procedure_draft_import",
    "procedure_draft_publish",
    "procedure_draft_undo",
    "procedure_drafts_of",
]
