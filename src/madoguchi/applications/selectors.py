"""Reads of applications, always scoped: by organisation for staff, by applicant for residents."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import QuerySet

from madoguchi.applications.constants import ApplicationStatus
from madoguchi.applications.duplicates import period_of
from madoguchi.applications.models import (
    Application,
    ApplicationMessage,
    ApplicationTransition,
    Draft,
    DuplicateKey,
)
from madoguchi.catalog.constants import Uniqueness
from madoguchi.catalog.models import Procedure
from madoguchi.forms.answers import DROP, Answer, answers_map, masked_answers
from madoguchi.forms.base import FormSpec
from madoguchi.forms.engine import display_rows
from madoguchi.forms.japanese import ParseError, parse_postal_code, wareki
from madoguchi.forms.postal import lookup as postal_lookup
from madoguchi.forms.sealed import Sealed
from madoguchi.forms.selectors import form_spec
from madoguchi.identity.assurance import LEVEL_NAMES, VerifiedAttributes, VerifiedIdentity
from madoguchi.identity.models import ResidentProfile, User
from madoguchi.tenants.models import Organisation


def applications_of_applicant(*, applicant: User) -> QuerySet[Application]:
    return (
        Application.objects.filter(applicant=applicant)
        .select_related("organisation", "procedure")
        .prefetch_related("signatures")
        .order_by("-arrived_at", "-id")
    )


def stored_display_rows(spec: FormSpec, answers: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Rows for receipts and my page from stored answers: encrypted values show masked,
    without decrypting (revealing is a staff action that is audited)."""
    return display_rows(spec, answers)


