"""Small factories shared by the test suites (DESIGN.md, "Tests and measurements").

One place for what many stories need: the reference data loaded once per session, a procedure
adopted and published, a resident, staff of a role, valid answers for a procedure's form, a
submission, a console login with both factors. The root ``conftest.py`` turns the common ones
into fixtures; test modules import the rest from here and never from another test module.

Everything goes through the real services (no rows written behind their back) unless a helper
says otherwise.
"""

from __future__ import annotations

import copy
import dataclasses
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any, Final

from django.contrib.auth.hashers import Argon2PasswordHasher
from django.test import Client

from madoguchi.applications.publishing import procedure_set_status
from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.definitions import (
    TemplateFile,
    national_life_events,
    parse_template_text,
    template_digest,
)
from madoguchi.catalog.models import LifeEvent, Procedure, TemplateVersion
from madoguchi.catalog.services import (
    procedure_create_own,
    template_version_publish,
)
from madoguchi.core.time import now, to_tokyo
from madoguchi.identity.constants import StaffRole
from madoguchi.identity.models import Staff
from madoguchi.tenants.models import Organisation

#: The password every test account gets (test-only).
PASSWORD = "correct horse battery 42"  # noqa: S105
STAFF_PASSWORD = "correct horse battery staple 42"  # noqa: S105

#: What the session's first load of the national templates reported (from an empty catalogue),
#: for the tests of the loader itself. Set by :func:`reference_data_load`.
SESSION_TEMPLATE_REPORT: list[Any] = []


# --- Mail: a real SMTP server on loopback ----------------------------------------------


class Inbox:
    """What an aiosmtpd server on loopback received (raw messages, in order)."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(envelope.content)
        return "250 OK"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- Reference data -----------------------------------------------------------------------


def reference_data_load() -> None:
    """Load the organisation master and the national templates where they are missing.

    The root conftest runs this once per session and again after a transactional test has
    flushed every table, so each test starts with both, whatever ran before it.
    """
    from madoguchi.catalog.models import Template
    from madoguchi.catalog.services import template_load_all
    from madoguchi.tenants.models import Organisation
    from madoguchi.tenants.services import organisation_master_load

    if not Organisation.objects.exists():
        organisation_master_load(now=now())
    if not Template.objects.exists():
        report = template_load_all(now=now())
        if not SESSION_TEMPLATE_REPORT:
            SESSION_TEMPLATE_REPORT.append(report)


def national_templates_remove() -> None:
    """Empty the national catalogue inside the current test's transaction (rolled back after
    it), for the few stories about a platform where no template was loaded yet. Only where
    no organisation has adopted one: the rows are protected, as in production."""
    from madoguchi.catalog.models import LifeEvent, Template, TemplateVersion
    from madoguchi.forms.models import FormDefinition, FormVersion

    forms = list(TemplateVersion.objects.values_list("form_version_id", flat=True))
    definitions = list(
        FormVersion.objects.filter(pk__in=forms).values_list("definition_id", flat=True)
    )
    TemplateVersion.objects.all().delete()
    Template.objects.all().delete()
    FormVersion.objects.filter(pk__in=forms).delete()
    FormDefinition.objects.filter(pk__in=definitions, versions__isnull=True).delete()
    LifeEvent.objects.all().delete()


# --- Catalog ------------------------------------------------------------------------------


#: The levels of a procedure in stories that are not about identity: any resident with a
#: verified address may apply, as often as the story needs, and no signature is asked. Identity stories publish the
#: procedure as shipped (``as_shipped=True``) and prove who the resident is.
LEVEL_ONE: Final = {"ial": 1, "aal": 1, "signature_required": False, "uniqueness": "none"}


def at_level_one(procedure: Procedure) -> Procedure:
    """``procedure`` changed to ask for level 1 and no signature (:data:`LEVEL_ONE`)."""
    from madoguchi.catalog.models import Procedure

    Procedure.objects.filter(pk=procedure.pk).update(**LEVEL_ONE, updated_at=now())
    procedure.refresh_from_db()
    return procedure


def procedure_publish(
    organisation: Organisation, slug: str = "juminhyo", *, as_shipped: bool = False, **changes: Any
) -> Procedure:
    """``organisation`` adopts the national template ``slug`` and publishes it.

    ``changes`` are written to the procedure row afterwards (e.g. ``retention_years=5``), for
    stories about a setting the console would otherwise have to change first. Unless
    ``as_shipped``, the procedure asks for level 1 and no signature (:data:`LEVEL_ONE`).
    """
    if not as_shipped:
        changes = {**LEVEL_ONE, **changes}
    from madoguchi.applications.publishing import procedure_set_status
    from madoguchi.catalog.constants import ProcedureStatus
    from madoguchi.catalog.models import Procedure
    from madoguchi.catalog.selectors import template_version_get
    from madoguchi.catalog.services import procedure_adopt

    item = procedure_adopt(
        organisation=organisation, template_version=template_version_get(slug=slug), now=now()
    )
    item = procedure_set_status(
        organisation=organisation, procedure=item, status=ProcedureStatus.PUBLISHED
    )
    if changes:
        Procedure.objects.filter(pk=item.pk).update(**changes, updated_at=now())
        item.refresh_from_db()
    return item


# --- People -------------------------------------------------------------------------------


class QuickArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 at its smallest cost, for the test suite only (the root conftest installs it):
    the same algorithm and hash format as production (``argon2$…``), without production's
    100 MiB and two passes for every account a fixture creates or a test logs in with
    (about 0.3 s each, which made password hashing a large share of the suite's time)."""

    time_cost = 1
    memory_cost = 8
    parallelism = 1


