"""The register of documents an organisation issues (発行文書の台帳).

Every document the platform issues in an organisation's name — a decision notice (決定通知書),
a receipt notice (到達通知), a certificate (証明書) — is one :class:`Document`: its number in
the organisation's numbering scheme, a verification code anyone can look up at ``/verify/``,
the sealed PDF, its SHA-256 and its status (有効 / 取消し / 訂正により差替え).

Each organisation keeps its own append-only, hash-chained :class:`RegisterEntry` list: entry
*n* commits to entry *n−1*, so a row changed in the database breaks the chain from there on,
and the daily :class:`RegisterHead` (published on a page and through the API) lets anyone
holding an old head prove that nothing before it was rewritten.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from madoguchi.documents.constants import DocumentKind, DocumentStatus
from madoguchi.tenants.models import Organisation


class DocumentSettings(models.Model):
    """An organisation's settings for the documents it issues: the issuer named on them
    (発行者: 職名と氏名), the default number prefix and the 教示 texts. Organisation admins edit
    them; when there is no row the defaults of :mod:`madoguchi.documents.notice_text` apply."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.PROTECT, related_name="document_settings"
    )
    #: 職名, e.g. 鎌倉市長.
    issuer_title = models.CharField("発行者の職名", max_length=64, blank=True)
    #: 氏名, e.g. 松尾 崇.
    issuer_name = models.CharField("発行者の氏名", max_length=64, blank=True)
    #: The default prefix of document numbers (e.g. 鎌), before 第…号.
    number_prefix = models.CharField("文書番号の記号", max_length=16, blank=True)
    #: 教示 on an approval (often none is required; e.g. on conditions attached to it).
    appeal_approve = models.TextField("承認の教示", blank=True)
    #: 教示 on a refusal: 審査請求 and 取消訴訟, their periods and authorities.
    appeal_reject = models.TextField("却下の教示", blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "文書の設定"
        verbose_name_plural = "文書の設定"

    def __str__(self) -> str:
        return f"{self.organisation_id} 文書の設定"


class ProcedureNoticeSettings(models.Model):
    """One procedure's own notice settings (手続ごとの設定), before the organisation's: its
    number prefix and, with ``own_series``, its own fiscal-year counter (``procedure:<id>``),
    its issuer and its 教示. ``procedure_key`` is ``procedure:<id>`` (documents may not import
    the catalog). An empty field falls back to the organisation's :class:`DocumentSettings`."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    procedure_key = models.CharField(max_length=64)
    number_prefix = models.CharField("文書番号の記号", max_length=16, blank=True)
    #: Numbers of its own (鎌こ第1号, 鎌こ第2号 …) rather than the organisation's series.
    own_series = models.BooleanField("この手続だけの番号を使う", default=False)
    issuer_title = models.CharField("発行者の職名", max_length=64, blank=True)
    issuer_name = models.CharField("発行者の氏名", max_length=64, blank=True)
    appeal_approve = models.TextField("承認の教示", blank=True)
    appeal_reject = models.TextField("却下の教示", blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "手続ごとの文書の設定"
        verbose_name_plural = "手続ごとの文書の設定"
        constraints = (
            models.UniqueConstraint(
                fields=("organisation", "procedure_key"), name="procedure_notice_settings_once"
            ),
        )

    def __str__(self) -> str:
        return f"{self.organisation_id} {self.procedure_key}"


class NumberSeries(models.Model):
    """One counter of document numbers (文書番号) for one fiscal year: ``key`` names the series
    (``decision`` for the organisation's default, ``procedure:<id>`` for a procedure with its
    own prefix, ``certificate:<id>`` …). A number is taken inside the issuing transaction, so
    a rolled-back issue takes none back: numbers are never reused and a gap exists only where
    staff void a number, which is recorded as a :class:`NumberGap`."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=64)
    #: 年度 (April to March), e.g. 2026 for 令和8年度.
    fiscal_year = models.PositiveIntegerField()
    prefix = models.CharField(max_length=16)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "文書番号の系列"
        verbose_name_plural = "文書番号の系列"
        constraints = (
            models.UniqueConstraint(
                fields=("organisation", "key", "fiscal_year"), name="number_series_once"
            ),
            # Two series of one fiscal year never print the same prefix, so no number
            # (鎌第1号) is printed twice in a year. A series keeps the prefix it started the
            # year with; the settings refuse a prefix that another series uses this year or
            # that another setting would start next year with
            # (:mod:`madoguchi.documents.notice_admin`).
            models.UniqueConstraint(
                fields=("organisation", "fiscal_year", "prefix"), name="number_series_prefix_once"
            ),
        )

    def __str__(self) -> str:
        return f"{self.prefix} {self.fiscal_year} ({self.last_number})"


class NumberGap(models.Model):
    """A number of a series that no document will carry (欠番), and why."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    series = models.ForeignKey(NumberSeries, on_delete=models.PROTECT, related_name="gaps")
    number = models.PositiveIntegerField()
    reason = models.CharField(max_length=400)
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "欠番"
        verbose_name_plural = "欠番"
        constraints = (
            models.UniqueConstraint(fields=("series", "number"), name="number_gap_once"),
        )

    def __str__(self) -> str:
        return f"{self.series_id} 第{self.number}号（欠番）"


class Document(models.Model):
    """One issued document (発行文書) as it was issued: sealed PDF, number, verification code.

    ``sha256`` is the digest of the PDF as issued and never changes. Archival re-timestamping
    (PAdES B-LTA) appends an incremental update, so ``pdf`` may grow later; the issued bytes
    stay its prefix (``issued_length``), which is how an uploaded copy of either is matched.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=32, choices=DocumentKind.choices)
    title = models.CharField(max_length=200)
    #: The document's own name as printed on it (e.g. 罹災証明書, 施設使用許可書) — what the
    #: verify page and API call it. Unlike ``title`` it never carries a receipt number.
    name = models.CharField("文書の名称", max_length=64, blank=True, default="")
    #: Who asked for it inside the platform, e.g. ``application:12:decision`` (at most one
    #: document per key and organisation: a retried issue returns the same one).
    source_key = models.CharField(max_length=100)
    #: 文書番号 as printed, e.g. 鎌こ第123号; empty for a document without one (a receipt
    #: notice carries the receipt number instead).
    number = models.CharField(max_length=64, blank=True)
    series = models.ForeignKey(
        NumberSeries, on_delete=models.PROTECT, null=True, blank=True, related_name="documents"
    )
    serial = models.PositiveIntegerField(null=True, blank=True)
    #: 照合番号: what /verify/<code> looks up. Random, unguessable.
    code = models.CharField(max_length=32, unique=True)
    #: The issuer as printed (職名 氏名).
    issuer = models.CharField(max_length=200, blank=True)
    issued_at = models.DateTimeField()
    pdf = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    issued_length = models.PositiveIntegerField()
    #: The signing certificate's subject as people read it; empty when not sealed.
    sealed_by = models.CharField(max_length=300, blank=True)
    timestamped = models.BooleanField(default=False)
    #: When the newest timestamp in the PDF needs an archival timestamp over it (B-LTA).
    archive_due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.VALID
    )
    status_reason = models.CharField(max_length=400, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    #: When the PDF was deleted with the application at the end of its retention period; the
    #: register entry, number, code and digest stay (verification still answers).
    purged_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="supersedes"
    )

    class Meta:
        verbose_name = "発行文書"
        verbose_name_plural = "発行文書"
        constraints = (
            models.UniqueConstraint(
                fields=("organisation", "source_key"), name="document_source_once"
            ),
            models.UniqueConstraint(
                fields=("series", "serial"),
                condition=models.Q(series__isnull=False),
                name="document_number_once",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=DocumentKind.values), name="document_kind_known"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=DocumentStatus.values),
                name="document_status_known",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=DocumentStatus.SUPERSEDED)
                | models.Q(superseded_by__isnull=False),
                name="document_superseded_names_successor",
            ),
        )
        indexes = (
            models.Index(fields=("archive_due_at",), name="document_archive_due"),
            # An uploaded PDF is matched to the register by the digest of its revisions.
            models.Index(fields=("sha256",), name="document_sha256"),
        )

    def __str__(self) -> str:
        return f"{self.title} {self.number}".strip()

    @property
    def verify_url(self) -> str:
        """The public address of this document's verification page (on the portal's host,
        also when the console runs on another)."""
        from madoguchi.documents.codes import verify_url

        return verify_url(self.code)


