"""様式の作成（フォームビルダー）: organisation admins build their own forms in the browser.

Every page works without JavaScript: each element of the form has small forms (上へ・下へ・
ここに追加・編集・削除), each of which saves the draft on the server at once (a new revision);
htmx only boosts them so the page is not reloaded. The preview is the resident's renderer
with the rules running. Another organisation's draft is a 404 for everyone; then only an
organisation admin may see or change drafts (403).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.catalog.drafts import (
    DraftConflict,
    DraftError,
    procedure_draft_change,
    procedure_draft_create,
    procedure_draft_delete,
    procedure_draft_get,
    procedure_draft_import,
    procedure_draft_publish,
    procedure_draft_undo,
    procedure_drafts_of,
)
from madoguchi.catalog.models import Procedure, ProcedureDraft, TemplateVersion
from madoguchi.catalog.selectors import (
    procedure_get,
    procedures_of,
    template_version_get,
    templates_list,
)
from madoguchi.catalog.services import CatalogError
from madoguchi.console.access import can_manage, staff_required
from madoguchi.console.views_catalog import preview_live, preview_page
from madoguchi.core.text import parse_int
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.base import field_types
from madoguchi.forms.builder import (
    BLOCKS,
    EXPRESSION_KINDS,
    BuilderError,
    block_insert,
    choices_text,
    computed_guided,
    computed_set,
    computed_words,
    condition_set,
    definition_yaml,
    element_add,
    element_at,
    element_move,
    element_remove,
    field_type_choices,
    field_update,
    group_references,
    iter_fields,
    kind_of,
    problems_by_element,
    references,
)
from madoguchi.forms.constants import Privacy
from madoguchi.forms.field_types import ATTACHMENT_KINDS
from madoguchi.forms.rules import OPERATORS
from madoguchi.forms.schema import DefinitionProblem, InvalidDefinition, check_definition
from madoguchi.identity.models import Staff

OPERATOR_LABELS = {
    "equals": "が次の値のとき",
    "not_equals": "が次の値でないとき",
    "in": "が次のどれかのとき（, 区切り）",
    "not_in": "が次のどれでもないとき（, 区切り）",
    "filled": "が入力されているとき",
    "empty": "が空のとき",
    "gt": "が次の値より大きいとき",
    "gte": "が次の値以上のとき",
    "lt": "が次の値より小さいとき",
    "lte": "が次の値以下のとき",
}
assert set(OPERATOR_LABELS) == set(OPERATORS)

#: Options an edit form may send, by field type (the rest of the POST is ignored).
TYPE_OPTIONS: dict[str, tuple[str, ...]] = {
    "text": ("min_length", "max_length", "placeholder"),
    "textarea": ("min_length", "max_length", "placeholder"),
    "number": ("min", "max", "decimals", "unit"),
    "date": ("min", "max", "weekdays_only"),
    "birth_date": ("min", "max"),
    "choice": ("choices", "widget"),
    "multichoice": ("choices", "min_selected", "max_selected"),
    "consent": ("statement",),
    "notice": ("text",),
    "postal_code": ("within_organisation",),
    "address": ("within_organisation", "japan_only"),
    "person_name": ("kana_required",),
    "attachment": ("accept", "max_bytes", "max_files", "document"),
    "computed": ("unit", "fee"),
    "group": ("min_items", "max_items", "item_label"),
}
FLAG_LABELS = {
    "weekdays_only": "平日だけ選べる",
    "within_organisation": "この団体の区域内の住所に限る",
    "japan_only": "国内の住所に限る",
    "kana_required": "フリガナを必須にする",
    "fee": "手数料として扱う（支払の案内に使う）",
}
FLAGS = tuple(FLAG_LABELS)


def _draft(staff: Staff, draft_id: int) -> ProcedureDraft:
    """The draft of the staff member's organisation (404 otherwise), for an admin (403)."""
    try:
        draft = procedure_draft_get(organisation=staff.organisation, draft_id=draft_id)
    except ProcedureDraft.DoesNotExist:
        raise Http404("その下書きはありません。") from None
    _require_builder(staff)
    return draft


def _require_builder(staff: Staff) -> None:
    if not can_manage(staff):
        raise PermissionDenied("様式の作成は団体管理者だけができます。")


def _saved_label(draft: ProcedureDraft) -> str:
    return f"保存しました（{to_tokyo(draft.updated_at).strftime('%H:%M')}）"


