"""Console pages for an organisation admin: adopt templates, set extension points, see the
difference from the national template, move to a new template version, upload own forms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.forms import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from madoguchi.applications.publishing import ProcedureStatusError, procedure_set_status
from madoguchi.applications.selectors import procedure_test_applications
from madoguchi.catalog.constants import ProcedureStatus, Uniqueness
from madoguchi.catalog.definitions import optional_defaults, parameter_defaults
from madoguchi.catalog.models import Procedure, ProcedureTester, Template, TemplateVersion
from madoguchi.catalog.selectors import (
    group_library,
    group_template_get,
    group_templates_published_by,
    latest_template_version,
    newer_template_versions,
    procedure_diff,
    procedure_get,
    procedures_of,
    template_version_get,
    templates_list,
)
from madoguchi.catalog.services import (
    CatalogError,
    UpgradeConflict,
    group_template_publish,
    procedure_adopt,
    procedure_create_own,
    procedure_set_signoff_steps,
    procedure_set_uniqueness,
    procedure_update_settings,
    procedure_upgrade,
    procedure_upgrade_preview,
    template_changes,
)
from madoguchi.catalog.testers import (
    ProcedureTesterError,
    procedure_in_test,
    procedure_test_start,
    procedure_tester_add,
    procedure_tester_invite,
    procedure_tester_remove,
    procedure_testers,
)
from madoguchi.console.access import can_manage, staff_required
from madoguchi.console.forms import LocalQuestionForm, OwnProcedureForm, ProcedureSettingsForm
from madoguchi.core.request import client_address
from madoguchi.core.roles import role_reverse
from madoguchi.core.text import parse_int
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.area import organisation_area
from madoguchi.forms.base import FormSpec
from madoguchi.forms.engine import display_rows, validate
from madoguchi.forms.rendering import (
    Live,
    answers_from_post,
    error_summary,
    render_live,
    render_step,
)
from madoguchi.forms.schema import DefinitionProblem, InvalidDefinition
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.identity.selectors import staff_of_organisation
from madoguchi.notifications.ratelimit import MailRateLimited
from madoguchi.tenants.models import Organisation, SharedGroup
from madoguchi.tenants.selectors import groups_of_organisation


def _procedure(staff: Staff, procedure_id: int) -> Procedure:
    try:
        return procedure_get(organisation=staff.organisation, procedure_id=procedure_id)
    except Procedure.DoesNotExist:
        raise Http404 from None


@staff_required()
def procedures(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    items = list(procedures_of(organisation=staff.organisation, published_only=False))
    newer = newer_template_versions(items)
    return render(
        request,
        "console/procedures.html",
        {
            "staff": staff,
            "rows": [(p, newer.get(p.pk)) for p in items],
            "procedures": items,
            "can_manage": can_manage(staff),
            "has_groups": groups_of_organisation(organisation=staff.organisation).exists(),
        },
    )


@staff_required()
def templates(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    adopted = {
        p.template_version.template_id: p
        for p in procedures_of(organisation=staff.organisation, published_only=False)
        if p.template_version is not None
    }
    rows = []
    for template in templates_list():
        versions = list(template.versions.all())
        rows.append(
            {"template": template, "latest": versions[-1], "procedure": adopted.get(template.pk)}
        )
    return render(
        request,
        "console/templates.html",
        {"staff": staff, "rows": rows, "can_manage": can_manage(staff)},
    )


@require_POST
@staff_required(StaffRole.ADMIN)
def template_adopt(request: HttpRequest, slug: str, *, staff: Staff) -> HttpResponse:
    try:
        version = template_version_get(slug=slug)
    except TemplateVersion.DoesNotExist:
        raise Http404 from None
    try:
        procedure = procedure_adopt(
            organisation=staff.organisation,
            template_version=version,
            actor=staff.user,
            now=now(),
        )
    except CatalogError as error:
        for problem in error.problems:
            messages.error(request, problem)
        return redirect("console:templates")
    messages.success(
        request, f"「{procedure.name}」を採用しました（準備中）。内容を確認して公開してください。"
    )
    return redirect("console:procedure", procedure.pk)


def _settings_form(procedure: Procedure, data: Any = None) -> ProcedureSettingsForm:
    meta = procedure.template_version.metadata if procedure.template_version else {}
    labels = {
        f["key"]: f["label"]
        for step in meta.get("form", {}).get("steps", [])
        for section in step["sections"]
        for f in section["fields"]
    }
    optional = {key: labels.get(key, key) for key in meta.get("optional_fields") or {}}
    settings = procedure.settings
    initial: dict[str, Any] = {
        "summary": settings.get("summary", ""),
        "department": settings.get("department", ""),
        "contact": settings.get("contact", ""),
        "counter": settings.get("counter", ""),
        "reception_starts_at": to_tokyo(procedure.reception_starts_at)
        if procedure.reception_starts_at
        else None,
        "reception_ends_at": to_tokyo(procedure.reception_ends_at)
        if procedure.reception_ends_at
        else None,
    }
    params = {**parameter_defaults(meta), **(settings.get("parameters") or {})}
    for name, value in params.items():
        initial[f"param_{name}"] = value
    chosen = {**optional_defaults(meta), **(settings.get("optional_fields") or {})}
    for key, on in chosen.items():
        initial[f"optional_{key}"] = on
    return ProcedureSettingsForm(
        data, initial=initial, parameters=meta.get("parameters") or {}, optional=optional
    )


def _save_settings(
    request: HttpRequest,
    procedure: Procedure,
    staff: Staff,
    settings: dict[str, Any],
    reception: tuple[datetime | None, datetime | None],
) -> bool:
    try:
        procedure_update_settings(
            organisation=staff.organisation,
            procedure=procedure,
            settings=settings,
            reception_starts_at=reception[0],
            reception_ends_at=reception[1],
            now=now(),
        )
    except CatalogError as error:
        for problem in error.problems:
            messages.error(request, problem)
        return False
    return True


@require_http_methods(["GET", "POST"])
@staff_required()
def procedure_detail(request: HttpRequest, procedure_id: int, *, staff: Staff) -> HttpResponse:
    procedure = _procedure(staff, procedure_id)
    form = _settings_form(procedure)
    question_form = LocalQuestionForm(prefix="q")
    if request.method == "POST":
        if not can_manage(staff):
            raise PermissionDenied("この操作は団体管理者だけができます。")
        action = request.POST.get("action", "")
        if action in ("publish", "close", "draft"):
            status = {
                "publish": ProcedureStatus.PUBLISHED,
                "close": ProcedureStatus.CLOSED,
                "draft": ProcedureStatus.DRAFT,
            }[action]
            try:
                procedure_set_status(
                    organisation=staff.organisation,
                    procedure=procedure,
                    status=status,
                    actor=staff.user,
                    now=now(),
                    expected=str(request.POST.get("expected", ""))[:16] or None,
                )
            except ProcedureStatusError as error:
                messages.error(request, str(error))
                return redirect("console:procedure", procedure.pk)
            messages.success(request, f"状態を「{status.label}」にしました。")
            return redirect("console:procedure", procedure.pk)
        if action == "uniqueness":
            try:
                procedure_set_uniqueness(
                    organisation=staff.organisation,
                    procedure=procedure,
                    uniqueness=str(request.POST.get("uniqueness", ""))[:64],
                    actor=staff.user,
                    now=now(),
                )
            except CatalogError as error:
                for problem in error.problems:
                    messages.error(request, problem)
            else:
                messages.success(request, "重複申請の扱いを保存しました。")
            return redirect("console:procedure", procedure.pk)
        if action == "signoff":
            try:
                procedure_set_signoff_steps(
                    organisation=staff.organisation,
                    procedure=procedure,
                    steps=str(request.POST.get("signoff_steps", ""))[:8],
                    actor=staff.user,
                    now=now(),
                )
            except CatalogError as error:
                for problem in error.problems:
                    messages.error(request, problem)
            else:
                messages.success(request, "決裁の段階を保存しました。")
            return redirect("console:procedure", procedure.pk)
        if procedure.template_version is None:
            raise Http404
        settings = dict(procedure.settings)
        stored_reception = (procedure.reception_starts_at, procedure.reception_ends_at)
        if action == "save":
            form = _settings_form(procedure, request.POST)
            if form.is_valid():
                data = form.cleaned_data
                for key in ("summary", "department", "contact", "counter"):
                    settings[key] = data.get(key) or ""
                settings["parameters"] = {
                    k.removeprefix("param_"): v for k, v in data.items() if k.startswith("param_")
                }
                settings["optional_fields"] = {
                    k.removeprefix("optional_"): bool(v)
                    for k, v in data.items()
                    if k.startswith("optional_")
                }
                reception = (data.get("reception_starts_at"), data.get("reception_ends_at"))
                if _save_settings(request, procedure, staff, settings, reception):
                    messages.success(request, "設定を保存しました。")
                    return redirect("console:procedure", procedure.pk)
        elif action == "add_local":
            question_form = LocalQuestionForm(request.POST, prefix="q")
            if question_form.is_valid():
                questions = list(settings.get("local_questions") or [])
                questions.append(question_form.to_definition({q["key"] for q in questions}))
                settings["local_questions"] = questions
                if _save_settings(request, procedure, staff, settings, stored_reception):
                    messages.success(request, "団体独自の質問を追加しました。")
                    return redirect("console:procedure", procedure.pk)
        elif action == "remove_local":
            key = request.POST.get("key", "")
            settings["local_questions"] = [
                q for q in settings.get("local_questions") or [] if q.get("key") != key
            ]
            if _save_settings(request, procedure, staff, settings, stored_reception):
                messages.success(request, "団体独自の質問を削除しました。")
                return redirect("console:procedure", procedure.pk)
        else:
            messages.error(request, "操作を選び直してください。")
    latest = (
        latest_template_version(template_id=procedure.template_version.template_id)
        if procedure.template_version
        else None
    )
    return render(
        request,
        "console/procedure.html",
        {
            "staff": staff,
            "procedure": procedure,
            "group_templates": group_templates_published_by(organisation=staff.organisation).get(
                procedure.pk, []
            ),
            "diff": procedure_diff(procedure=procedure),
            "form": form,
            "question_form": question_form,
            "local_questions": procedure.settings.get("local_questions") or [],
            "newer": latest
            if latest
            and procedure.template_version
            and latest.version > procedure.template_version.version
            else None,
            "can_manage": can_manage(staff),
            "uniqueness_choices": Uniqueness.choices,
            "signoff_choices": [
                (0, "決裁なし（審査担当の決定で確定する）"),
                (1, "1段階（例: 係長の決裁）"),
                (2, "2段階（例: 係長・課長の決裁）"),
                (3, "3段階（例: 係長・課長・部長の決裁）"),
            ],
        },
    )


@require_http_methods(["GET", "POST"])
@staff_required()
def procedure_upgrade_view(
    request: HttpRequest, procedure_id: int, *, staff: Staff
) -> HttpResponse:
    # Another organisation's id is a 404 for everyone; the role is checked only after that.
    procedure = _procedure(staff, procedure_id)
    if not can_manage(staff):
        raise PermissionDenied("この操作は団体管理者だけができます。")
    if procedure.template_version is None:
        raise Http404
    target = latest_template_version(template_id=procedure.template_version.template_id)
    if target is None or target.version <= procedure.template_version.version:
        messages.info(request, "この手続はひな形の最新の版を使っています。")
        return redirect("console:procedure", procedure.pk)
    preview = procedure_upgrade_preview(procedure=procedure, to=target)
    if request.method == "POST":
        try:
            procedure_upgrade(
                organisation=staff.organisation,
                procedure=procedure,
                to=target,
                accept_changes=request.POST.get("accept") == "yes",
                actor=staff.user,
                now=now(),
            )
        except UpgradeConflict as error:
            messages.error(
                request,
                "引き継げない設定があります。内容を確認し、「上記の調整を受け入れる」にチェックを入れてください。",
            )
            preview.conflicts = error.problems
        except CatalogError as error:
            for problem in error.problems:
                messages.error(request, problem)
        else:
            messages.success(
                request,
                f"ひな形の第{target.version}版に移行しました。団体の設定は引き継がれています。",
            )
            return redirect("console:procedure", procedure.pk)
    return render(
        request,
        "console/procedure_upgrade.html",
        {"staff": staff, "procedure": procedure, "target": target, "preview": preview},
    )


@require_http_methods(["GET", "POST"])
@staff_required(StaffRole.ADMIN)
def procedure_new(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    form = OwnProcedureForm()
    problems: list[DefinitionProblem] = []
    if request.method == "POST":
        form = OwnProcedureForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                procedure = procedure_create_own(
                    organisation=staff.organisation,
                    slug=form.cleaned_data["slug"],
                    definition=form.definition(),
                    kana=form.cleaned_data.get("kana") or "",
                    actor=staff.user,
                    now=now(),
                )
            except InvalidDefinition as error:
                problems = error.problems
            except CatalogError as error:
                problems = [DefinitionProblem("", p) for p in error.problems]
            except ValidationError as error:  # the upload itself (size)
                form.add_error("definition_file", error)
            else:
                messages.success(
                    request, f"独自の手続「{procedure.name}」を登録しました（準備中）。"
                )
                return redirect("console:procedure", procedure.pk)
    return render(
        request, "console/procedure_new.html", {"staff": staff, "form": form, "problems": problems}
    )


@require_http_methods(["GET", "POST"])
@staff_required()
def procedure_preview(request: HttpRequest, procedure_id: int, *, staff: Staff) -> HttpResponse:
    """The form as residents will see it, step by step, validated by the server. Nothing is stored."""
    procedure = _procedure(staff, procedure_id)
    return preview_page(
        request,
        spec=form_spec(procedure.form_version),
        organisation=procedure.organisation,
        preview_url=reverse("console:procedure_preview", args=[procedure.pk]),
        template="console/procedure_preview.html",
        context={"staff": staff, "procedure": procedure},
    )


def preview_page(
    request: HttpRequest,
    *,
    spec: FormSpec,
    organisation: Organisation,
    preview_url: str,
    template: str,
    context: dict[str, Any],
) -> HttpResponse:
    """A preview of ``spec`` with the resident's renderer and rules (a procedure's form, or a
    builder draft's): step by step, validated by the server, nothing stored. Its live
    endpoint is ``preview_url + "live/"`` (:func:`preview_live`)."""
    keys = [s.key for s in spec.steps]
    step_key = request.POST.get("_step") or request.GET.get("step") or keys[0]
    if step_key not in keys:
        step_key = keys[0]
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    done = False
    added = ""
    if request.method == "POST":
        answers = answers_from_post(spec, request.POST)
        add, remove = request.POST.get("_add"), request.POST.get("_remove")
        if add or remove:
            groups = {f.key for f in spec.step(step_key).fields if f.type == "group"}
            added = _change_group(answers, add if add in groups else None, remove)
        elif request.POST.get("_back"):
            # Going back never loses or checks what was typed on this step.
            step_key = keys[max(keys.index(step_key) - 1, 0)]
        else:
            result = validate(
                spec,
                answers,
                today=to_tokyo(now()).date(),
                step=step_key,
                area=organisation_area(organisation),
            )
            errors = result.errors
            if not errors:
                index = keys.index(step_key)
                if index + 1 < len(keys):
                    step_key = keys[index + 1]
                else:
                    full = validate(
                        spec,
                        answers,
                        today=to_tokyo(now()).date(),
                        area=organisation_area(organisation),
                    )
                    errors = full.errors
                    done = not errors
                    answers = full.answers if done else answers
    step = spec.step(step_key)
    checked = validate(spec, answers, today=to_tokyo(now()).date())
    live = Live.of(checked, url=preview_url + "live/", form_url=preview_url)
    return render(
        request,
        template,
        {
            **context,
            "spec": spec,
            "step": step,
            "steps": spec.steps,
            "answers": answers,
            "fields_html": render_step(spec, step, answers, errors, live=live, focus=added),
            "live_url": live.url,
            "preview_url": preview_url,
            "errors": error_summary(spec, errors),
            "done": done,
            "rows": display_rows(spec, answers) if done else [],
            "hidden_answers": _hidden_inputs(answers, exclude={f.key for f in step.fields}),
        },
    )


@require_POST
@staff_required()
def procedure_preview_live(
    request: HttpRequest, procedure_id: int, *, staff: Staff
) -> HttpResponse:
    """The preview's live form: the same answer as the resident's (questions shown or hidden,
    computed values, the postal code's address, the field just left). Nothing is stored."""
    procedure = _procedure(staff, procedure_id)
    return preview_live(
        request,
        spec=form_spec(procedure.form_version),
        preview_url=reverse("console:procedure_preview", args=[procedure.pk]),
    )


def preview_live(request: HttpRequest, *, spec: FormSpec, preview_url: str) -> HttpResponse:
    """The live answer of :func:`preview_page`'s form."""
    try:
        step = spec.step(request.POST.get("_step", ""))
    except KeyError:
        return HttpResponse("その入力画面はありません。", status=400)
    answers = answers_from_post(spec, request.POST)
    result = validate(spec, answers, today=to_tokyo(now()).date(), step=step.key)
    response = HttpResponse(
        render_live(
            spec,
            step,
            answers,
            result,
            live=Live.of(result, url=preview_url + "live/", form_url=preview_url),
            shown_hidden=[v[:200] for v in request.POST.getlist("_live_hidden")][:200],
            touched=request.POST.get("_live_touched", "")[:200],
            typing=request.POST.get("_live_event") == "input",
        )
    )
    response["Cache-Control"] = "no-store"
    return response


def _change_group(answers: dict[str, Any], add: str | None, remove: str | None) -> str:
    """Add or remove a group item; the name of an added item (``children.1``), else ""."""
    added = ""
    if add and isinstance(answers.get(add, []), list):
        answers.setdefault(add, []).append({})
        added = f"{add}.{len(answers[add]) - 1}"
    if remove and "." in remove:
        key, _, index = remove.rpartition(".")
        items = answers.get(key)
        position = parse_int(index)
        if isinstance(items, list) and position is not None and position < len(items):
            items.pop(position)
    return added


def _hidden_inputs(answers: dict[str, Any], *, exclude: set[str]) -> list[tuple[str, str]]:
    """Answers of other steps, carried as hidden inputs so that the preview needs no storage."""
    result: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}", v)
        elif isinstance(value, list):
            if all(isinstance(v, dict) for v in value):
                for i, v in enumerate(value):
                    walk(f"{prefix}.{i}", v)
            else:
                for v in value:
                    result.append((prefix, str(v)))
        elif value is not None:
            result.append(
                (prefix, "yes" if value is True else "no" if value is False else str(value))
            )

    for key, value in answers.items():
        if key not in exclude:
            walk(key, value)
    return result