def resident_create(email: str = "hanako@example.jp", *, verified: bool = False) -> Any:
    """A resident account (password :data:`PASSWORD`); ``verified`` marks the address proven."""
    from madoguchi.identity.models import User

    user = User.objects.create_user(email, PASSWORD)
    if verified:
        user.email_verified_at = now()
        user.save(update_fields=["email_verified_at"])
    return user


def staff_create(
    organisation: Organisation, *, email: str, role: StaffRole, display_name: str = "職員 一郎"
) -> Staff:
    """A staff member of ``organisation`` with ``role`` (password :data:`STAFF_PASSWORD`)."""
    from madoguchi.identity.services import staff_upsert

    return staff_upsert(
        organisation=organisation,
        email=email,
        password=STAFF_PASSWORD,
        role=role,
        display_name=display_name,
    )


def console_login(client: Client, user: Any) -> Client:
    """Log ``user`` in to the console with both factors, as the TOTP step would leave the
    session, for tests that are not about logging in. ``client.force_login`` alone is a
    session *without* the second factor, which the console refuses."""
    from madoguchi.console.access import MFA_SESSION_KEY

    client.force_login(user)
    session = client.session
    session[MFA_SESSION_KEY] = user.pk
    session.save()
    return client


# --- Applications -------------------------------------------------------------------------


def valid_answers(procedure: Any) -> dict[str, Any]:
    """Every field's own example (which its type promises is valid), keeping only what
    validates together (examples of hidden or conditional fields may not apply)."""
    from madoguchi.forms.area import organisation_area
    from madoguchi.forms.base import Context, field_types
    from madoguchi.forms.engine import validate
    from madoguchi.forms.selectors import form_spec

    spec = form_spec(procedure.form_version)
    today = to_tokyo(now()).date()
    area = organisation_area(procedure.organisation)
    ctx = Context(today=today, area=area)
    answers: dict[str, Any] = {}
    for field in spec.fields:
        ftype = field_types[field.type]
        if field.type == "group":
            low = int(field.option("min_items", 0))
            answers[field.key] = [
                {
                    c.key: field_types[c.type].example(c, ctx)
                    for c in field.fields
                    if field_types[c.type].has_value and c.type != "computed"
                }
                for _ in range(max(low, 1))
            ]
        elif ftype.has_value and field.type != "computed":
            answers[field.key] = ftype.example(field, ctx)
    for path in list(validate(spec, answers, today=today, area=area).errors):
        top, _, rest = path.partition("[")
        if rest and "]." in rest:
            index, _, child = rest.partition("].")
            answers[top][int(index)].pop(child.split(".")[0], None)
        else:
            answers.pop(path.split(".")[0], None)
    checked = validate(spec, answers, today=today, area=area)
    assert checked.ok, checked.errors
    return answers


def answers_with_file_rows(procedure: Any, owner: Any = None) -> dict[str, Any]:
    """:func:`valid_answers` with each attachment slot pointing at a file row of ``owner``
    (by default the resident 花子 of the ``resident`` fixture; the row only, no bytes on
    disk: for stories that never open the file)."""
    from madoguchi.applications.models import Attachment
    from madoguchi.forms.selectors import form_spec
    from madoguchi.identity.models import User

    answers = valid_answers(procedure)
    for field in form_spec(procedure.form_version).fields:
        if field.type == "attachment" and field.key in answers:
            owner = owner or User.objects.get(email="hanako@example.jp")
            row = Attachment.objects.create(
                organisation=procedure.organisation,
                procedure=procedure,
                field_key=field.key,
                owner=owner,
                name="書類.pdf",
                kind="pdf",
                content_type="application/pdf",
                size=1024,
                sha256="0" * 64,
                created_at=now(),
            )
            answers[field.key] = [{"id": row.pk.hex, "name": row.name, "kind": "pdf", "size": 1024}]
    return answers


