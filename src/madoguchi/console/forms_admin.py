"""Forms of the organisation admin's pages (職員の管理, 監査記録), with Japanese messages."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django import forms

from madoguchi.audit.selectors import AuditCursor, AuditFilters
from madoguchi.core.time import TOKYO
from madoguchi.identity.constants import StaffRole

ROLE_ERRORS = {
    "required": "役割を選んでください。",
    "invalid_choice": "役割は「団体管理者」「審査担当」「閲覧のみ」から選んでください。",
}


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="メールアドレス",
        max_length=254,
        error_messages={
            "required": "メールアドレスを入力してください。",
            "invalid": "メールアドレスの形式が正しくありません。例: taro.yamada@city.example.lg.jp",
            "max_length": "メールアドレスは254文字以内で入力してください。",
        },
    )
    display_name = forms.CharField(
        label="氏名",
        max_length=128,
        error_messages={
            "required": "氏名を入力してください。",
            "max_length": "氏名は128文字以内で入力してください。",
        },
    )
    department = forms.CharField(
        label="所属（任意）",
        max_length=128,
        required=False,
        error_messages={"max_length": "所属は128文字以内で入力してください。"},
    )
    role = forms.ChoiceField(label="役割", choices=StaffRole.choices, error_messages=ROLE_ERRORS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.error_messages.setdefault(
                "null_characters_not_allowed", "使えない文字が含まれています。"
            )
        self.fields["email"].widget.attrs["autocomplete"] = "off"


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="役割", choices=StaffRole.choices, error_messages=ROLE_ERRORS)


class ActiveForm(forms.Form):
    active = forms.ChoiceField(
        choices=(("1", "有効"), ("0", "利用停止")),
        error_messages={
            "required": "有効にするか利用停止にするかを選んでください。",
            "invalid_choice": "有効にするか利用停止にするかを選んでください。",
        },
    )


class ReviewersForm(forms.Form):
    reviewers = forms.TypedMultipleChoiceField(
        label="審査担当",
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": "選べない職員が含まれています。一覧から選び直してください。"
        },
    )

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["reviewers"]
        assert isinstance(field, forms.TypedMultipleChoiceField)
        field.choices = choices


DATE_ERRORS = {"invalid": "日付は 2026-04-01 の形で入力してください。"}


class AuditSearchForm(forms.Form):
    action = forms.CharField(
        label="操作（前方一致。例: staff.login）",
        max_length=64,
        required=False,
        error_messages={"max_length": "操作は64文字以内で入力してください。"},
    )
    actor = forms.CharField(
        label="操作者（メールアドレスの一部）",
        max_length=200,
        required=False,
        error_messages={"max_length": "操作者は200文字以内で入力してください。"},
    )
    target_type = forms.CharField(
        label="対象の種類（例: application, staff, procedure）",
        max_length=64,
        required=False,
        error_messages={"max_length": "対象の種類は64文字以内で入力してください。"},
    )
    target_id = forms.CharField(
        label="対象の番号",
        max_length=64,
        required=False,
        error_messages={"max_length": "対象の番号は64文字以内で入力してください。"},
    )
    since = forms.DateField(label="期間の開始日", required=False, error_messages=DATE_ERRORS)
    until = forms.DateField(label="期間の終了日", required=False, error_messages=DATE_ERRORS)
    after = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("since", "until"):
            self.fields[name].widget = forms.DateInput(attrs={"type": "date"})
        for field in self.fields.values():
            field.error_messages["null_characters_not_allowed"] = "使えない文字が含まれています。"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "終了日は開始日と同じか、それより後の日付にしてください。")
        after = data.get("after") or ""
        if after and parse_cursor(after) is None:
            # A tampered page link: start from the first page instead of failing.
            data["after"] = ""
        return data

    def filters(self) -> AuditFilters:
        data = self.cleaned_data
        return AuditFilters(
            action=data.get("action") or "",
            actor=data.get("actor") or "",
            target_type=data.get("target_type") or "",
            target_id=data.get("target_id") or "",
            since=_day_start(data.get("since")),
            until=_day_start(data["until"] + timedelta(days=1)) if data.get("until") else None,
        )


def _day_start(day: date | None) -> datetime | None:
    # Days are Japan days: 4月1日 starts at 00:00 in Tokyo.
    return None if day is None else datetime.combine(day, time.min, tzinfo=TOKYO)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_cursor(cursor: AuditCursor) -> str:
    # Whole microseconds (no float): the next page starts exactly after the last event shown.
    micros = (cursor.occurred_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{cursor.event_id}"


def parse_cursor(text: str) -> AuditCursor | None:
    micros, _, event_id = text.partition(".")
    if not (micros.isascii() and micros.isdigit() and event_id.isascii() and event_id.isdigit()):
        return None
    if len(micros) > 17 or len(event_id) > 18:
        return None
    try:
        instant = _EPOCH + timedelta(microseconds=int(micros))
    except OverflowError:
        return None
    return AuditCursor(occurred_at=instant, event_id=int(event_id))


class CrlUploadForm(forms.Form):
    """A J-LIS CRL file (DER or PEM); its content is checked by ``jpki_crl_import``."""

    MAX_BYTES = 64 * 1024 * 1024

    crl_file = forms.FileField(
        label="失効リスト（CRL）のファイル",
        help_text="J-LIS から受け取った署名用電子証明書の失効リスト（DER または PEM 形式）。",
        error_messages={
            "required": "失効リストのファイルを選んでください。",
            "empty": "ファイルが空です。",
            "invalid": "ファイルを選び直してください。",
        },
    )

    def clean_crl_file(self) -> bytes:
        upload = self.cleaned_data["crl_file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError("ファイルが大きすぎます（64 MB まで）。")
        return bytes(upload.read())


class RevocationForm(forms.Form):
    revocation = forms.ChoiceField(
        label="失効確認の方法",
        widget=forms.RadioSelect,
        error_messages={
            "required": "失効確認の方法を選んでください。",
            "invalid_choice": "失効確認の方法を一覧から選んでください。",
        },
    )

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["revocation"].choices = choices  # type: ignore[attr-defined]


class ContactForm(forms.Form):
    """団体の連絡先・規約: parsed here, checked again (and stored) by the catalog service."""

    desk_name = forms.CharField(
        label="窓口名",
        required=False,
        max_length=100,
        help_text="例: 鎌倉市役所 市民課。住民のページと手続のページに表示します。",
    )
    phone = forms.CharField(
        label="電話番号", required=False, max_length=20, help_text="例: 0467-23-3000"
    )
    email = forms.CharField(
        label="メールアドレス",
        required=False,
        max_length=254,
        help_text="問い合わせを受けるアドレス",
    )
    address = forms.CharField(label="所在地", required=False, max_length=200)
    hours = forms.CharField(
        label="受付時間", required=False, max_length=200, help_text="例: 平日 8時30分〜17時15分"
    )
    terms = forms.CharField(
        label="利用規約",
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="空欄にすると、利用規約の項目を表示しません。",
    )
    privacy = forms.CharField(
        label="個人情報の取扱い（プライバシーポリシー）",
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="空欄にすると、個人情報の取扱いの項目を表示しません。",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            label = field.label
            field.error_messages["max_length"] = (
                f"{label}は%(limit_value)d文字以内で入力してください。"
            )
            field.error_messages["null_characters_not_allowed"] = (
                f"{label}に使えない文字が含まれています。"
            )