# --- 運用テスト -------------------------------------------------------------------------------


def _test_page(
    request: HttpRequest, staff: Staff, procedure: Procedure, *, status: int = 200, **extra: Any
) -> HttpResponse:
    testers = procedure_testers(organisation=staff.organisation, procedure=procedure)
    named = {t.staff_id for t in testers if t.staff_id}
    return render(
        request,
        "console/procedure_test.html",
        {
            "staff": staff,
            "procedure": procedure,
            "can_manage": can_manage(staff),
            "running": procedure_in_test(procedure),
            "testers": testers,
            "staff_choices": [
                s
                for s in staff_of_organisation(organisation=staff.organisation)
                if s.active and s.pk not in named
            ],
            "applications": procedure_test_applications(
                organisation=staff.organisation, procedure=procedure
            ),
            "portal_url": role_reverse(
                "portal:procedure", args=[procedure.organisation.lg_code, procedure.pk]
            ),
            "email": "",
            **extra,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@staff_required()
def procedure_test(request: HttpRequest, procedure_id: int, *, staff: Staff) -> HttpResponse:
    """運用テスト of a 準備中 procedure: start it, name staff and invite residents as testers,
    see their test applications, and publish (which purges them)."""
    procedure = _procedure(staff, procedure_id)
    if request.method == "GET":
        return _test_page(request, staff, procedure)
    if not can_manage(staff):
        raise PermissionDenied("この操作は団体管理者だけができます。")
    action = request.POST.get("action", "")
    here = redirect("console:procedure_test", procedure.pk)
    org, when = staff.organisation, now()
    try:
        if action == "start":
            procedure_test_start(organisation=org, procedure=procedure, actor=staff.user, now=when)
            messages.success(request, "運用テストを開始しました。試験者を追加してください。")
        elif action == "add_staff":
            procedure_tester_add(
                organisation=org,
                procedure=procedure,
                staff_id=parse_int(request.POST.get("staff"), minimum=1),
                actor=staff.user,
                now=when,
            )
            messages.success(request, "職員を試験者にしました。")
        elif action == "invite":
            email = str(request.POST.get("email", ""))[:300]
            try:
                procedure_tester_invite(
                    organisation=org,
                    procedure=procedure,
                    email=email,
                    actor=staff.user,
                    now=when,
                    client_address=client_address(request) or "",
                )
            except (ProcedureTesterError, MailRateLimited) as error:
                messages.error(request, str(error))
                return _test_page(request, staff, procedure, status=422, email=email[:254])
            messages.success(request, "招待のメールを送りました。")
        elif action == "remove":
            try:
                procedure_tester_remove(
                    organisation=org,
                    procedure=procedure,
                    tester_id=parse_int(request.POST.get("tester"), minimum=1),
                    actor=staff.user,
                    now=when,
                )
            except ProcedureTester.DoesNotExist:
                raise Http404("その試験者はいません。") from None
            messages.success(request, "試験者を外しました。")
        elif action == "publish":
            procedure_set_status(
                organisation=org,
                procedure=procedure,
                status=ProcedureStatus.PUBLISHED,
                actor=staff.user,
                now=when,
                expected=str(request.POST.get("expected", ""))[:16],
            )
            messages.success(
                request,
                "手続を公開しました。運用テストの申請と試験者は削除しました（監査記録に残しています）。",
            )
            return redirect("console:procedure", procedure.pk)
        else:
            messages.error(request, "操作を選んでください。")
            return _test_page(request, staff, procedure, status=400)
    except (ProcedureTesterError, ProcedureStatusError) as error:
        messages.error(request, str(error))
        return _test_page(request, staff, procedure, status=409)
    return here


# --- グループ内ひな形（共同利用グループのライブラリ） ---------------------------------------------


@staff_required()
def library(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    """The group templates of the organisation's groups: adopt one, or publish a procedure."""
    organisation = staff.organisation
    mine = list(procedures_of(organisation=organisation, published_only=False))
    adopted = {p.template_version.template_id: p for p in mine if p.template_version is not None}
    rows = []
    for template in group_library(organisation=organisation):
        versions = list(template.versions.all())
        procedure = adopted.get(template.pk)
        rows.append(
            {
                "template": template,
                "latest": versions[-1] if versions else None,
                "procedure": procedure,
                "own": template.source_organisation_id == organisation.pk,
                "newer": procedure is not None
                and versions
                and procedure.template_version is not None
                and versions[-1].version > procedure.template_version.version,
            }
        )
    publishable = [
        p
        for p in mine
        if p.template_version is None or p.template_version.template.group_id is None
    ]
    return render(
        request,
        "console/library.html",
        {
            "staff": staff,
            "rows": rows,
            "groups": list(groups_of_organisation(organisation=organisation).order_by("name")),
            "publishable": publishable,
            "can_manage": can_manage(staff),
        },
    )


@require_POST
@staff_required(StaffRole.ADMIN)
def library_publish(request: HttpRequest, *, staff: Staff) -> HttpResponse:
    procedure_id = parse_int(request.POST.get("procedure"), minimum=1)
    group_id = parse_int(request.POST.get("group"), minimum=1)
    if procedure_id is None or group_id is None:
        messages.error(request, "公開する手続と共同利用グループを選んでください。")
        return redirect("console:library")
    procedure = _procedure(staff, procedure_id)
    group = groups_of_organisation(organisation=staff.organisation).filter(pk=group_id).first()
    if group is None:
        raise Http404
    try:
        version, added = group_template_publish(
            organisation=staff.organisation,
            group=group,
            procedure=procedure,
            actor=staff.user,
            now=now(),
        )
    except SharedGroup.DoesNotExist:
        raise Http404 from None
    except CatalogError as error:
        for problem in error.problems:
            messages.error(request, problem)
        return redirect("console:library")
    if added:
        messages.success(
            request,
            f"「{procedure.name}」をグループのひな形（第{version.version}版）として公開しました。",
        )
    else:
        messages.info(
            request,
            f"「{procedure.name}」は前回の公開（第{version.version}版）から変わっていないため、"
            "新しい版は作りませんでした。",
        )
    return redirect("console:library_template", version.template_id)


def _group_template(staff: Staff, template_id: int) -> Template:
    try:
        return group_template_get(organisation=staff.organisation, template_id=template_id)
    except Template.DoesNotExist:
        raise Http404 from None


@staff_required()
def library_template(request: HttpRequest, template_id: int, *, staff: Staff) -> HttpResponse:
    """One group template: who published it, its versions and what changed in each, in words."""
    template = _group_template(staff, template_id)
    versions = list(template.versions.all())
    history = []
    for index, version in enumerate(versions):
        changes = template_changes(versions[index - 1].metadata, version.metadata) if index else []
        history.append({"version": version, "changes": changes})
    history.reverse()
    adopted = next(
        (
            p
            for p in procedures_of(organisation=staff.organisation, published_only=False)
            if p.template_version is not None and p.template_version.template_id == template.pk
        ),
        None,
    )
    return render(
        request,
        "console/library_template.html",
        {
            "staff": staff,
            "template": template,
            "latest": versions[-1] if versions else None,
            "history": history,
            "procedure": adopted,
            "own": template.source_organisation_id == staff.organisation_id,
            "can_manage": can_manage(staff),
        },
    )


@require_POST
@staff_required()
def library_adopt(request: HttpRequest, template_id: int, *, staff: Staff) -> HttpResponse:
    # Another group's template is a 404 for everyone; the role is checked only after that.
    template = _group_template(staff, template_id)
    if not can_manage(staff):
        raise PermissionDenied("この操作は団体管理者だけができます。")
    version = latest_template_version(template_id=template.pk)
    if version is None:
        raise Http404
    try:
        procedure = procedure_adopt(
            organisation=staff.organisation,
            template_version=version,
            actor=staff.user,
            now=now(),
        )
    except TemplateVersion.DoesNotExist:
        raise Http404 from None
    except CatalogError as error:
        for problem in error.problems:
            messages.error(request, problem)
        return redirect("console:library_template", template.pk)
    messages.success(
        request,
        f"グループのひな形「{procedure.name}」を採用しました（準備中）。内容を確認して公開してください。",
    )
    return redirect("console:procedure", procedure.pk)