def png_bytes() -> bytes:
    """A small, real PNG image."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def with_real_files(
    procedure: Any, answers: dict[str, Any], owner: Any = None, guest_key: str = ""
) -> dict[str, Any]:
    """Replace example file references with files really uploaded by ``owner``."""
    from madoguchi.applications.attachments import attachment_answer, attachment_store
    from madoguchi.forms.selectors import form_spec

    spec = form_spec(procedure.form_version)
    result = dict(answers)
    for field in spec.fields:
        if field.type == "attachment" and field.key in result:
            stored = attachment_store(
                procedure=procedure,
                field_key=field.key,
                owner=owner,
                guest_key=guest_key,
                name="書類.png",
                data=png_bytes(),
                now=now(),
            )
            result[field.key] = [attachment_answer(stored)]
    return result


def submit(
    procedure: Any, resident: Any, answers: dict[str, Any], key: str | None = None, **kwargs: Any
) -> Any:
    """``application_submit`` for ``resident`` (``at=`` sets the arrival time)."""
    from madoguchi.applications.services import application_submit, new_idempotency_key

    return application_submit(
        organisation=procedure.organisation,
        procedure=procedure,
        applicant=resident,
        answers=answers,
        idempotency_key=key or new_idempotency_key(),
        now=kwargs.pop("at", now()),
        **kwargs,
    )


def staff_token(staff: Any, scopes: Sequence[str] | None = None, **kwargs: Any) -> str:
    """A raw staff API token of ``staff`` (read and write unless ``scopes`` says otherwise)."""
    from madoguchi.integrations.tokens import SCOPE_READ, SCOPE_WRITE, staff_token_create

    chosen = list(scopes) if scopes is not None else [SCOPE_READ, SCOPE_WRITE]
    return staff_token_create(staff=staff, name="基幹系連携", scopes=chosen, now=now(), **kwargs)[1]


def submit_named(
    procedure: Any,
    resident: Any,
    *,
    name: tuple[str, str, str, str] = ("山田", "花子", "やまだ", "はなこ"),
    at: Any = None,
) -> Any:
    """A submitted application whose applicant is called ``name`` (family, given, and their
    kana as typed), without attachments (the inbox stories do not need files)."""
    from madoguchi.forms.selectors import form_spec

    spec = form_spec(procedure.form_version)
    answers = {
        k: v
        for k, v in valid_answers(procedure).items()
        if next((f.type for f in spec.fields if f.key == k), "") != "attachment"
    }
    family, given, family_kana, given_kana = name
    key = next(f.key for f in spec.fields if f.type == "person_name")
    answers[key] = {
        "family": family,
        "given": given,
        "family_kana": family_kana,
        "given_kana": given_kana,
    }
    return submit(procedure, resident, answers, at=at or now()).application


# --- The catalog as the national government ships it, and as a test changes it -----------

NINTEI = "jidou-teate-nintei"
FEE_TEMPLATE = "test-juminhyo"

#: A template with a fee parameter, an optional field and a computed fee: the shape of
#: 住民票の写しの交付請求. It is published by the ``fee_template`` fixture only (the shipped
#: templates have no fee), under a slug no shipped file will ever use.
FEE_TEMPLATE_YAML = """\
template:
  slug: test-juminhyo
  version: 1
  name: 住民票の写しの交付請求
  kana: ジュウミンヒョウノウツシノコウフセイキュウ
  category: 戸籍・住民票
  summary: 住民票の写しを郵送で受け取るための請求です。
  synonyms: [住民票, 住民票の写し, 住民票請求]
  life_events: [moving]
  ial: 2
  aal: 2
  retention_years: 3
  processing_days: 7
  fee: {field: fee, note: オンライン決済で納めます}
  source: 住民基本台帳法第12条（本人等の請求による住民票の写し等の交付）。試験用のひな形。
  parameters:
    unit_fee: {label: 1通あたりの手数料, default: 300, min: 0, max: 1000, unit: 円}
  optional_fields:
    purpose: {default: true}
form:
  schema_version: 1
  key: test_juminhyo
  title: 住民票の写し 交付請求書
  steps:
    - key: request
      title: 請求の内容
      sections:
        - key: requester
          title: 請求者
          fields:
            - {key: requester_name, type: person_name, label: 請求者の氏名, required: true}
            - {key: requester_phone, type: phone, label: 電話番号, required: true}
            - {key: copies, type: number, label: 必要な通数, required: true, options: {min: 1, max: 10, unit: 通}}
            - {key: purpose, type: textarea, label: 使いみち}
            - {key: identity_document, type: attachment, label: 本人確認書類, required: true, help: 運転免許証などの写し, options: {accept: [jpeg, png, pdf]}}
            - key: fee
              type: computed
              label: 手数料
              options: {expression: {multiply: [{field: copies}, {param: unit_fee}]}, unit: 円, fee: true}
    - key: consent
      title: 確認
      sections:
        - key: declaration
          title: 申立て
          fields:
            - {key: truth, type: consent, label: 記載内容に相違ないことの申立て, required: true}
