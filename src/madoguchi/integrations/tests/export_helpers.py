"""Shared by the export tests of integrations and console: one national template loaded
(loading all of them costs seconds per test), a valid application, and bulk rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from madoguchi.applications.models import Application
from madoguchi.applications.publishing import procedure_set_status
from madoguchi.applications.services import application_submit, new_idempotency_key
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.definitions import national_files, national_life_events, parse_template_text
from madoguchi.catalog.models import LifeEvent
from madoguchi.catalog.selectors import template_version_get
from madoguchi.catalog.services import (
    procedure_adopt,
    template_version_publish,
)
from madoguchi.core.time import now, to_tokyo
from madoguchi.forms.base import Context, field_types
from madoguchi.forms.engine import validate
from madoguchi.forms.selectors import form_spec
from madoguchi.testing import at_level_one

MY_NUMBER = "123456789018"
CHILD_MY_NUMBER = "987654321093"
GUARDIAN = {"family": "髙橋", "given": "花子", "family_kana": "タカハシ", "given_kana": "ハナコ"}
CHILD = {"family": "髙橋", "given": "一郎", "family_kana": "タカハシ", "given_kana": "イチロウ"}


def load_template(slug):
    events = national_life_events()
    for order, event in enumerate(events):
        LifeEvent.objects.update_or_create(
            slug=event["slug"],
            defaults={"name": event["name"], "kana": event["kana"], "order": order},
        )
    by_slug = {e.slug: e for e in LifeEvent.objects.all()}
    for name, data in national_files():
        if name == f"{slug}.yaml":
            parsed = parse_template_text(data, name, set(by_slug))
            template_version_publish(parsed=parsed, life_events=by_slug, now=now())
            return
    raise LookupError(slug)


def adopt(organisation, slug="hoiku-moushikomi"):
    """A published procedure of ``organisation`` from one national template."""
    load_template(slug)
    item = procedure_adopt(
        organisation=organisation, template_version=template_version_get(slug=slug), now=now()
    )
    return at_level_one(
        procedure_set_status(
            organisation=organisation, procedure=item, status=ProcedureStatus.PUBLISHED
        )
    )


def base_answers(procedure, **overrides):
    """A valid 保育所 application: each field's own example, no attachments, then overrides."""
    spec = form_spec(procedure.form_version)
    ctx = Context(today=to_tokyo(now()).date())
    answers: dict[str, Any] = {}
    for f in spec.fields:
        ftype = field_types[f.type]
        if f.type == "group":
            answers[f.key] = [
                {
                    c.key: field_types[c.type].example(c, ctx)
                    for c in f.fields
                    if field_types[c.type].has_value and c.type != "attachment"
                }
            ]
        elif ftype.has_value and f.type not in ("computed", "attachment"):
            answers[f.key] = ftype.example(f, ctx)
    answers.update({"g1_reason": "job_seeking", "has_guardian2": "no"})
    answers["guardian_my_number"] = MY_NUMBER
    answers["children"][0]["my_number"] = CHILD_MY_NUMBER
    # The field's own example name holds 𠮷; the tests choose their characters themselves.
    answers["children"][0]["name"] = dict(CHILD)
    answers["guardian_name"] = dict(GUARDIAN)
    answers.update(overrides)
    result = validate(spec, answers, today=ctx.today)
    for path in list(result.errors):
        answers.pop(path.split(".")[0].split("[")[0], None)
    assert validate(spec, answers, today=ctx.today).ok, validate(spec, answers, today=ctx.today)
    return answers


def submit(procedure, resident, answers, at=None):
    return application_submit(
        organisation=procedure.organisation,
        procedure=procedure,
        applicant=resident,
        answers=answers,
        idempotency_key=new_idempotency_key(),
        now=at or now(),
    ).application


def bulk(procedure, count, answers, *, at=None, start=0):
    """Applications straight into the table (volume, and states a form would refuse)."""
    at = at or now()
    rows = [
        Application(
            organisation=procedure.organisation,
            procedure=procedure,
            form_version=procedure.form_version,
            receipt_number=f"TEST-{procedure.pk}-{at:%m%d}-{start + i:06d}",
            idempotency_scope="bench",
            idempotency_key=f"{procedure.pk}-{at:%m%d}-{start + i}",
            arrived_at=at + timedelta(seconds=i),
            answers=answers,
            answers_digest="0" * 64,
        )
        for i in range(count)
    ]
    return Application.objects.bulk_create(rows)