@require_http_methods(["GET", "POST"])
@staff_required()
def drafts(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    """The organisation's drafts, and a new one: blank, a copy of a procedure, or a copy of a
    national template's form."""
    _require_builder(staff)
    organisation = staff.organisation
    status = 200
    values = {"slug": "", "title": "", "source": ""}
    if request.method == "POST":
        values = {k: str(request.POST.get(k, ""))[:300] for k in values}
        source = values["source"]
        source_procedure: Procedure | None = None
        source_template: TemplateVersion | None = None
        try:
            if source.startswith("procedure:"):
                procedure_id = parse_int(source.partition(":")[2], minimum=1)
                if procedure_id is None:
                    raise Procedure.DoesNotExist
                source_procedure = procedure_get(
                    organisation=organisation, procedure_id=procedure_id
                )
            elif source.startswith("template:"):
                try:
                    source_template = template_version_get(slug=source.partition(":")[2])
                except TemplateVersion.DoesNotExist:
                    raise DraftError("そのひな形はありません。") from None
            elif source:
                raise DraftError("始め方を一覧から選んでください。")
            draft = procedure_draft_create(
                organisation=organisation,
                slug=values["slug"],
                title=values["title"],
                actor=staff.user,
                now=now(),
                source_procedure=source_procedure,
                source_template=source_template,
            )
        except Procedure.DoesNotExist:
            messages.error(request, "その手続はありません。")
            status = 422
        except (DraftError, BuilderError) as error:
            messages.error(request, str(error))
            status = 422
        else:
            messages.success(request, f"下書き「{draft.title}」を作りました。")
            return redirect("console:draft", draft.pk)
    return render(
        request,
        "console/builder/drafts.html",
        {
            "staff": staff,
            "drafts": procedure_drafts_of(organisation=organisation),
            "procedures": procedures_of(organisation=organisation, published_only=False),
            "templates": templates_list(),
            "values": values,
        },
        status=status,
    )


def _tree(draft: ProcedureDraft, problems: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The definition as nested rows for the editor template, each with its path."""
    steps = []
    definition = draft.definition
    for si, step in enumerate(definition.get("steps") or []):
        step_path = f"steps[{si}]"
        sections = []
        for ci, section in enumerate(step.get("sections") or []):
            section_path = f"{step_path}.sections[{ci}]"
            fields = []
            for fi, field in enumerate(section.get("fields") or []):
                field_path = f"{section_path}.fields[{fi}]"
                children = [
                    {
                        "path": f"{field_path}.fields[{gi}]",
                        "anchor": _element_anchor(f"{field_path}.fields[{gi}]"),
                        "data": child,
                        "problems": problems.get(f"{field_path}.fields[{gi}]", []),
                        "type_label": _type_label(child.get("type")),
                        "position": gi,
                    }
                    for gi, child in enumerate(field.get("fields") or [])
                ]
                fields.append(
                    {
                        "path": field_path,
                        "anchor": _element_anchor(field_path),
                        "data": field,
                        "problems": problems.get(field_path, []),
                        "type_label": _type_label(field.get("type")),
                        "children": children,
                        "position": fi,
                    }
                )
            sections.append(
                {
                    "path": section_path,
                    "anchor": _element_anchor(section_path),
                    "data": section,
                    "problems": problems.get(section_path, []),
                    "fields": fields,
                    "position": ci,
                }
            )
        steps.append(
            {
                "path": step_path,
                "anchor": _element_anchor(step_path),
                "data": step,
                "problems": problems.get(step_path, []),
                "sections": sections,
                "position": si,
            }
        )
    return steps


def _type_label(key: Any) -> str:
    return field_types[key].label if isinstance(key, str) and key in field_types else str(key)


def _editor(
    request: HttpRequest,
    staff: Staff,
    draft: ProcedureDraft,
    *,
    status: int = 200,
    import_problems: list[DefinitionProblem] | None = None,
    edit: str = "",
    edit_error: str = "",
) -> HttpResponse:
    problems = problems_by_element(draft.definition)
    edit = edit or request.GET.get("edit", "")[:80]
    insert = request.GET.get("insert", "")[:80]
    position = parse_int(request.GET.get("position", ""), maximum=1000) or 0
    editing: dict[str, Any] | None = None
    if edit:
        try:
            element = element_at(draft.definition, edit)
            editing = {"path": edit, "kind": kind_of(edit), "data": element}
            if editing["kind"] in ("field", "child"):
                editing.update(_edit_context(draft, edit, element))
        except BuilderError:
            editing = None
    inserting: dict[str, Any] | None = None
    if insert == "form":
        inserting = {"parent": "", "position": position, "kind": "step"}
    elif insert:
        try:
            element_at(draft.definition, insert)
            kind = {"step": "section", "section": "field", "field": "child"}.get(kind_of(insert))
        except BuilderError:
            kind = None
        if kind is not None:
            inserting = {"parent": insert, "position": position, "kind": kind}
    return render(
        request,
        "console/builder/editor.html",
        {
            "staff": staff,
            "draft": draft,
            "tree": _tree(draft, problems),
            "form_problems": problems.get("", []),
            "problem_count": sum(len(v) for v in problems.values()),
            "editing": editing,
            "inserting": inserting,
            "field_types": field_type_choices(),
            "blocks": [(b.name, b.label) for b in BLOCKS.values()],
            # Not 「保存しました」 beside an error that says nothing was saved.
            "saved_label": _saved_label(draft) if status < 400 else "",
            "edit_error": edit_error,
            "publishable": not problems,
            "import_problems": import_problems or [],
        },
        status=status,
    )


def _field_labels(definition: dict[str, Any]) -> dict[str, str]:
    """Every field's label by its key (a group's fields also as ``group.field``)."""
    labels: dict[str, str] = {}
    for _path, field in iter_fields(definition):
        for child in field.get("fields") or []:
            labels[f"{field.get('key')}.{child.get('key')}"] = str(child.get("label", ""))
        labels.setdefault(str(field.get("key")), str(field.get("label", "")))
    return labels


def _expression_context(expression: Any, definition: dict[str, Any]) -> dict[str, Any]:
    """The computed field's formula as the guided editor's choices and in words."""
    guided = computed_guided(expression) if expression is not None else None
    if guided is None:
        words = (
            "（まだ式がありません）"
            if expression is None
            else "画面では作れない式です（YAMLで書かれています）: "
            + json.dumps(expression, ensure_ascii=False)
        )
        guided = {"kind": "constant", "ref": "", "factor": "1", "offset": "0"}
    else:
        words = computed_words(guided, _field_labels(definition))
    return {"guided": guided, "expression": words}


def _edit_context(draft: ProcedureDraft, path: str, element: dict[str, Any]) -> dict[str, Any]:
    options = element.get("options") or {}
    ftype = element.get("type", "")
    return {
        **_expression_context(options.get("expression"), draft.definition),
        "options": options,
        "option_names": TYPE_OPTIONS.get(ftype, ()),
        "choices_text": choices_text(options.get("choices")),
        "privacy_choices": Privacy.choices,
        "attachment_kinds": list(ATTACHMENT_KINDS.items()),
        "references": references(draft.definition, path=path),
        "groups": group_references(draft.definition),
        "operators": list(OPERATOR_LABELS.items()),
        "expression_kinds": list(EXPRESSION_KINDS.items()),
        "has_value": ftype in field_types and field_types[ftype].has_value,
        "type_label": _type_label(ftype),
        "flags": [
            (flag, FLAG_LABELS[flag], bool(options.get(flag)))
            for flag in FLAGS
            if flag in TYPE_OPTIONS.get(ftype, ())
        ],
        "conditions": [
            (
                which,
                legend,
                json.dumps(element[which], ensure_ascii=False) if which in element else "",
            )
            for which, legend in (
                ("visible_if", "表示する条件（条件に合うときだけ表示）"),
                ("required_if", "必須にする条件（条件に合うときだけ必須）"),
            )
        ],
    }


@require_http_methods(["GET"])
@staff_required()
def draft_editor(request: HttpRequest, draft_id: int, *, staff: Staff) -> HttpResponse:
    """The editor: every step, section and field with its controls and its problems."""
    return _editor(request, staff, _draft(staff, draft_id))


def _change_for(action: str, post: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The builder edit an editor form asks for (``BuilderError`` for an unknown one)."""
    path = str(post.get("path", ""))[:80]
    position = parse_int(str(post.get("position", "0")), maximum=1000) or 0

    def first(result: tuple[dict[str, Any], str]) -> dict[str, Any]:
        return result[0]

    if action in ("up", "down"):
        offset = -1 if action == "up" else 1
        return lambda d: first(element_move(d, path=path, offset=offset))
    if action == "remove":
        return partial(element_remove, path=path)
    if action == "add":
        kind = str(post.get("kind", ""))
        field_type = str(post.get("field_type", "text"))
        label = str(post.get("label", ""))[:400]
        return lambda d: first(
            element_add(
                d, parent=path, position=position, kind=kind, field_type=field_type, label=label
            )
        )
    if action == "block":
        block = str(post.get("block", ""))
        return lambda d: first(block_insert(d, parent=path, position=position, block=block))
    if action == "update":
        return partial(field_update, path=path, changes=_changes(post))
    if action == "condition":
        return partial(
            condition_set,
            path=path,
            which=str(post.get("which", "")),
            ref=str(post.get("ref", ""))[:130],
            operator=str(post.get("operator", "")),
            value=str(post.get("value", ""))[:400],
        )
    if action == "computed":
        return partial(
            computed_set,
            path=path,
            kind=str(post.get("expression_kind", "")),
            ref=str(post.get("ref", ""))[:130],
            factor=str(post.get("factor", "1"))[:40],
            offset=str(post.get("offset", "0"))[:40],
        )
    raise BuilderError("操作を選んでください。")


def _changes(post: Any) -> dict[str, Any]:
    """What an edit form sent, as ``field_update`` reads it; only the names the form shows."""
    changes: dict[str, Any] = {}
    for name in ("label", "title", "help", "description", "key", "privacy"):
        if name in post:
            changes[name] = str(post.get(name))[:25_000]
    if "has_required" in post:
        changes["required"] = post.get("required", "")
    option_names = {n for names in TYPE_OPTIONS.values() for n in names}
    for name in option_names - {"accept", *FLAGS}:
        if name in post:
            changes[name] = str(post.get(name))[:1_000_000]
    if "has_accept" in post:
        changes["accept"] = [str(v)[:20] for v in post.getlist("accept")][:20]
    for flag in FLAGS:
        if f"has_{flag}" in post:
            changes[flag] = post.get(flag, "")
    return changes


def _element_anchor(path: str) -> str:
    return "el-" + "".join(c if c.isalnum() else "-" for c in path)


@require_POST
@staff_required()
def draft_edit(request: HttpRequest, draft_id: int, *, staff: Staff) -> HttpResponse:
    """One edit of the draft (move, add, insert a block, change, remove, undo), saved at once."""
    draft = _draft(staff, draft_id)
    action = str(request.POST.get("action", ""))[:20]
    revision = parse_int(str(request.POST.get("revision", "")), minimum=1) or 0
    path = str(request.POST.get("path", ""))[:80]
    try:
        if action == "undo":
            draft = procedure_draft_undo(
                organisation=staff.organisation,
                draft_id=draft.pk,
                revision=revision,
                actor=staff.user,
                now=now(),
            )
        else:
            draft = procedure_draft_change(
                organisation=staff.organisation,
                draft_id=draft.pk,
                revision=revision,
                change=_change_for(action, request.POST),
                actor=staff.user,
                now=now(),
            )
    except DraftConflict as error:
        messages.error(request, str(error))
        fresh = procedure_draft_get(organisation=staff.organisation, draft_id=draft.pk)
        return _editor(request, staff, fresh, status=409)
    except (DraftError, BuilderError) as error:
        if action in _EDIT_PANEL_ACTIONS and _element_exists(draft, path):
            # The element's edit panel stays open, with the reason inside it.
            return _editor(request, staff, draft, status=422, edit=path, edit_error=str(error))
        messages.error(request, str(error))
        return _editor(request, staff, draft, status=422)
    url = reverse("console:draft", args=[draft.pk])
    if action == "update" and request.POST.get("stay"):
        return redirect(f"{url}?edit={path}#edit-form")
    anchor = _element_anchor(path) if action not in ("remove", "undo") and path else "saved"
    return redirect(f"{url}#{anchor}")


#: Edits made in an element's edit panel (a refused one keeps the panel open).
_EDIT_PANEL_ACTIONS = frozenset({"update", "condition", "computed"})


def _element_exists(draft: ProcedureDraft, path: str) -> bool:
    """Whether ``path`` names an element of the draft (a forged path has no panel to open)."""
    try:
        element_at(draft.definition, path)
    except BuilderError:
        return False
    return bool(path)


@require_http_methods(["GET", "POST"])
@staff_required()
def draft_preview(request: HttpRequest, draft_id: int, *, staff: Staff) -> HttpResponse:
    """The draft as residents will see it (the portal's renderer and rules). Nothing stored."""
    draft = _draft(staff, draft_id)
    try:
        spec = check_definition(draft.definition)
    except InvalidDefinition as error:
        return render(
            request,
            "console/builder/preview_blocked.html",
            {"staff": staff, "draft": draft, "problems": error.problems},
            status=422,
        )
    return preview_page(
        request,
        spec=spec,
        organisation=staff.organisation,
        preview_url=reverse("console:draft_preview", args=[draft.pk]),
        template="console/builder/preview.html",
        context={"staff": staff, "draft": draft},
    )


@require_POST
@staff_required()
def draft_preview_live(request: HttpRequest, draft_id: int, *, staff: Staff) -> HttpResponse:
    draft = _draft(staff, draft_id)
    try:
        spec = check_definition(draft.definition)
    except InvalidDefinition:
        return HttpResponse("様式に誤りがあります。", status=422)
    return preview_live(
        request, spec=spec, preview_url=reverse("console:draft_preview", args=[draft.pk])
    )


@require_http_methods(["GET"])
@staff_required()
def draft_export(request: HttpRequest, draft_id: int, *, staff: Staff) -> HttpResponse:
    """The draft as a YAML file (読み込みで同じ下書きに戻る)."""
    draft = _draft(staff, draft_id)
    try:
        text = definition_yaml(draft.definition)
    except BuilderError as error:
        return HttpResponse(str(error), status=422, content_type="text/plain; charset=utf-8")
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{draft.slug}.yaml"'
    return response


@require_POST
@staff_required()
def draft_import(request: HttpRequest, draft_id: int, *, staff: Staff) -> HttpResponse:
    """Replace the draft by a YAML/JSON file (a complete, valid definition)."""
    draft = _draft(staff, draft_id)
    upload = request.FILES.get("definition_file")
    if upload is None:
        messages.error(request, "読み込むファイルを選んでください。")
        return _editor(request, staff, draft, status=422)
    if upload.size is None or upload.size > 1024 * 1024:
        messages.error(request, "ファイルが大きすぎます（1MBまで）。")
        return _editor(request, staff, draft, status=422)
    try:
        draft = procedure_draft_import(
            organisation=staff.organisation,
            draft_id=draft.pk,
            revision=parse_int(str(request.POST.get("revision", "")), minimum=1) or 0,
            text=upload.read(),
            actor=staff.user,
            now=now(),
        )
    except InvalidDefinition as error:
        messages.error(request, "ファイルに誤りがあります。下書きは変えていません。")
        return _editor(request, staff, draft, status=422, import_problems=error.problems)
    except DraftConflict as error:
        messages.error(request, str(error))
        fresh = procedure_draft_get(organisation=staff.organisation, draft_id=draft.pk)
        return _editor(request, staff, fresh, status=409)
    messages.success(request, "ファイルを読み込みました（元に戻すこともできます）。")
    return redirect("console:draft", draft.pk)


@require_POST
@staff_required()
def draft_publish(request: HttpRequest, draft_id: int, *, staff: Staff) -> HttpResponse:
    """Publish the draft as a new immutable version of its own procedure (準備中 at first)."""
    draft = _draft(staff, draft_id)
    try:
        procedure = procedure_draft_publish(
            organisation=staff.organisation,
            draft_id=draft.pk,
            revision=parse_int(str(request.POST.get("revision", "")), minimum=1) or 0,
            actor=staff.user,
            now=now(),
        )
    except InvalidDefinition as error:
        messages.error(
            request,
            f"様式に{len(error.problems)}件の誤りがあるため公開していません。各要素の表示を確かめてください。",
        )
        return _editor(request, staff, draft, status=422)
    except DraftConflict as error:
        messages.error(request, str(error))
        fresh = procedure_draft_get(organisation=staff.organisation, draft_id=draft.pk)
        return _editor(request, staff, fresh, status=409)
    except CatalogError as error:
        messages.error(request, " ".join(error.problems))
        return _editor(request, staff, draft, status=422)
    messages.success(
        request,
        f"「{procedure.name}」の様式 第{procedure.form_version.version}版を公開しました。"
        "手続の公開（受付の開始）は手続の画面で行います。",
    )
    return redirect("console:procedure", procedure.pk)


@require_POST
@staff_required()
def draft_delete(request: HttpRequest, draft_id: int, *, staff: Staff) -> HttpResponse:
    draft = _draft(staff, draft_id)
    procedure_draft_delete(
        organisation=staff.organisation, draft_id=draft.pk, actor=staff.user, now=now()
    )
    messages.success(request, f"下書き「{draft.title}」を削除しました。")
    return redirect("console:drafts")