"""


def own_definition(
    title: str,
    *,
    key: str = "own_form",
    description: str = "",
    extra_fields: str = "",
) -> str:
    """A small, valid own form (独自様式) as an admin would upload it."""
    lines = [
        "schema_version: 1",
        f"key: {key}",
        f"title: {title}",
    ]
    if description:
        lines.append(f"description: {description}")
    lines += [
        "steps:",
        "  - key: main",
        "    title: 申請内容",
        "    sections:",
        "      - key: applicant",
        "        title: 申請者",
        "        fields:",
        "          - {key: applicant_name, type: person_name, label: 申請者の氏名, required: true}",
        "          - {key: applicant_phone, type: phone, label: 電話番号, required: true}",
    ]
    lines += [f"          {line}" for line in extra_fields.strip().splitlines() if line]
    return "\n".join(lines) + "\n"


# --- The catalog as the national government ships it ---------------------------------------


def life_events_by_slug() -> dict[str, LifeEvent]:
    return {event.slug: event for event in LifeEvent.objects.all()}


def shipped_template(slug: str) -> TemplateFile:
    """The parsed file ``national/<slug>.yaml`` as shipped in the package."""
    folder = resources.files("madoguchi.catalog").joinpath("national")
    data = folder.joinpath(f"{slug}.yaml").read_bytes()
    events = {event["slug"] for event in national_life_events()}
    return parse_template_text(data, f"{slug}.yaml", events)


def template_file_of(version: TemplateVersion) -> TemplateFile:
    """A stored template version as the parsed file it was published from."""
    metadata = copy.deepcopy(version.metadata)
    form = metadata.pop("form")
    return TemplateFile(f"{version.template.slug}.yaml", metadata, form, version.digest)


Edit = Callable[[dict[str, Any], dict[str, Any]], None]


def publish_template_version(
    base: TemplateFile | TemplateVersion, *, version: int, edit: Edit | None = None
) -> TemplateVersion:
    """Publish a new version of a template, as the national government would.

    ``edit(metadata, form)`` changes copies of ``base``'s metadata and form in place (add or
    remove a field, a parameter, an optional field...). The digest is recomputed, and the
    version is stored with the catalog's own service, without the file checks: a test can
    publish what a careless editor might.
    """
    parsed = template_file_of(base) if isinstance(base, TemplateVersion) else base
    metadata = copy.deepcopy(parsed.metadata)
    form = copy.deepcopy(parsed.form)
    metadata["version"] = version
    metadata["changes"] = f"第{version}版（試験）"
    if edit is not None:
        edit(metadata, form)
    new = dataclasses.replace(
        parsed, metadata=metadata, form=form, digest=template_digest(metadata, form)
    )
    template_version_publish(parsed=new, life_events=life_events_by_slug(), now=now())
    return TemplateVersion.objects.select_related("template", "form_version").get(
        template__slug=metadata["slug"], version=version
    )


# Small edits for ``publish_template_version``.


def section_of(form: dict[str, Any], section_key: str) -> dict[str, Any]:
    for step in form["steps"]:
        for section in step["sections"]:
            if section["key"] == section_key:
                return dict(section)
    raise KeyError(section_key)


def add_field(form: dict[str, Any], section_key: str, field: dict[str, Any]) -> None:
    for step in form["steps"]:
        for section in step["sections"]:
            if section["key"] == section_key:
                section["fields"].append(field)
                return
    raise KeyError(section_key)


def remove_field(form: dict[str, Any], key: str) -> None:
    for step in form["steps"]:
        for section in step["sections"]:
            section["fields"] = [f for f in section["fields"] if f["key"] != key]


def relabel_field(form: dict[str, Any], key: str, label: str) -> None:
    for step in form["steps"]:
        for section in step["sections"]:
            for f in section["fields"]:
                if f["key"] == key:
                    f["label"] = label


def field_keys(schema: dict[str, Any]) -> list[str]:
    """Top-level field keys of a (composed) form definition, in order."""
    return [
        f["key"]
        for step in schema["steps"]
        for section in step["sections"]
        for f in section["fields"]
    ]


def local_question(key: str = "local_q1", **extra: Any) -> dict[str, Any]:
    return {"key": key, "type": "text", "label": "広報紙の送付を希望しますか", **extra}


def publish_own(
    organisation: Organisation, slug: str, title: str, *, kana: str = "", key: str | None = None
) -> Procedure:
    """An own procedure of ``organisation``, published."""
    procedure = procedure_create_own(
        organisation=organisation,
        slug=slug,
        definition=own_definition(title, key=key or slug.replace("-", "_")),
        kana=kana,
        now=now(),
    )
    return procedure_set_status(
        organisation=organisation, procedure=procedure, status=ProcedureStatus.PUBLISHED
    )


# --- Console logins with a real second factor (TOTP) ---------------------------------------


@dataclass
class TOTPStaff:
    """A staff member with a confirmed authenticator, and what their app would show."""

    staff: Staff
    secret: str

    @property
    def user(self) -> Any:
        return self.staff.user

    @property
    def email(self) -> str:
        return str(self.staff.user.email)

    def code(self, at: datetime | None = None) -> str:
        from madoguchi.identity.mfa import totp_code_at

        return totp_code_at(secret_b32=self.secret, instant=at or now())


def totp_enrol(user: Any) -> str:
    """Enrol ``user``'s authenticator as of ten minutes ago (its first code spent then);
    returns the base32 secret."""
    from madoguchi.identity.mfa import totp_begin_enrolment, totp_code_at, totp_confirm

    enrolled_at = now() - timedelta(minutes=10)
    secret = totp_begin_enrolment(user=user, now=enrolled_at)
    code = totp_code_at(secret_b32=secret, instant=enrolled_at)
    assert totp_confirm(user=user, code=code, now=enrolled_at)
    return secret


def totp_fresh_code(user: Any, secret: str) -> str:
    """A code the server accepts now: the current step's, or the next step's (still inside
    the window) when the current one was already used by an earlier login of the test."""
    from madoguchi.identity.mfa import STEP_SECONDS, step_of, totp_code_at
    from madoguchi.identity.models import StaffTOTP

    last_step = StaffTOTP.objects.get(user=user).last_step
    instant = now()
    if step_of(instant) <= last_step:
        instant += timedelta(seconds=STEP_SECONDS)
    return totp_code_at(secret_b32=secret, instant=instant)


def console_log_in(client: Client, email: str, password: str = STAFF_PASSWORD, **extra: str) -> Any:
    """The whole console login as a person does it: the password, then the authenticator's
    code (an account without one is enrolled first). Returns the last response."""
    from madoguchi.identity.mfa import totp_is_confirmed
    from madoguchi.identity.models import StaffTOTP, User

    typed = email.strip().lower()
    plausible = len(typed) < 255 and "\x00" not in typed  # PostgreSQL refuses NUL in a query
    user = User.objects.filter(email=typed).first() if plausible else None
    secrets_of = getattr(client, "_totp_secrets", {})
    if user is not None and not totp_is_confirmed(user=user):
        StaffTOTP.objects.filter(user=user).delete()
        secrets_of[user.pk] = totp_enrol(user)
    client._totp_secrets = secrets_of  # type: ignore[attr-defined]
    response = client.post("/console/login/", {"username": email, "password": password, **extra})
    if response.status_code != 302 or response["Location"] != "/console/login/code/":
        return response
    assert user is not None
    secret = secrets_of[user.pk]
    return client.post("/console/login/code/", {"code": totp_fresh_code(user, secret)})


# --- Accessibility ------------------------------------------------------------------------


def axe_violations(page: Any) -> list[str]:
    """Run axe-core (WCAG 2.x A/AA rules) on the page; return one line per violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={
            "runOnly": {
                "type": "tag",
                "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"],
            },
            "resultTypes": ["violations"],
        },
    )
    return [
        f"{v['id']}: {v['help']} ({', '.join(str(n['target']) for n in v['nodes'][:3])})"
        for v in results.response["violations"]
    ]


