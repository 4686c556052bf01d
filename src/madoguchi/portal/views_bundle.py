"""Life-event checklists (ワンストップ): choose several procedures of one organisation, enter
the applicant's own details once, and each chosen form starts with them filled in."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from madoguchi.applications.selectors import SHARED_TYPES, answers_by_type, draft_of_applicant
from madoguchi.applications.services import draft_save, procedure_is_open
from madoguchi.catalog.models import LifeEvent, Procedure
from madoguchi.catalog.selectors import life_events_list, procedures_search
from madoguchi.core.lgcode import InvalidLgCode
from madoguchi.core.text import parse_int
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.area import organisation_area
from madoguchi.forms.base import FormSpec
from madoguchi.forms.engine import validate
from madoguchi.forms.rendering import answers_from_post, error_summary, render_step
from madoguchi.forms.schema import build_spec
from madoguchi.forms.selectors import form_spec
from madoguchi.portal.access import resident_of, resident_required
from madoguchi.tenants.models import Organisation
from madoguchi.tenants.selectors import organisation_get

_LABELS = {
    "person_name": "氏名",
    "birth_date": "生年月日",
    "address": "住所",
    "postal_code": "郵便番号",
    "phone": "電話番号",
    "email": "メールアドレス",
}
MAX_CHOSEN = 20


def _event_and_org(slug: str, code: str) -> tuple[LifeEvent, Organisation]:
    try:
        event = life_events_list().get(slug=slug[:64])
        org = organisation_get(code=code[:16])
    except (LifeEvent.DoesNotExist, Organisation.DoesNotExist, InvalidLgCode):
        raise Http404("そのライフイベントまたは団体はありません。") from None
    return event, org


def _open_procedures(event: LifeEvent, org: Organisation) -> list[Procedure]:
    moment = now()
    return [
        p
        for p in procedures_search(life_event=event.slug, organisation=org)[:200]
        if procedure_is_open(p, moment)
    ]


def _shared_spec(specs: list[FormSpec]) -> FormSpec | None:
    """A small form of the applicant's details that at least one chosen form asks for."""
    wanted = [t for t in SHARED_TYPES if any(f.type == t for s in specs for f in s.fields)]
    # A postal code alone is part of the address when a form asks for the address.
    if "address" in wanted and "postal_code" in wanted:
        wanted.remove("postal_code")
    if not wanted:
        return None
    schema = {
        "schema_version": 1,
        "key": "shared",
        "title": "共通の入力",
        "steps": [
            {
                "key": "shared",
                "title": "申請する方",
                "sections": [
                    {
                        "key": "applicant",
                        "title": "申請する方（共通）",
                        "fields": [
                            {"key": t, "type": t, "label": _LABELS[t], "required": t != "email"}
                            for t in wanted
                        ],
                    }
                ],
            }
        ],
    }
    return build_spec(schema)


@require_http_methods(["GET", "POST"])
@resident_required
def checklist(request: HttpRequest, slug: str, code: str) -> HttpResponse:
    """Step 1: tick the procedures; step 2: the shared details; then each form in turn."""
    resident = resident_of(request)
    event, org = _event_and_org(slug, code)
    procedures = _open_procedures(event, org)
    by_id = {p.pk: p for p in procedures}
    session_key = f"bundle:{event.slug}:{org.lg_code}"
    chosen_ids = [
        i for i in request.session.get(session_key, []) if isinstance(i, int) and i in by_id
    ]
    error = ""
    if request.method == "POST" and request.POST.get("_stage") == "choose":
        posted = [parse_int(v) for v in request.POST.getlist("procedure")[:MAX_CHOSEN]]
        chosen_ids = [i for i in dict.fromkeys(posted) if i is not None and i in by_id]
        if None in posted:
            error = "手続の指定が正しくありません。一覧から選び直してください。"
            chosen_ids = []
        elif not chosen_ids:
            error = "申請する手続を1つ以上選んでください。"
        else:
            request.session[session_key] = chosen_ids
            return redirect(request.path + "?stage=shared")
    chosen = [by_id[i] for i in chosen_ids]
    specs = [form_spec(p.form_version) for p in chosen]
    shared = _shared_spec(specs) if chosen else None
    stage = request.GET.get("stage") or request.POST.get("_stage") or "choose"
    if stage == "shared" and chosen and shared is not None:
        errors: dict[str, str] = {}
        answers: dict[str, Any] = {}
        if request.method == "POST":
            answers = answers_from_post(shared, request.POST)
            result = validate(
                shared, answers, today=to_tokyo(now()).date(), area=organisation_area(org)
            )
            errors = result.errors
            if not errors:
                moment = now()
                for procedure, spec in zip(chosen, specs, strict=True):
                    draft = draft_of_applicant(applicant=resident, procedure=procedure)
                    current = (
                        dict(draft.answers)
                        if draft and draft.form_version_id == procedure.form_version_id
                        else {}
                    )
                    draft_save(
                        organisation=org,
                        procedure=procedure,
                        applicant=resident,
                        answers={**current, **answers_by_type(spec, result.answers)},
                        step=draft.step if draft else "",
                        now=moment,
                    )
                return redirect(request.path + "?stage=forms")
        return render(
            request,
            "portal/bundle/shared.html",
            {
                "event": event,
                "org": org,
                "chosen": chosen,
                "fields_html": render_step(shared, shared.steps[0], answers, errors),
                "errors": error_summary(shared, errors),
            },
            status=422 if errors else 200,
        )
    if stage in ("forms", "shared") and chosen:
        drafts = {p.pk: draft_of_applicant(applicant=resident, procedure=p) for p in chosen}
        return render(
            request,
            "portal/bundle/forms.html",
            {"event": event, "org": org, "chosen": chosen, "drafts": drafts},
        )
    return render(
        request,
        "portal/bundle/choose.html",
        {
            "event": event,
            "org": org,
            "procedures": procedures,
            "chosen_ids": chosen_ids,
            "error": error,
        },
        status=422 if error else 200,
    )
