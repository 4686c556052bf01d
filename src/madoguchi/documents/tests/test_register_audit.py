"""An operator runs ``madoguchi documents audit``: an intact register passes, and every way of
changing it in the database — an edited entry, an edited document digest, a deleted entry,
reordered entries, a moved head — is found and named in Japanese."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from madoguchi.documents.audit import register_audit
from madoguchi.documents.models import Document, Register, RegisterEntry, RegisterHead
from madoguchi.documents.publication import register_heads_publish
from madoguchi.documents.testing import document_issue_make, document_record_make

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def issued(organisation, other_organisation):
    """Four documents of 横浜市 over two days with a head published each day, and one of
    鎌倉市."""
    docs = [
        document_issue_make(
            organisation=organisation, source_key=f"test:{i}", now=T0 + timedelta(hours=i * 10)
        )
        for i in range(4)
    ]
    register_heads_publish(now=T0 + timedelta(hours=12))
    register_heads_publish(now=T0 + timedelta(days=2))
    document_issue_make(organisation=other_organisation, source_key="test:k", now=T0)
    return docs


def run(*args):
    out = StringIO()
    try:
        call_command("documents", "audit", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def problems_of(organisation):
    return [str(p) for p in register_audit(organisation=organisation).problems]


def test_an_intact_register_passes_and_the_command_says_what_it_checked(issued):
    code, out = run()

    assert code == 0, out
    assert "結果: 問題はありません。" in out
    assert "横浜市（141003）: 記載 4 件のハッシュ" in out
    assert "鎌倉市（142042）" in out
    assert "公開した日次の先頭 2 件" in out


def test_an_edited_entry_is_found(issued, organisation):
    entry = RegisterEntry.objects.get(organisation=organisation, seq=2)
    RegisterEntry.objects.filter(pk=entry.pk).update(sha256="f" * 64)

    found = problems_of(organisation)

    assert any("記載 2: 記載のハッシュが内容と一致しません" in p for p in found), found
    assert any("記載 2: 文書 " in p and "PDF の SHA-256" in p for p in found), found
    code, out = run("--organisation", "141003")
    assert code == 1
    assert "問題  横浜市（141003） 記載 2" in out


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_link_and_the_published_head(
    issued, organisation
):
    """Someone who recomputes the edited entry's own hash still breaks the next link and the
    head published over it."""
    from madoguchi.documents.register import entry_hash

    entry = RegisterEntry.objects.get(organisation=organisation, seq=1)
    forged = entry_hash(
        lg_code="141003",
        seq=1,
        kind=entry.kind,
        number=entry.number,
        code=entry.code,
        sha256="e" * 64,
        issued_at=entry.issued_at,
        prev_hash=entry.prev_hash,
    )
    RegisterEntry.objects.filter(pk=entry.pk).update(sha256="e" * 64, entry_hash=forged)

    found = problems_of(organisation)

    assert any("記載 2: 前の記載のハッシュが一致しません" in p for p in found), found
    assert any("に公開した先頭" in p for p in found), found


def test_an_edited_document_digest_is_found(issued, organisation):
    Document.objects.filter(pk=issued[2].pk).update(sha256="a" * 64)

    found = problems_of(organisation)

    assert any("記載 3: 文書 横第3号 と記載で" in p for p in found), found
    assert any("PDF が発行時の SHA-256 と一致しません" in p for p in found), found


def test_a_changed_pdf_is_found(issued, organisation):
    document = Document.objects.get(pk=issued[0].pk)
    pdf = bytearray(bytes(document.pdf))
    pdf[20] ^= 1
    Document.objects.filter(pk=document.pk).update(pdf=bytes(pdf))

    found = problems_of(organisation)

    assert found == [
        f"横浜市（141003） 記載 1: 文書 横第1号 の PDF が発行時の SHA-256 と一致しません"
        f"（記録 {document.sha256[:16]}…、PDF {hashlib.sha256(bytes(pdf)).hexdigest()[:16]}…）。"
    ]


def test_a_deleted_entry_is_found(issued, organisation):
    RegisterEntry.objects.filter(organisation=organisation, seq=3).delete()

    found = problems_of(organisation)

    assert any("記載 3: 記載 3 がありません（次は記載 4）" in p for p in found), found
    assert any("文書 横第3号" in p and "記載がありません" in p for p in found), found
    assert any("台帳の件数 4 が記載の数 3" in p for p in found), found


def test_the_last_entry_deleted_with_its_register_rewound_is_still_found(issued, organisation):
    """The careful forger also rewinds the register row: the document without its entry and
    the published head tell."""
    last = RegisterEntry.objects.get(organisation=organisation, seq=4)
    last.delete()
    third = RegisterEntry.objects.get(organisation=organisation, seq=3)
    Register.objects.filter(organisation=organisation).update(length=3, head=third.entry_hash)

    found = problems_of(organisation)

    assert any("文書 横第4号" in p and "記載がありません" in p for p in found), found
    assert any("公開した先頭（4 件）の記載がありません" in p for p in found), found


def test_reordered_entries_are_found(issued, organisation):
    one = RegisterEntry.objects.get(organisation=organisation, seq=2)
    two = RegisterEntry.objects.get(organisation=organisation, seq=3)
    RegisterEntry.objects.filter(pk=one.pk).update(seq=99)
    RegisterEntry.objects.filter(pk=two.pk).update(seq=2)
    RegisterEntry.objects.filter(pk=one.pk).update(seq=3)

    found = problems_of(organisation)

    assert any("記載 2: 記載のハッシュが内容と一致しません" in p for p in found), found
    assert any("記載 3: 記載のハッシュが内容と一致しません" in p for p in found), found
    assert any("前の記載のハッシュが一致しません" in p for p in found), found


def test_a_moved_head_and_register_row_are_found(issued, organisation):
    RegisterHead.objects.filter(organisation=organisation).order_by("day").update(head="b" * 64)
    Register.objects.filter(organisation=organisation).update(head="c" * 64)

    found = problems_of(organisation)

    assert any("に公開した先頭のハッシュ bbbbbbbbbbbbbbbb…" in p for p in found), found
    assert any("台帳の先頭のハッシュ cccccccccccccccc…" in p for p in found), found


def test_other_organisations_are_untouched_by_a_problem_elsewhere(issued, other_organisation):
    RegisterEntry.objects.filter(organisation__lg_code="141003", seq=1).update(code="X")

    assert problems_of(other_organisation) == []
    code, out = run("--organisation", "142042")
    assert code == 0, out


def test_a_document_without_an_entry_is_found_whatever_its_source_key(issued, organisation):
    """No source key exempts a document: the ones carried over from before the register were
    entered by migration documents.0004 (a faked legacy key hides nothing)."""
    document_record_make(organisation=organisation, source_key="application:5:decision:7", now=T0)

    found = problems_of(organisation)

    assert len(found) == 1, found
    assert "記載がありません" in found[0]


def test_a_document_issued_without_an_entry_is_found(issued, organisation):
    document_record_make(organisation=organisation, source_key="application:5:decision", now=T0)

    found = problems_of(organisation)

    assert len(found) == 1
    assert "記載がありません" in found[0]


def test_an_unknown_organisation_code_is_a_clear_error(issued):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"見つかりません|団体コード"):
        call_command("documents", "audit", "--organisation", "999999", stdout=StringIO())
    with pytest.raises(CommandError, match="団体コード"):
        call_command("documents", "audit", "--organisation", "x<b>", stdout=StringIO())
