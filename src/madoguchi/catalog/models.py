"""National templates (ひな形), life events, and the procedures organisations publish."""

from __future__ import annotations

from django.db import models

from madoguchi.catalog.constants import AssuranceLevel, ProcedureStatus, Uniqueness
from madoguchi.core.models import TimeStampedModel
from madoguchi.forms.models import FormVersion
from madoguchi.tenants.models import Organisation


class LifeEvent(models.Model):
    """ライフイベント: a bundle of procedures people need at one moment of life."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField("名称", max_length=64)
    kana = models.CharField("よみ", max_length=128)
    description = models.TextField("説明", blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "ライフイベント"
        verbose_name_plural = "ライフイベント"
        ordering = ("order", "slug")

    def __str__(self) -> str:
        return self.name


class Template(TimeStampedModel):
    """申請様式のひな形. Its versions are immutable.

    A national template has no ``group``. A group template (グループ内ひな形) belongs to one
    shared group: an organisation of the group published one of its procedures
    (``source_procedure``) to the group's library, and only members of that group see and
    adopt it — with the same adoption, settings, diff and upgrade as a national template.
    """

    slug = models.SlugField(max_length=64)
    name = models.CharField("名称", max_length=200)
    kana = models.CharField("よみ", max_length=400)
    category = models.CharField("分野", max_length=64)
    synonyms = models.JSONField("別の呼び方", default=list)
    life_events = models.ManyToManyField(LifeEvent, blank=True, related_name="templates")
    search_key = models.TextField(editable=False, default="")
    #: The shared group whose library holds this template; empty for a national template.
    group = models.ForeignKey(
        "tenants.SharedGroup",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="library",
        verbose_name="共同利用グループ",
    )
    #: The organisation that published it to the group (empty for a national template).
    source_organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="公開した団体",
    )
    #: The publisher's procedure it comes from; publishing it again adds a version.
    source_procedure = models.ForeignKey(
        "catalog.Procedure", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "ひな形"
        verbose_name_plural = "ひな形"
        ordering = ("category", "slug")
        constraints = (
            models.UniqueConstraint(
                fields=("slug",),
                condition=models.Q(group__isnull=True),
                name="template_national_slug_unique",
            ),
            models.UniqueConstraint(
                fields=("group", "slug"),
                condition=models.Q(group__isnull=False),
                name="template_group_slug_unique",
            ),
            models.UniqueConstraint(
                fields=("group", "source_procedure"),
                condition=models.Q(group__isnull=False),
                name="template_group_source_once",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    group__isnull=True,
                    source_organisation__isnull=True,
                    source_procedure__isnull=True,
                )
                | models.Q(
                    group__isnull=False,
                    source_organisation__isnull=False,
                    source_procedure__isnull=False,
                ),
                name="template_group_source_consistent",
            ),
        )

    def __str__(self) -> str:
        return self.name


class TemplateVersion(models.Model):
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField("版")
    form_version = models.ForeignKey(FormVersion, on_delete=models.PROTECT, related_name="+")
    #: Everything but the form: assurance, fee parameters, retention, source, extension points.
    metadata = models.JSONField("属性")
    digest = models.CharField(max_length=64)
    published_at = models.DateTimeField("公開日時")

    class Meta:
        verbose_name = "ひな形の版"
        verbose_name_plural = "ひな形の版"
        ordering = ("template_id", "version")
        constraints = (
            models.UniqueConstraint(fields=("template", "version"), name="template_version_unique"),
        )

    def __str__(self) -> str:
        return f"{self.template.name} 第{self.version}版"


class Procedure(TimeStampedModel):
    """手続: what residents can apply for at one organisation."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="procedures"
    )
    slug = models.SlugField(max_length=64)
    template_version = models.ForeignKey(
        TemplateVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="procedures"
    )
    form_version = models.ForeignKey(
        FormVersion, on_delete=models.PROTECT, related_name="procedures"
    )
    name = models.CharField("名称", max_length=200)
    kana = models.CharField("よみ", max_length=400, blank=True)
    summary = models.TextField("概要", blank=True)
    status = models.CharField(
        max_length=16, choices=ProcedureStatus.choices, default=ProcedureStatus.DRAFT
    )
    #: Values at the template's extension points (and, for own procedures, the same keys).
    settings = models.JSONField("団体の設定", default=dict)
    ial = models.PositiveSmallIntegerField(
        "身元確認保証レベル", choices=AssuranceLevel.choices, default=1
    )
    aal = models.PositiveSmallIntegerField(
        "当人認証保証レベル", choices=AssuranceLevel.choices, default=1
    )
    signature_required = models.BooleanField("電子署名が必要", default=False)
    #: 重複申請の扱い (applications.duplicates enforces it, with a database constraint).
    uniqueness = models.CharField(
        "重複申請の扱い", max_length=32, choices=Uniqueness.choices, default=Uniqueness.NONE
    )
    retention_years = models.PositiveSmallIntegerField("保存年限（年）", default=5)
    processing_days = models.PositiveSmallIntegerField("標準処理期間（日）", null=True, blank=True)
    reception_starts_at = models.DateTimeField("受付開始", null=True, blank=True)
    reception_ends_at = models.DateTimeField("受付終了", null=True, blank=True)
    life_events = models.ManyToManyField(LifeEvent, blank=True, related_name="procedures")
    #: 審査担当 assigned to this procedure; empty means every reviewer of the organisation.
    reviewers = models.ManyToManyField(
        "identity.Staff", blank=True, related_name="assigned_procedures"
    )
    #: 決裁の段階: 0 = the reviewer's decision is final; 1–3 = a decision is proposed (起案)
    #: and takes effect once signed off at each step by other staff with the sign-off role.
    signoff_steps = models.PositiveSmallIntegerField("決裁の段階数", default=0)
    #: 運用テスト: when the organisation admin started the operational test of this (draft)
    #: procedure; named testers may apply while it is set. Publishing clears it.
    test_started_at = models.DateTimeField("運用テストの開始", null=True, blank=True)
    search_key = models.TextField(editable=False, default="")

    class Meta:
        verbose_name = "手続"
        verbose_name_plural = "手続"
        ordering = ("organisation_id", "name")
        constraints = (
            models.UniqueConstraint(fields=("organisation", "slug"), name="procedure_slug_unique"),
            models.CheckConstraint(
                condition=models.Q(ial__gte=1, ial__lte=3), name="procedure_ial_range"
            ),
            models.CheckConstraint(
                condition=models.Q(aal__gte=1, aal__lte=3), name="procedure_aal_range"
            ),
            models.CheckConstraint(
                condition=models.Q(uniqueness__in=Uniqueness.values),
                name="procedure_uniqueness_known",
            ),
            models.CheckConstraint(
                condition=models.Q(reception_starts_at__isnull=True)
                | models.Q(reception_ends_at__isnull=True)
                | models.Q(reception_ends_at__gt=models.F("reception_starts_at")),
                name="procedure_reception_period_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(signoff_steps__lte=3), name="procedure_signoff_steps_range"
            ),
        )
        indexes = (models.Index(fields=("organisation", "status")),)

    def __str__(self) -> str:
        return self.name