# --- A software authenticator (WebAuthn) with real keys ---------------------------------------


class SoftAuthenticator:
    """A passkey authenticator in software: an EC P-256 key, real authenticatorData,
    clientDataJSON, "none" attestation and ECDSA assertion signatures (``cryptography``), so
    tests drive the real verification with answers a browser would send. Knobs let a test
    build the wrong ones (origin, RP ID, flags, counter)."""

    UP = 0x01
    UV = 0x04
    AT = 0x40

    def __init__(self, *, origin: str = "http://testserver", rp_id: str = "testserver") -> None:
        import secrets

        from cryptography.hazmat.primitives.asymmetric import ec

        self.origin = origin
        self.rp_id = rp_id
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.sign_count = 0
        self.user_handle = b""

    @staticmethod
    def b64(data: bytes) -> str:
        import base64

        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    @staticmethod
    def unb64(text: str) -> bytes:
        import base64

        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    def cose_key(self) -> bytes:
        import cbor2

        numbers = self.key.public_key().public_numbers()
        return bytes(
            cbor2.dumps(
                {
                    1: 2,
                    3: -7,
                    -1: 1,
                    -2: numbers.x.to_bytes(32, "big"),
                    -3: numbers.y.to_bytes(32, "big"),
                }
            )
        )

    def _auth_data(self, *, rp_id: str, flags: int, count: int, attested: bool) -> bytes:
        import hashlib

        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + count.to_bytes(4, "big")
        if attested:
            data += bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id
            data += self.cose_key()
        return data

    def _client_data(self, *, kind: str, challenge: str, origin: str) -> bytes:
        import json

        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()

    def register(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        flags: int = UP | UV | AT,
        challenge: str | None = None,
    ) -> str:
        """The JSON a browser posts after ``navigator.credentials.create(options)``."""
        import json

        import cbor2

        self.user_handle = self.unb64(options["user"]["id"])
        auth_data = self._auth_data(
            rp_id=rp_id or self.rp_id, flags=flags, count=self.sign_count, attested=True
        )
        client_data = self._client_data(
            kind="webauthn.create",
            challenge=challenge or options["challenge"],
            origin=origin or self.origin,
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        cid = self.b64(self.credential_id)
        return json.dumps(
            {
                "id": cid,
                "rawId": cid,
                "type": "public-key",
                "response": {
                    "clientDataJSON": self.b64(client_data),
                    "attestationObject": self.b64(attestation),
                    "transports": ["internal", "hybrid"],
                },
                "clientExtensionResults": {},
            }
        )

    def assertion(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        flags: int = UP | UV,
        sign_count: int | None = None,
        challenge: str | None = None,
    ) -> str:
        """The JSON a browser posts after ``navigator.credentials.get(options)``; the counter
        moves forward by one unless ``sign_count`` says otherwise."""
        import hashlib
        import json

        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        if sign_count is None:
            self.sign_count += 1
            sign_count = self.sign_count
        auth_data = self._auth_data(
            rp_id=rp_id or self.rp_id, flags=flags, count=sign_count, attested=False
        )
        client_data = self._client_data(
            kind="webauthn.get",
            challenge=challenge or options["challenge"],
            origin=origin or self.origin,
        )
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        cid = self.b64(self.credential_id)
        return json.dumps(
            {
                "id": cid,
                "rawId": cid,
                "type": "public-key",
                "response": {
                    "clientDataJSON": self.b64(client_data),
                    "authenticatorData": self.b64(auth_data),
                    "signature": self.b64(signature),
                    "userHandle": self.b64(self.user_handle),
                },
                "clientExtensionResults": {},
            }
        )


# --- Duplicate rules (重複申請の扱い) ---------------------------------------------------------

#: Extra fields of the own form of :func:`procedure_with_rule`: the applicant's birth date and
#: address after the name, so both keys (person and household) can be made.
_RULE_FIELDS = """
- {key: applicant_birth_date, type: birth_date, label: 生年月日, required: true}
- {key: applicant_address, type: address, label: 住所, required: true}
"""


def procedure_with_rule(
    organisation: Organisation, rule: str, *, slug: str = "kyufukin", actor: Any = None
) -> Procedure:
    """A published own procedure (name, birth date, address; no files; level 1) of
    ``organisation`` whose duplicate rule is ``rule``, set through the real service."""
    from madoguchi.catalog.services import procedure_set_uniqueness

    procedure = procedure_create_own(
        organisation=organisation,
        slug=slug,
        definition=own_definition(
            "臨時給付金の申請", key=slug.replace("-", "_"), extra_fields=_RULE_FIELDS
        ),
        now=now(),
    )
    procedure_set_status(
        organisation=organisation, procedure=procedure, status=ProcedureStatus.PUBLISHED
    )
    actor = actor or resident_create(f"admin-{slug}-{organisation.lg_code}@example.jp")
    return procedure_set_uniqueness(
        organisation=organisation, procedure=procedure, uniqueness=rule, actor=actor, now=now()
    )


def rule_answers(
    family: str = "山田",
    given: str = "花子",
    birth: str = "1985-04-01",
    block: str = "1-1",
    building: str = "",
) -> dict[str, Any]:
    """Answers for :func:`procedure_with_rule`'s form: who applies, born when, living where."""
    return {
        "applicant_name": {
            "family": family,
            "given": given,
            "family_kana": "ヤマダ",
            "given_kana": "ハナコ",
        },
        "applicant_phone": "045-671-2121",
        "applicant_birth_date": birth,
        "applicant_address": {
            "postal_code": "231-0023",
            "prefecture": "神奈川県",
            "city": "横浜市中区",
            "town": "山下町",
            "block": block,
            "building": building,
        },
    }


# --- Browser helpers shared by the browser tests (no test module imports another) -----------


def _png(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "PNG")
    return buffer.getvalue()


def png_upload(name: str, colour: tuple[int, int, int] = (200, 30, 30)) -> dict[str, Any]:
    return {"name": name, "mimeType": "image/png", "buffer": _png(colour)}


def browser_fill(page: Any, values: dict[str, Any]) -> None:
    """Answer by input name the way a person does: type, tick, choose, attach."""
    for name, value in values.items():
        inputs = page.locator(f'[name="{name}"]')
        kind = inputs.first.evaluate("e => e.tagName.toLowerCase() + ':' + (e.type || '')")
        if kind == "input:radio":
            page.locator(f'input[name="{name}"][value="{value}"]').check()
        elif kind == "input:checkbox":
            inputs.first.check()
        elif kind.startswith("select:"):
            inputs.first.select_option(value)
        elif kind == "input:file":
            # A live form redraws the questions an earlier answer shows: attach to the input
            # that is on the page once it has settled and the question can be seen.
            page.wait_for_function("!document.querySelector('.htmx-request')")
            inputs.first.wait_for(state="visible")
            inputs.first.set_input_files(value)
        else:
            inputs.first.fill(value)


def console_browser_login(page: Any, staff: Any) -> None:
    """Log ``staff`` in to the console in the browser, both factors, as a person does."""
    secret = totp_enrol(staff.user)
    page.context.clear_cookies()
    page.goto("/console/login/")
    page.get_by_label("メールアドレス").fill(staff.user.email)
    page.get_by_label("パスワード").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url("**/console/login/code/")
    page.get_by_label("確認コード（6桁の数字）").fill(totp_fresh_code(staff.user, secret))
    page.get_by_role("button", name="確認してログイン").click()
    page.wait_for_url("**/console/")


# The inu-toroku answers that make the attachment slot apply: a new registration, the
# rabies injection done this year and the injection tag asked for.
DOG_OWNER = {
    "kind": "register",
    "owner_name.family": "山田",
    "owner_name.given": "花子",
    "owner_name.family_kana": "ヤマダ",
    "owner_name.given_kana": "ハナコ",
    "owner_address.postal_code": "231-0023",
    "owner_address.block": "1-1",
    "owner_phone": "045-671-2121",
}
DOG = {
    "dog_name": "ポチ",
    "breed": "柴",
    "coat_color": "赤",
    "dog_sex": "female",
    "dog_birth_date": "2024-05-01",
}


def dog_details() -> dict[str, Any]:
    return {
        "acquired_date": (to_tokyo(now()).date() - timedelta(days=5)).isoformat(),
        "vaccinated": "yes",
        "vaccination_date": (to_tokyo(now()).date() - timedelta(days=10)).isoformat(),
        "injection_tag_request": "yes",
        "tag_delivery": "mail",
        "vaccination_certificate": [png_upload("注射済証.png")],
    }


DOG_CONSENT = {"truth": "yes", "owner_duties": "yes"}


def counted(*, procedure: Any = None, channel: str | None = None) -> int:
    """How many applications the statistics count (``arrival_counts``), optionally of one
    procedure and one channel."""
    from madoguchi.applications.selectors import arrival_counts

    return sum(
        row.count
        for row in arrival_counts()
        if (procedure is None or row.procedure_id == procedure.pk)
        and (channel is None or row.channel == channel)
    )


# --- Statistics: files of imported counts ------------------------------------------------------

COUNT_HEADER: Final = ("団体コード", "年度", "月", "手続", "総件数", "オンライン件数")


def counts_csv(
    *rows: Sequence[object], header: Sequence[str] = COUNT_HEADER, encoding: str = "utf-8"
) -> bytes:
    """A CSV of counts to import (``encoding`` as Python names it: utf-8, utf-8-sig, cp932)."""
    import csv

    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return buffer.getvalue().encode(encoding)


def counts_xlsx(
    *rows: Sequence[object],
    header: Sequence[str] = COUNT_HEADER,
    sheet: str = "件数",
    first_sheet: str | None = None,
) -> bytes:
    """An xlsx of counts written by openpyxl; cells starting with = are formulas (as Excel
    stores them). With ``first_sheet``, an unrelated sheet of that name comes first."""
    import openpyxl

    book = openpyxl.Workbook()
    default = book.active
    assert default is not None
    if first_sheet is not None:
        default.title = first_sheet
        default.append(["メモ", "この表は取り込まれない"])
        target = book.create_sheet(sheet)
    else:
        default.title = sheet
        target = default
    target.append(list(header))
    for row in rows:
        target.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- Statistics -----------------------------------------------------------------------------


def counts_imported(organisation: Any, *rows: tuple[str, int, int, int, int]) -> None:
    """Imported counts as an accepted import leaves them: ``(category code, fiscal year,
    month (0 = whole year), total, online)`` rows for ``organisation`` in one batch (for
    tests of the figures; the importer has its own)."""
    from madoguchi.stats.models import CountImport, ImportedCount

    batch = CountImport.objects.create(
        organisation=organisation,
        file_name="test.csv",
        file_sha256="0" * 64,
        encoding="utf-8",
        rows=len(rows),
        imported_at=now(),
    )
    ImportedCount.objects.bulk_create(
        ImportedCount(
            organisation=organisation,
            category_code=code,
            fiscal_year=year,
            month=month,
            total=total,
            online=online,
            batch=batch,
        )
        for code, year, month, total, online in rows
    )


def procedure_classified(organisation: Any, category_code: str, slug: str = "sodai-gomi") -> Any:
    """``procedure_publish`` of ``slug``, counted under the national category ``category_code``."""
    from madoguchi.stats.models import ProcedureClassification

    procedure = procedure_publish(organisation, slug)
    ProcedureClassification.objects.update_or_create(
        procedure=procedure,
        defaults={"organisation": organisation, "category_code": category_code, "set_at": now()},
    )
    return procedure


# --- 運用テスト (operational test) ---------------------------------------------------------


def procedure_under_test(organisation: Organisation, actor: Any, slug: str = "juminhyo") -> Any:
    """``organisation`` adopts ``slug`` (level 1, no signature), keeps it 準備中 and starts its
    operational test as ``actor`` (an admin's user). No testers yet."""
    from madoguchi.catalog.models import Procedure
    from madoguchi.catalog.selectors import template_version_get
    from madoguchi.catalog.services import procedure_adopt
    from madoguchi.catalog.testers import procedure_test_start

    item = procedure_adopt(
        organisation=organisation, template_version=template_version_get(slug=slug), now=now()
    )
    Procedure.objects.filter(pk=item.pk).update(**LEVEL_ONE, updated_at=now())
    item.refresh_from_db()
    return procedure_test_start(organisation=organisation, procedure=item, actor=actor, now=now())


def invited_tester(procedure: Any, email: str, actor: Any) -> tuple[Any, str]:
    """Invite ``email`` to test ``procedure`` through the real service; returns the tester
    row and the raw token of the mail's link."""
    import re

    from madoguchi.catalog.testers import procedure_tester_invite
    from madoguchi.notifications.models import OutboxMessage

    tester = procedure_tester_invite(
        organisation=procedure.organisation,
        procedure=procedure,
        email=email,
        actor=actor,
        now=now(),
        client_address="192.0.2.10",
    )
    mail = OutboxMessage.objects.filter(payload__to=tester.email).latest("pk")
    found = re.search(r"/testers/([^/\s]+)/", mail.payload["body"])
    assert found is not None
    return tester, found.group(1)


def posted_answers(answers: dict[str, Any], spec: Any) -> dict[str, Any]:
    """Answers as the browser posts them (nested names joined with dots, yes/no for
    booleans), without attachments (files need uploads)."""
    files = {f.key for f in spec.fields if f.type == "attachment"}
    data: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}", v)
        elif isinstance(value, list):
            if value and all(isinstance(v, dict) for v in value):
                for i, v in enumerate(value):
                    walk(f"{prefix}.{i}", v)
            else:
                data[prefix] = [str(v) for v in value]
        elif value is True:
            data[prefix] = "yes"
        elif value is False:
            data[prefix] = "no"
        elif value is not None:
            data[prefix] = str(value)

    for key, value in answers.items():
        if key not in files:
            walk(key, value)
    return data


def portal_apply(client: Client, procedure: Any, answers: dict[str, Any]) -> Any:
    """Apply through the portal's real pages as the browser would (every step posted with
    the answers, then the confirmation sent); returns the confirmation's response. Answers
    without attachments (files need uploads)."""
    import re

    from madoguchi.forms.selectors import form_spec

    spec = form_spec(procedure.form_version)
    data = posted_answers(answers, spec)
    base = f"/o/{procedure.organisation.lg_code}/procedures/{procedure.pk}/apply/"
    for step in spec.steps:
        response = client.post(base, {**data, "_step": step.key})
        assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get(base + "confirm/")
    assert page.status_code == 200, page.status_code
    html = page.content.decode()
    key_found = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    version_found = re.search(r'name="form_version" value="([^"]+)"', html)
    assert key_found is not None
    assert version_found is not None
    return client.post(
        base + "confirm/",
        {"idempotency_key": key_found.group(1), "form_version": version_found.group(1)},
    )