def preview_rows(spec: FormSpec, answers: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Rows for the confirmation page from answers not yet stored: My Number shown masked."""
    return display_rows(spec, answers)


def application_rows(application: Application) -> list[tuple[str, str, str]]:
    return stored_display_rows(form_spec(application.form_version), application.answers)


def application_masked_answers(application: Application) -> dict[str, Any]:
    """The stored answers with every sealed value replaced by its masked text (for the staff
    API without a recorded reveal)."""
    return masked_answers(form_spec(application.form_version), application.answers)


def application_of_applicant(*, applicant: User, receipt_number: str) -> Application:
    """The applicant's own application; another person's answers ``DoesNotExist``."""
    if not applicant.pk or "\x00" in receipt_number:  # PostgreSQL refuses NUL in a query
        raise Application.DoesNotExist
    return Application.objects.select_related("organisation", "procedure", "form_version").get(
        applicant=applicant, receipt_number=receipt_number[:32]
    )


def application_by_receipt(*, receipt_number: str) -> Application:
    """Look-up by receipt number only, for callers that prove ownership another way (a
    guest's session remembers the receipts it created)."""
    if "\x00" in receipt_number:  # PostgreSQL refuses NUL in a query
        raise Application.DoesNotExist
    return Application.objects.select_related("organisation", "procedure", "form_version").get(
        receipt_number=receipt_number[:32]
    )


def drafts_of_applicant(*, applicant: User) -> QuerySet[Draft]:
    return (
        Draft.objects.filter(applicant=applicant)
        .select_related("organisation", "procedure")
        .order_by("-updated_at")
    )


def own_earlier_application(
    *, applicant: User, procedure: Procedure, now: datetime
) -> Application | None:
    """The application that already holds ``procedure``'s duplicate rule (1件だけ / 1年度に1件)
    for the current period and was sent from ``applicant``'s own account, or None.

    A hint to show before the resident starts filling in; the rule itself is decided at
    submission by the person's keys, so another member of the household may still apply."""
    if procedure.uniqueness == Uniqueness.NONE:
        return None
    key = (
        DuplicateKey.objects.filter(
            procedure=procedure,
            holds=True,
            period=period_of(procedure.uniqueness, now),
            application__applicant=applicant,
        )
        .select_related("application")
        .order_by("created_at")
        .first()
    )
    return key.application if key is not None else None


def draft_of_applicant(*, applicant: User, procedure: Procedure) -> Draft | None:
    return Draft.objects.filter(applicant=applicant, procedure=procedure).first()


def application_history(application: Application) -> list[ApplicationTransition]:
    return list(application.transitions.order_by("created_at", "id"))


def application_messages(application: Application) -> list[ApplicationMessage]:
    return list(application.messages.order_by("created_at", "id"))


def correction_prefill(*, application: Application, fields: Collection[str]) -> dict[str, Any]:
    """What the correction form starts from: the submitted answers of ``fields`` (the keys a
    correction request names), so that the resident changes only what is asked.

    Compound answers keep their parts (an address, a name, a group's items). A bank account of
    the form itself gives its parts with the account number masked as on every screen
    (``●●●●567``); sent back unchanged it keeps the submitted number
    (``correction_answer``). My Number — and a bank account inside a group item — is never
    given: 特定個人情報 is not put back into forms, it is asked again. Nothing is decrypted.
    """
    spec = form_spec(application.form_version)
    chosen = set(fields)

    def shown(answer: Answer) -> Any:
        if not isinstance(answer.value, Sealed):
            return answer.value
        if answer.value.structured and answer.depth == 0 and answer.value.parts:
            return dict(answer.value.parts)
        return DROP

    stored = application.answers if isinstance(application.answers, Mapping) else {}
    mine = {key: value for key, value in stored.items() if key in chosen}
    return answers_map(spec, mine, shown)


def open_correction(application: Application) -> ApplicationMessage | None:
    """The correction request the applicant has yet to answer, if any."""
    if application.status != ApplicationStatus.CORRECTION_REQUESTED:
        return None
    return (
        ApplicationMessage.objects.filter(
            application=application, kind=ApplicationMessage.Kind.CORRECTION
        )
        .order_by("-created_at", "-id")
        .first()
    )


def staff_allowed_targets(application: Application) -> list[str]:
    """The statuses staff may move the application to now (before checking who they are)."""
    from madoguchi.applications.workflow import STAFF, allowed_targets

    return allowed_targets(application.status, STAFF)


#: Field types that describe the applicant and can be filled once for several forms.
SHARED_TYPES = ("person_name", "birth_date", "address", "postal_code", "phone", "email")


def answers_by_type(spec: FormSpec, by_type: Mapping[str, Any]) -> dict[str, Any]:
    """Put one value per field type into the first top-level field of that type (the
    applicant's own name, address…); fields inside groups (other people) are left alone."""
    result: dict[str, Any] = {}
    for field in spec.fields:
        if field.type in by_type and field.type not in {
            f.type for f in spec.fields if f.key in result
        }:
            result[field.key] = by_type[field.type]
    return result


def profile_prefill(
    spec: FormSpec, profile: ResidentProfile | None, email: str = ""
) -> dict[str, Any]:
    """Answers the resident's registered details would fill in (ワンスオンリー); the
    resident sees them and confirms before they are used."""
    if profile is None:
        return {}
    by_type: dict[str, Any] = {}
    if profile.family_name or profile.given_name:
        by_type["person_name"] = {
            "family": profile.family_name,
            "given": profile.given_name,
            "family_kana": profile.family_name_kana,
            "given_kana": profile.given_name_kana,
        }
    if profile.birth_date:
        by_type["birth_date"] = profile.birth_date.isoformat()
    if profile.phone:
        by_type["phone"] = profile.phone
    if email:
        by_type["email"] = email
    if profile.postal_code:
        by_type["address"] = _address_parts(profile.postal_code, profile.address)
        by_type["postal_code"] = profile.postal_code
    return answers_by_type(spec, by_type)


def _address_parts(postal_code: str, address: str) -> dict[str, str]:
    """Split a one-line registered address into the form's parts, filling only what parses.

    The postal code (full-width, with 〒 or a hyphen as people save it) names the 都道府県,
    市区町村 and 町域; where the saved address starts with them, the rest is the 番地. Where
    it does not (a saved "中区日本大通1", a typo, another town), only what the postal code
    says for certain is filled and the 番地 is left for the resident: whatever was saved,
    this never raises and never guesses.
    """
    parts = dict.fromkeys(("postal_code", "prefecture", "city", "town", "block", "building"), "")
    try:
        digits = parse_postal_code(postal_code)
    except ParseError:
        return parts
    parts["postal_code"] = digits
    found = postal_lookup(digits)
    text = address.strip()
    for place in found:
        for prefix in (
            f"{place.prefecture}{place.city}{place.town}",
            f"{place.city}{place.town}",
            f"{place.prefecture}{place.city}",
            place.city,
        ):
            if prefix and text.startswith(prefix):
                parts.update(
                    prefecture=place.prefecture,
                    city=place.city,
                    town=place.town if prefix.endswith(place.town) and place.town else "",
                    block=text[len(prefix) :].strip(),
                )
                return parts
    # One code may cover several cities or towns: fill only what all of them share.
    if len({place.prefecture for place in found}) == 1:
        parts["prefecture"] = found[0].prefecture
        if len({place.city for place in found}) == 1:
            parts["city"] = found[0].city
            if len(found) == 1:
                parts["town"] = found[0].town
    return parts


@dataclass(frozen=True)
class SignatureRow:
    revision: int
    signer: str
    verified_at: datetime
    signed_at: datetime | None
    revocation: str
    issuer: str
    serial: str
    not_after: datetime
    via: str
    mismatches: list[dict[str, str]]

    @property
    def revocation_text(self) -> str:
        """How revocation was checked, in words (the stored code stays for the record)."""
        return revocation_text(self.revocation)


@dataclass(frozen=True)
class IdentityView:
    """What is proven about an application's applicant, for staff and for the receipt."""

    ial: int
    aal: int
    level_text: str
    methods: list[str]
    attributes: VerifiedAttributes | None
    mismatches: list[dict[str, str]]
    signatures: list[SignatureRow]

    @property
    def birth_date_text(self) -> str:
        """The verified date of birth as 和暦 with 西暦 (昭和60年4月1日（1985年）)."""
        raw = self.attributes.birth_date if self.attributes else ""
        try:
            born = date.fromisoformat(raw)
        except ValueError:
            return raw
        return f"{wareki(born)}（{born.year}年）"


def revocation_text(code: str) -> str:
    """``crl:<source>#<number>`` / ``api:<host>`` as staff read it."""
    kind, _, rest = code.partition(":")
    if kind == "crl":
        source, _, number = rest.partition("#")
        where = "テスト用認証局（デモ）" if source == "test-ca" else source
        return f"失効リスト（CRL）: {where}、第{number or '?'}号"
    if kind == "api":
        return f"失効情報の照会サービス（{rest}）"
    return code


SIGNATURE_VIA = {
    "upload": "署名ファイル",
    "api": "API",
    "national_app": "デジタル認証アプリ",
}


def application_identity(application: Application) -> IdentityView:
    """The levels met at arrival and how, the verified attributes, their differences from the
    answers, and each verified signature (who signed, when and how it was checked)."""
    record = VerifiedIdentity.from_json(application.identity) if application.identity else None
    stored = application.identity.get("mismatches") if application.identity else None
    signatures = [
        SignatureRow(
            revision=s.revision,
            signer=s.signer_name,
            verified_at=s.verified_at,
            signed_at=s.signed_at,
            revocation=s.revocation,
            issuer=s.issuer,
            serial=s.serial,
            not_after=s.not_after,
            via=SIGNATURE_VIA.get(s.via, s.via),
            mismatches=list(s.mismatches or []),
        )
        for s in application.signatures.order_by("revision")
    ]
    return IdentityView(
        ial=application.ial,
        aal=application.aal,
        level_text=f"身元確認{LEVEL_NAMES[application.ial]}・当人認証{LEVEL_NAMES[application.aal]}",
        methods=record.method_labels() if record else [],
        attributes=record.attributes if record else None,
        mismatches=list(stored) if isinstance(stored, list) else [],
        signatures=signatures,
    )


@dataclass(frozen=True)
class ArrivalCount:
    """Applications of one procedure that arrived in one month (Japan time) by one channel."""

    organisation_id: int
    procedure_id: int
    month: date
    channel: str
    count: int


def arrival_counts(
    *,
    organisation_ids: Collection[int] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[ArrivalCount]:
    """Exact counts of arrived applications by organisation × procedure × month × channel.

    Derived at read time from the applications themselves (one GROUP BY over the
    ``app_stats`` index) plus the tally of applications purged after their retention period
    — there is no counter row that a submission updates, so counting never serialises
    submissions. Operational-test applications (``is_test``) are never counted. ``since``
    and ``until`` are months (any day in them; ``until`` inclusive), in Japan time.
    """
    from django.db.models import Count, Sum
    from django.db.models.functions import TruncMonth

    from madoguchi.applications.models import PurgedArrivalCount
    from madoguchi.core.time import TOKYO

    live = Application.objects.filter(is_test=False)
    purged = PurgedArrivalCount.objects.all()
    if organisation_ids is not None:
        live = live.filter(organisation_id__in=list(organisation_ids))
        purged = purged.filter(organisation_id__in=list(organisation_ids))
    if since is not None:
        start = since.replace(day=1)
        live = live.filter(arrived_at__gte=datetime.combine(start, datetime.min.time(), TOKYO))
        purged = purged.filter(month__gte=start)
    if until is not None:
        end = _next_month(until.replace(day=1))
        live = live.filter(arrived_at__lt=datetime.combine(end, datetime.min.time(), TOKYO))
        purged = purged.filter(month__lt=end)
    totals: dict[tuple[int, int, date, str], int] = {}
    rows = (
        live.annotate(month=TruncMonth("arrived_at", tzinfo=TOKYO))
        .values_list("organisation_id", "procedure_id", "month", "channel")
        .annotate(n=Count("id"))
        .order_by()
    )
    for organisation_id, procedure_id, month, channel, n in rows:
        day = month.date() if isinstance(month, datetime) else month
        key = (organisation_id, procedure_id, day, channel)
        totals[key] = totals.get(key, 0) + n
    for organisation_id, procedure_id, day, channel, n in (
        purged.values_list("organisation_id", "procedure_id", "month", "channel")
        .annotate(n=Sum("count"))
        .order_by()
    ):
        key = (organisation_id, procedure_id, day, channel)
        totals[key] = totals.get(key, 0) + int(n)
    return [
        ArrivalCount(
            organisation_id=key[0], procedure_id=key[1], month=key[2], channel=key[3], count=n
        )
        for key, n in sorted(totals.items())
    ]


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def procedure_test_applications(
    *, organisation: Organisation, procedure: Procedure
) -> list[Application]:
    """The operational-test applications (運用テスト) of ``procedure``, newest first: what
    publishing will purge."""
    if procedure.organisation_id != organisation.pk:
        raise Procedure.DoesNotExist
    return list(
        Application.objects.filter(organisation=organisation, procedure=procedure, is_test=True)
        .select_related("applicant")
        .order_by("-arrived_at", "-pk")
    )
