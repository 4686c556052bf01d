"""Checking the register against itself and the documents (``madoguchi documents audit``).

:func:`register_audit` reads; it never repairs. For each organisation it recomputes every
entry's hash (:func:`madoguchi.documents.register.entry_hash`) and its link to the entry
before, checks that the entries are numbered 1, 2, … without a gap, that each entry says what
its document says (kind, number, code, SHA-256, issue instant) and the PDF still has that
SHA-256, that every document has an entry (the documents carried over from before the register
were entered by migration ``documents.0004``), that each document's status agrees with the
audit trail's withdrawal and supersession events, that the register's length and head are the
last entry's, and that every published daily head still equals the chain at its length.
Every problem is a Japanese sentence naming the organisation, the entry and what differs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from madoguchi.audit.constants import AuditAction
from madoguchi.audit.models import AuditEvent
from madoguchi.documents.constants import DocumentStatus
from madoguchi.documents.models import Document, Register, RegisterEntry, RegisterHead
from madoguchi.documents.register import GENESIS, entry_hash
from madoguchi.tenants.models import Organisation

#: The status each audited status change leaves a document in (:mod:`madoguchi.documents.status`).
_STATUS_OF_EVENT = {
    AuditAction.DOCUMENT_WITHDRAWN: DocumentStatus.WITHDRAWN,
    AuditAction.DOCUMENT_SUPERSEDED: DocumentStatus.SUPERSEDED,
}


@dataclass(frozen=True)
class Problem:
    """One thing that does not hold, said in Japanese."""

    lg_code: str
    organisation: str
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.organisation}（{self.lg_code}）"
        if self.seq is not None:
            where += f" 記載 {self.seq}"
        return f"{where}: {self.message}"


@dataclass
class AuditReport:
    """What :func:`register_audit` checked and what it found."""

    organisations: int = 0
    entries: int = 0
    documents: int = 0
    heads: int = 0
    checked: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _short(value: str) -> str:
    return value[:16] + "…" if len(value) > 16 else value or "（空）"


def register_audit(*, organisation: Organisation | None = None) -> AuditReport:
    """Check the register of ``organisation`` (every organisation with documents or a
    register when None). Never writes; returns the report (``ok`` when nothing differs)."""
    report = AuditReport()
    if organisation is not None:
        organisations = [organisation]
    else:
        ids = (
            set(Register.objects.values_list("organisation_id", flat=True))
            | set(RegisterEntry.objects.values_list("organisation_id", flat=True).distinct())
            | set(Document.objects.values_list("organisation_id", flat=True).distinct())
        )
        organisations = list(Organisation.objects.filter(pk__in=ids).order_by("lg_code"))
    for org in organisations:
        _audit_one(org, report)
    return report


def _audit_one(org: Organisation, report: AuditReport) -> None:
    def problem(seq: int | None, message: str) -> None:
        report.problems.append(
            Problem(lg_code=org.lg_code, organisation=org.name, seq=seq, message=message)
        )

    report.organisations += 1
    entries = list(RegisterEntry.objects.filter(organisation=org).order_by("seq", "pk"))
    documents = {
        d.pk: d for d in Document.objects.filter(organisation=org).defer("pdf").order_by("pk")
    }
    # Entries of this organisation that point at another organisation's document.
    foreign = {e.pk for e in entries if e.document_id not in documents}
    report.entries += len(entries)
    report.documents += len(documents)
    prev = GENESIS
    hash_of_seq: dict[int, str] = {}
    chain_ok_to = 0  # the longest prefix 1..n whose links and hashes all hold
    broken = False
    for index, entry in enumerate(entries, start=1):
        if entry.seq != index:
            if entry.seq > index:
                problem(
                    index,
                    f"記載 {index} がありません（次は記載 {entry.seq}）。"
                    "記載が削除されたか、番号が書き換えられています。",
                )
            else:
                problem(entry.seq, f"記載 {entry.seq} が重複しています。")
            broken = True
        computed = entry_hash(
            lg_code=org.lg_code,
            seq=entry.seq,
            kind=entry.kind,
            number=entry.number,
            code=entry.code,
            sha256=entry.sha256,
            issued_at=entry.issued_at,
            prev_hash=entry.prev_hash,
        )
        if computed != entry.entry_hash:
            problem(
                entry.seq,
                f"記載のハッシュが内容と一致しません（記録 {_short(entry.entry_hash)}、"
                f"再計算 {_short(computed)}）。記載の内容が書き換えられています。",
            )
            broken = True
        if entry.prev_hash != prev:
            problem(
                entry.seq,
                f"前の記載のハッシュが一致しません（記録 {_short(entry.prev_hash)}、"
                f"前の記載 {_short(prev)}）。記載の削除・挿入・並べ替えがあります。",
            )
            broken = True
        if not broken:
            chain_ok_to = entry.seq
        hash_of_seq.setdefault(entry.seq, entry.entry_hash)
        prev = entry.entry_hash
        if entry.pk in foreign:
            problem(entry.seq, "記載の文書がこの団体の発行文書にありません。")
            continue
        document = documents[entry.document_id]
        differs = []
        if document.kind != entry.kind:
            differs.append(f"種類（文書 {document.kind}、記載 {entry.kind}）")
        if document.number != entry.number:
            differs.append(
                f"文書番号（文書 {document.number or '（なし）'}、記載 {entry.number or '（なし）'}）"
            )
        if document.code != entry.code:
            differs.append("照合番号")
        if document.sha256 != entry.sha256:
            differs.append(
                f"PDF の SHA-256（文書 {_short(document.sha256)}、記載 {_short(entry.sha256)}）"
            )
        if document.issued_at != entry.issued_at:
            differs.append("発行日時")
        if differs:
            problem(
                entry.seq,
                f"文書 {document.number or document.pk} と記載で"
                + "・".join(differs)
                + "が異なります。",
            )
    report.checked.append(
        f"{org.name}（{org.lg_code}）: 記載 {len(entries)} 件のハッシュと前の記載とのつながり"
    )
    # The PDFs as issued still have their digest (purged ones have none to compare).
    entered = {e.document_id for e in entries}
    pdf_checked = 0
    for document_id, length, pdf in (
        Document.objects.filter(organisation=org, purged_at__isnull=True)
        .values_list("pk", "issued_length", "pdf")
        .order_by("pk")
        .iterator(chunk_size=50)
    ):
        data = bytes(pdf or b"")[:length]
        pdf_checked += 1
        digest = hashlib.sha256(data).hexdigest()
        document = documents[document_id]
        if digest != document.sha256:
            seq = next((e.seq for e in entries if e.document_id == document_id), None)
            problem(
                seq,
                f"文書 {document.number or document.pk} の PDF が発行時の SHA-256 と一致しません"
                f"（記録 {_short(document.sha256)}、PDF {_short(digest)}）。",
            )
    missing = [d for d in documents.values() if d.pk not in entered]
    for document in missing:
        problem(
            None,
            f"文書 {document.number or document.pk}（{document.issued_at:%Y-%m-%d}発行）の"
            "記載がありません。記載が削除されています。",
        )
    report.checked.append(
        f"{org.name}（{org.lg_code}）: 発行文書 {len(documents)} 件と記載の照合"
        f"（PDF の SHA-256 の再計算 {pdf_checked} 件）"
    )
    _audit_statuses(org, documents, problem)
    report.checked.append(
        f"{org.name}（{org.lg_code}）: 文書の状態（有効・取消し・差替え）と監査記録の照合"
    )
    register = Register.objects.filter(organisation=org).first()
    last_seq = entries[-1].seq if entries else 0
    last_hash = entries[-1].entry_hash if entries else GENESIS
    if register is None:
        if entries:
            problem(None, "台帳の先頭（件数とハッシュ）の記録がありません。")
    else:
        if register.length != len(entries) or register.length != last_seq:
            problem(
                None,
                f"台帳の件数 {register.length} が記載の数 {len(entries)}"
                f"（最後は記載 {last_seq}）と一致しません。",
            )
        if register.head != last_hash:
            problem(
                None,
                f"台帳の先頭のハッシュ {_short(register.head)} が最後の記載のハッシュ "
                f"{_short(last_hash)} と一致しません。",
            )
    report.checked.append(f"{org.name}（{org.lg_code}）: 台帳の件数と先頭のハッシュ")
    heads = list(RegisterHead.objects.filter(organisation=org).order_by("day"))
    report.heads += len(heads)
    for head in heads:
        at = hash_of_seq.get(head.length)
        if at is None:
            problem(
                head.length,
                f"{head.day:%Y-%m-%d} に公開した先頭（{head.length} 件）の記載がありません。",
            )
        elif at != head.head:
            problem(
                head.length,
                f"{head.day:%Y-%m-%d} に公開した先頭のハッシュ {_short(head.head)} が"
                f"記載 {head.length} のハッシュ {_short(at)} と一致しません。",
            )
        elif head.length > chain_ok_to:
            problem(
                head.length,
                f"{head.day:%Y-%m-%d} に公開した先頭（{head.length} 件）までの記載のつながりが"
                "壊れています（上の問題をご覧ください）。",
            )
    report.checked.append(f"{org.name}（{org.lg_code}）: 公開した日次の先頭 {len(heads)} 件")


def _audit_statuses(
    org: Organisation,
    documents: dict[int, Document],
    problem: Callable[[int | None, str], None],
) -> None:
    """Each document's status against the audit trail: a withdrawn or superseded document
    has the event that made it so (the last one decides), and a valid one has none."""
    recorded: dict[str, DocumentStatus] = {}
    for target_id, action in (
        AuditEvent.objects.filter(
            organisation=org,
            target_type="document",
            action__in=list(_STATUS_OF_EVENT),
        )
        .order_by("occurred_at", "pk")
        .values_list("target_id", "action")
    ):
        recorded[target_id] = _STATUS_OF_EVENT[AuditAction(action)]
    labels = dict(DocumentStatus.choices)
    for document in documents.values():
        expected = recorded.get(str(document.pk), DocumentStatus.VALID)
        if document.status == expected:
            continue
        name = f"文書 {document.number or document.pk}（{document.issued_at:%Y-%m-%d}発行）"
        if expected == DocumentStatus.VALID:
            problem(
                None,
                f"{name}の状態は「{labels.get(document.status, document.status)}」ですが、"
                "監査記録に取消し・差替えの記録がありません。状態が書き換えられています。",
            )
        else:
            problem(
                None,
                f"{name}の状態は「{labels.get(document.status, document.status)}」ですが、"
                f"監査記録では「{labels[expected]}」です。状態が書き換えられています。",
            )
