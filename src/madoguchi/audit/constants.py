"""Audit actions: one name for each act, held as a database check constraint.

An action is ``<what>.<past tense>`` (``application.viewed``); the console's audit search matches
a prefix (``staff.`` finds every staff event). A new act adds a member here and a migration (the
constraint is built from :class:`AuditAction`), so a misspelt action fails at once instead of
hiding from a search.
"""

from __future__ import annotations

from django.db import models


class AuditAction(models.TextChoices):
    # Applications (申請)
    APPLICATION_SUBMITTED = "application.submitted", "申請の到達"
    SIGNATURE_REFUSED = "signature.refused", "電子署名の不受理"
    APPLICATION_LISTED = "application.list", "申請の一覧の閲覧"
    APPLICATION_VIEWED = "application.viewed", "申請の閲覧"
    APPLICATION_TRANSITION = "application.transition", "申請の状態の変更"
    APPLICATION_ASSIGNED = "application.assigned", "担当者の設定"
    APPLICATION_NOTE = "application.note", "内部メモの追加"
    APPLICATION_REVEAL = "application.reveal", "個人番号の表示"
    APPLICATION_DOCUMENT_ISSUED = "application.document_issued", "決定通知書の交付"
    APPLICATION_EXPORT = "application.export", "申請の書き出し"
    APPLICATION_PURGED = "application.purged", "保存期間満了による削除"
    COUNTER_HANDOFF_ISSUED = "counter_handoff.issued", "窓口への引き継ぎコードの発行"
    COUNTER_HANDOFF_OPENED = "counter_handoff.opened", "窓口での下書きの呼び出し"
    COUNTER_HANDOFF_REFUSED = "counter_handoff.refused", "窓口での下書きの呼び出しの拒否"
    COUNTER_HANDOFF_USED = "counter_handoff.used", "窓口での下書きからの受付"
    APPLICATION_DUPLICATE_REFUSED = "application.duplicate_refused", "重複申請の拒否"
    APPLICATION_DUPLICATE_RESOLVED = "application.duplicate_resolved", "重複の可能性の判断"
    ATTACHMENT_VIEWED = "attachment.viewed", "添付ファイルの表示"
    ATTACHMENT_DOWNLOADED = "attachment.downloaded", "添付ファイルのダウンロード"
    DECISION_PROPOSED = "decision.proposed", "決定の起案"
    DECISION_SIGNED_OFF = "decision.signed_off", "決定の決裁"
    DECISION_RETURNED = "decision.returned", "決定の差戻し"
    DECISION_CANCELLED = "decision.cancelled", "決定の起案の取消し"
    # Reservations (施設予約)
    BOOKING_CONFIRMED = "booking.confirmed", "予約の確定"
    BOOKING_CANCELLED = "booking.cancelled", "予約の取消し"
    BOOKING_EXPIRED = "booking.expired", "予約の期限切れ"
    LOTTERY_CREATED = "lottery.created", "抽選の作成"
    LOTTERY_ENTERED = "lottery.entered", "抽選への応募"
    LOTTERY_WITHDRAWN = "lottery.withdrawn", "抽選の応募の取下げ"
    LOTTERY_DRAWN = "lottery.drawn", "抽選の実施"
    LOTTERY_RELEASED = "lottery.released", "抽選の残り枠の解放"
    # Decision templates (文例) and procedures
    DECISION_TEMPLATE_SAVED = "decision_template.saved", "文例の保存"
    DECISION_TEMPLATE_DELETED = "decision_template.deleted", "文例の削除"
    PROCEDURE_REVIEWERS_SET = "procedure.reviewers_set", "審査担当の設定"
    PROCEDURE_UNIQUENESS_SET = "procedure.uniqueness_set", "重複申請の扱いの設定"
    PROCEDURE_SIGNOFF_SET = "procedure.signoff_set", "決裁の段階の設定"
    PROCEDURE_CLASSIFIED = "procedure.classified", "国の手続分類の設定"
    PROCEDURE_STATUS_SET = "procedure.status_set", "手続の公開・受付終了・準備中への変更"
    # 運用テスト (operational test of a procedure before publishing)
    PROCEDURE_TEST_STARTED = "procedure.test_started", "運用テストの開始"
    PROCEDURE_TESTER_ADDED = "procedure.tester_added", "運用テストの試験者（職員）の追加"
    PROCEDURE_TESTER_INVITED = "procedure.tester_invited", "運用テストの試験者（住民）の招待"
    PROCEDURE_TESTER_REMOVED = "procedure.tester_removed", "運用テストの試験者の削除"
    PROCEDURE_TESTER_ACCEPTED = "procedure.tester_accepted", "運用テストの招待の承諾"
    PROCEDURE_TEST_PURGED = "procedure.test_purged", "運用テストの申請の削除（公開時）"
    # Staff (職員)
    STAFF_INVITED = "staff.invited", "職員の招待"
    STAFF_INVITATION_ACCEPTED = "staff.invitation_accepted", "招待の受諾"
    STAFF_ROLE_CHANGED = "staff.role_changed", "職員の権限の変更"
    STAFF_ENABLED = "staff.enabled", "職員の有効化"
    STAFF_DISABLED = "staff.disabled", "職員の無効化"
    STAFF_TOTP_RESET = "staff.totp_reset", "二要素認証のリセット"
    STAFF_SIGNOFF_SET = "staff.signoff_set", "決裁権限の変更"
    STAFF_NOTICE_MODE_SET = "staff.notice_mode_set", "お知らせメールの受け取り方の変更"
    STAFF_LOGIN = "staff.login", "職員のログイン"
    STAFF_LOGIN_FIRST_FACTOR = "staff.login_first_factor", "職員のログイン（パスワードのみ）"
    STAFF_LOGIN_FAILED = "staff.login_failed", "職員のログイン失敗"
    # 公的個人認証（マイナンバーカードの電子署名）
    JPKI_CRL_IMPORTED = "jpki.crl_imported", "失効リスト（CRL）の取込"
    JPKI_CRL_REFUSED = "jpki.crl_refused", "失効リスト（CRL）の取込の拒否"
    JPKI_REVOCATION_SET = "jpki.revocation_set", "失効確認の方法の変更"
    # 団体の連絡先・規約
    ORGANISATION_CONTACT_UPDATED = "organisation.contact_updated", "連絡先・規約の変更"
    # 統計（オンライン利用率）
    STATS_COUNTS_IMPORTED = "stats.counts_imported", "手続件数の取込"
    # Residents (住民)
    RESIDENT_SIGNED_UP = "resident.signed_up", "住民の利用登録"
    RESIDENT_EMAIL_VERIFIED = "resident.email_verified", "メールアドレスの確認"
    RESIDENT_PASSWORD_RESET = "resident.password_reset", "パスワードの再設定"
    RESIDENT_PROFILE_UPDATED = "resident.profile_updated", "登録情報の変更"
    RESIDENT_DELETED = "resident.deleted", "住民の退会"
    RESIDENT_TOKEN_CREATED = "resident.token_created", "住民のAPIトークンの発行"
    RESIDENT_TOKEN_REVOKED = "resident.token_revoked", "住民のAPIトークンの失効"
    RESIDENT_LOGIN = "resident.login", "住民のログイン"
    RESIDENT_LOGIN_FAILED = "resident.login_failed", "住民のログイン失敗"
    RESIDENT_PASSKEY_ADDED = "resident.passkey_added", "パスキーの登録"
    RESIDENT_PASSKEY_REFUSED = "resident.passkey_refused", "パスキーの登録の拒否"
    RESIDENT_PASSKEY_RENAMED = "resident.passkey_renamed", "パスキーの名前の変更"
    RESIDENT_PASSKEY_DELETED = "resident.passkey_deleted", "パスキーの削除"
    RESIDENT_PROOFING_CODE_ISSUED = "resident.proofing_code_issued", "本人確認コードの発行"
    # Identity proofing (身元確認)
    PROOFING_LOOKED_UP = "proofing.looked_up", "本人確認コードによる利用者の表示"
    PROOFING_LOOKUP_FAILED = "proofing.lookup_failed", "本人確認コードの照会の失敗"
    PROOFING_RECORDED = "proofing.recorded", "身元確認の記録"
    PROOFING_REVOKED = "proofing.revoked", "身元確認の取消し"
    # National login, gBizID and signing through the national app (OpenID Connect)
    IDENTITY_OIDC_LOGIN = "identity.oidc_login", "マイナンバーカード・gBizIDでのログイン"
    IDENTITY_OIDC_VERIFIED = "identity.oidc_verified", "マイナンバーカード・gBizIDでの本人確認"
    IDENTITY_LINKED = "identity.linked", "マイナンバーカード・gBizIDとアカウントの連携"
    IDENTITY_UNLINKED = "identity.unlinked", "マイナンバーカード・gBizIDとアカウントの連携の解除"
    IDENTITY_OIDC_REFUSED = "identity.oidc_refused", "外部IDでのログイン・署名の拒否"
    IDENTITY_OIDC_SIGNED = "identity.oidc_signed", "デジタル認証アプリでの電子署名"
    # Integrations
    ACCESS_TOKEN_CREATED = "access_token.created", "APIトークンの発行"
    ACCESS_TOKEN_REVOKED = "access_token.revoked", "APIトークンの失効"
    ACCESS_TOKEN_ENDED = "access_token.ended", "APIトークンの終了（発行者の権限の変更）"
    WEBHOOK_CREATED = "webhook.created", "Webhook の登録"
    WEBHOOK_UPDATED = "webhook.updated", "Webhook の変更"
    WEBHOOK_DISABLED = "webhook.disabled", "Webhook の停止"
    # Platform operators' admin site (/operator-admin/)
    ADMIN_ADDED = "admin.added", "運用者による追加"
    ADMIN_CHANGED = "admin.changed", "運用者による変更"
    ADMIN_DELETED = "admin.deleted", "運用者による削除"
    # 統計（オンライン利用率）
    PUBLISHED_FIGURE_SET = "stats.published_figure_set", "公表値の登録・置換"
    # Benchmarks (make bench only)
    BENCH_INSERT_ONLY = "bench.insert_only", "ベンチマーク"