class Register(models.Model):
    """The head of one organisation's register: how many entries and the last entry's hash.
    Locked by every append, so entries are numbered without gaps."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.PROTECT, related_name="document_register"
    )
    length = models.PositiveIntegerField(default=0)
    head = models.CharField(max_length=64)

    class Meta:
        verbose_name = "発行文書の台帳"
        verbose_name_plural = "発行文書の台帳"

    def __str__(self) -> str:
        return f"{self.organisation_id}: {self.length}"


class RegisterEntry(models.Model):
    """Entry ``seq`` (1, 2, …) of an organisation's register: the document's kind, number,
    code and digest as issued, the previous entry's hash, and this entry's hash over all of it
    (:func:`madoguchi.documents.register.entry_hash`)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveIntegerField()
    document = models.OneToOneField(
        Document, on_delete=models.PROTECT, related_name="register_entry"
    )
    #: The document's kind and number as issued (both enter the hash: /verify/ shows them).
    kind = models.CharField(max_length=32, default="")
    number = models.CharField(max_length=64, blank=True, default="")
    code = models.CharField(max_length=32)
    sha256 = models.CharField(max_length=64)
    issued_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = "台帳の記載"
        verbose_name_plural = "台帳の記載"
        constraints = (
            models.UniqueConstraint(fields=("organisation", "seq"), name="register_seq_once"),
        )

    def __str__(self) -> str:
        return f"{self.organisation_id} #{self.seq}"


class RegisterHead(models.Model):
    """The register's head as published for one day (日次公開): its length and hash."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    length = models.PositiveIntegerField()
    head = models.CharField(max_length=64)
    published_at = models.DateTimeField()

    class Meta:
        verbose_name = "台帳の公開値"
        verbose_name_plural = "台帳の公開値"
        constraints = (
            models.UniqueConstraint(fields=("organisation", "day"), name="register_head_daily"),
        )

    def __str__(self) -> str:
        return f"{self.organisation_id} {self.day}: {self.length}"