class TesterKind(models.TextChoices):
    STAFF = "staff", "職員"
    RESIDENT = "resident", "招待した住民"


class ProcedureTester(models.Model):
    """運用テストの試験者: a staff member of the organisation named by an admin, or a resident
    invited by e-mail (who applies with their own resident account).

    A resident tester is matched by ``user`` once they accept the invitation while logged in,
    or by ``email`` when their account's verified address is that address. Only the hash of
    the invitation token is kept. The rows go when the procedure is published (the test ends).
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="testers")
    kind = models.CharField("種別", max_length=16, choices=TesterKind.choices)
    staff = models.ForeignKey(
        "identity.Staff", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    #: The invited address, normalised (NFKC, trimmed, lower case); empty for staff.
    email = models.EmailField("メールアドレス", max_length=254, blank=True)
    user = models.ForeignKey(
        "identity.User", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    token_hash = models.CharField(max_length=64, blank=True)
    invited_at = models.DateTimeField("追加・招待日時")
    accepted_at = models.DateTimeField("招待の承諾日時", null=True, blank=True)
    added_by = models.ForeignKey(
        "identity.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "運用テストの試験者"
        verbose_name_plural = "運用テストの試験者"
        ordering = ("procedure_id", "invited_at", "pk")
        constraints = (
            models.UniqueConstraint(
                fields=("procedure", "staff"),
                condition=models.Q(staff__isnull=False),
                name="procedure_tester_staff_once",
            ),
            models.UniqueConstraint(
                fields=("procedure", "email"),
                condition=models.Q(kind="resident"),
                name="procedure_tester_email_once",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="staff", staff__isnull=False, email="")
                    | models.Q(kind="resident", staff__isnull=True) & ~models.Q(email="")
                ),
                name="procedure_tester_kind_consistent",
            ),
        )

    def __str__(self) -> str:
        return self.email or f"staff:{self.staff_id}"


class ProcedureDraft(models.Model):
    """様式の下書き (form builder): an organisation's form being built in the console.

    ``definition`` is the same data the engine checks (``forms.schema.check_definition``); it
    may be incomplete while it is edited. ``revision`` grows by one with every saved change:
    a save names the revision it started from and is refused when another editor saved first
    (optimistic concurrency). ``previous`` keeps the state before the last change (one-step
    undo). Publishing makes (or gives a new form version to) the own procedure ``slug``
    through the one write path of own procedures; the draft stays for the next version.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    slug = models.SlugField("手続の識別子", max_length=64)
    definition = models.JSONField("様式の定義")
    previous = models.JSONField("直前の定義", null=True, blank=True)
    revision = models.PositiveIntegerField("版数", default=1)
    created_at = models.DateTimeField("作成日時")
    created_by = models.ForeignKey(
        "identity.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField("保存日時")
    updated_by = models.ForeignKey(
        "identity.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    procedure = models.ForeignKey(
        Procedure, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField("最後の公開日時", null=True, blank=True)
    published_revision = models.PositiveIntegerField("公開した版数", null=True, blank=True)

    class Meta:
        verbose_name = "様式の下書き"
        verbose_name_plural = "様式の下書き"
        ordering = ("-updated_at", "-pk")
        constraints = (
            models.UniqueConstraint(
                fields=("organisation", "slug"), name="procedure_draft_slug_once"
            ),
            models.CheckConstraint(
                condition=models.Q(revision__gte=1), name="procedure_draft_revision_positive"
            ),
        )

    def __str__(self) -> str:
        title = self.definition.get("title") if isinstance(self.definition, dict) else ""
        return str(title or self.slug)

    @property
    def title(self) -> str:
        return str(self)
