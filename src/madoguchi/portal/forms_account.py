"""Forms of the resident account pages: parsing what residents type, with Japanese messages."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from madoguchi.forms.japanese import (
    ParseError,
    clean_text,
    katakana_reading,
    parse_date,
    parse_phone,
    parse_postal_code,
)
from madoguchi.identity.models import User

EMAIL_ERRORS = {
    "required": _("メールアドレスを入力してください。"),
    "invalid": _("メールアドレスを正しく入力してください（例: taro@example.jp）。"),
    "max_length": _("メールアドレスは254文字以内で入力してください。"),
}
PASSWORD_MAX = 128


def _email_field(label: Any = None) -> forms.EmailField:
    return forms.EmailField(
        label=label or _("メールアドレス"),
        max_length=254,
        error_messages=EMAIL_ERRORS,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class SignupForm(forms.Form):
    email = _email_field()
    password = forms.CharField(
        label=_("パスワード"),
        strip=False,
        max_length=PASSWORD_MAX,
        help_text=_("12文字以上で、推測されにくいものにしてください。数字だけのものは使えません。"),
        error_messages={
            "required": _("パスワードを入力してください。"),
            "max_length": _("パスワードは128文字以内にしてください。"),
        },
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label=_("パスワード（確認のためもう一度）"),
        strip=False,
        max_length=PASSWORD_MAX,
        error_messages={
            "required": _("確認のため、パスワードをもう一度入力してください。"),
            "max_length": _("パスワードは128文字以内にしてください。"),
        },
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_password_again(self) -> str:
        again: str = self.cleaned_data["password_again"]
        if "password" in self.cleaned_data and again != self.cleaned_data["password"]:
            raise forms.ValidationError(
                _("2つのパスワードが一致しません。同じパスワードを入力してください。")
            )
        return again


class EmailForm(forms.Form):
    email = _email_field()


class ResidentLoginForm(forms.Form):
    """What a resident types to log in. Parsing only: whether it lets them in is
    ``identity.login.resident_login`` (limits, records, one answer for every failure).

    Shaped like Django's ``AuthenticationForm`` (``username``, ``password``, ``request``), so
    Django's ``LoginView`` drives it; ``user`` is set by the view after a successful login.
    """

    username = forms.CharField(
        label=_("メールアドレス"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "maxlength": 254}),
        error_messages={
            "required": _("メールアドレスを入力してください。"),
            "max_length": _("メールアドレスは254文字以内で入力してください。"),
            "null_characters_not_allowed": _("メールアドレスに使えない文字が含まれています。"),
        },
    )
    password = forms.CharField(
        label=_("パスワード"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": _("パスワードを入力してください。")},
    )

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.user: User | None = None

    def get_user(self) -> User | None:
        return self.user


def _parsed(parse: Any, raw: str) -> Any:
    try:
        return parse(raw)
    except ParseError as error:
        raise forms.ValidationError(str(error)) from None


def _text(label: str, max_length: int, **kwargs: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=max_length,
        error_messages={
            "max_length": f"{label}は{max_length}文字以内で入力してください。",
            "null_characters_not_allowed": "使用できない文字（制御文字）が含まれています。",
        },
        **kwargs,
    )


class ProfileForm(forms.Form):
    """登録情報. Every field may be left empty; what is filled in must be readable."""

    family_name = _text("姓", 64, widget=forms.TextInput(attrs={"autocomplete": "family-name"}))
    given_name = _text("名", 64, widget=forms.TextInput(attrs={"autocomplete": "given-name"}))
    family_name_kana = _text("セイ（フリガナ）", 64, help_text="カタカナで入力してください。")
    given_name_kana = _text("メイ（フリガナ）", 64, help_text="カタカナで入力してください。")
    postal_code = _text(
        "郵便番号",
        16,  # 〒２３１－００２３ as typed; 7 digits are kept
        help_text="7桁の数字（例: 231-0023）",
        widget=forms.TextInput(attrs={"autocomplete": "postal-code", "inputmode": "numeric"}),
    )
    address = _text(
        "住所",
        256,
        help_text="都道府県から、番地・建物名・部屋番号まで",
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    birth_date = _text(
        "生年月日",
        20,
        help_text="例: 1980-04-01、昭和55年4月1日、S55.4.1",
        widget=forms.TextInput(attrs={"autocomplete": "bday"}),
    )
    phone = _text(
        "電話番号",
        20,
        help_text="例: 045-123-4567、090-1234-5678",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "type": "tel"}),
    )

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean_family_name(self) -> str:
        return str(_parsed(clean_text, self.cleaned_data["family_name"]))

    def clean_given_name(self) -> str:
        return str(_parsed(clean_text, self.cleaned_data["given_name"]))

    def clean_family_name_kana(self) -> str:
        raw = self.cleaned_data["family_name_kana"]
        return str(_parsed(lambda text: katakana_reading(text, label="セイ"), raw))

    def clean_given_name_kana(self) -> str:
        raw = self.cleaned_data["given_name_kana"]
        return str(_parsed(lambda text: katakana_reading(text, label="メイ"), raw))

    def clean_postal_code(self) -> str:
        raw = self.cleaned_data["postal_code"]
        return str(_parsed(parse_postal_code, raw)) if raw else ""

    def clean_address(self) -> str:
        return str(_parsed(clean_text, self.cleaned_data["address"]))

    def clean_birth_date(self) -> date | None:
        raw = self.cleaned_data["birth_date"]
        if not raw:
            return None
        value: date = _parsed(parse_date, raw)
        if value > self.today:
            raise forms.ValidationError("生年月日に未来の日付は入力できません。")
        if value.year < 1900:
            raise forms.ValidationError("生年月日を確認してください（1900年以降の日付です）。")
        return value

    def clean_phone(self) -> str:
        raw = self.cleaned_data["phone"]
        return str(_parsed(parse_phone, raw)) if raw else ""


class DeleteForm(forms.Form):
    password = forms.CharField(
        label="パスワード",
        strip=False,
        max_length=PASSWORD_MAX,
        help_text="本人の操作であることを確かめるため、パスワードを入力してください。",
        error_messages={
            "required": "パスワードを入力してください。",
            "max_length": "パスワードが違います。",
        },
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("パスワードが違います。入力し直してください。")
        return password
