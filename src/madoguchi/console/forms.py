"""Django forms for the console: parsing what staff type, with Japanese messages."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from madoguchi.catalog.constants import LOCAL_KEY_PREFIX

LOCAL_TYPES = (
    ("text", "文字（1行）"),
    ("textarea", "文字（複数行）"),
    ("yesno", "はい・いいえ"),
    ("choice", "選択（1つ）"),
    ("multichoice", "選択（複数）"),
    ("date", "日付"),
    ("number", "数値"),
)


class ProcedureSettingsForm(forms.Form):
    summary = forms.CharField(
        label="手続の説明（住民向け）",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    department = forms.CharField(label="担当部署", required=False, max_length=200)
    contact = forms.CharField(
        label="問い合わせ先",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    counter = forms.CharField(
        label="受付窓口（窓口で申請する場合）",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    reception_starts_at = forms.DateTimeField(
        label="受付開始（例: 2026-04-01 09:00）", required=False
    )
    reception_ends_at = forms.DateTimeField(
        label="受付終了（例: 2027-03-31 17:00）", required=False
    )

    def __init__(
        self,
        *args: Any,
        parameters: dict[str, dict[str, Any]],
        optional: dict[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for name, param in parameters.items():
            self.fields[f"param_{name}"] = forms.IntegerField(
                label=f"{param['label']}（{param.get('unit', '')}）"
                if param.get("unit")
                else param["label"],
                min_value=param.get("min"),
                max_value=param.get("max"),
                error_messages={
                    "required": "値を入力してください。",
                    "invalid": "整数で入力してください。",
                    "min_value": "%(limit_value)s以上にしてください。",
                    "max_value": "%(limit_value)s以下にしてください。",
                },
            )
        for key, label in optional.items():
            self.fields[f"optional_{key}"] = forms.BooleanField(
                label=f"「{label}」を求める", required=False
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("reception_starts_at"), data.get("reception_ends_at")
        if start and end and end <= start:
            self.add_error("reception_ends_at", "受付終了は受付開始より後にしてください。")
        return data


class LocalQuestionForm(forms.Form):
    label = forms.CharField(label="質問文", max_length=200)
    type = forms.ChoiceField(label="答え方", choices=LOCAL_TYPES)
    required = forms.BooleanField(label="必須にする", required=False)
    help = forms.CharField(label="補足説明", required=False, max_length=500)
    choices = forms.CharField(
        label="選択肢（1行に1つ。選択の場合のみ）",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("type") in ("choice", "multichoice"):
            lines = [
                line.strip() for line in str(data.get("choices", "")).splitlines() if line.strip()
            ]
            if len(lines) < 2:
                self.add_error("choices", "選択肢を2つ以上、1行に1つずつ入力してください。")
            elif len(set(lines)) != len(lines):
                self.add_error("choices", "同じ選択肢が重複しています。")
            elif len(lines) > 100:
                self.add_error("choices", "選択肢は100個までです。")
            data["choice_lines"] = lines
        return data

    def to_definition(self, existing_keys: set[str]) -> dict[str, Any]:
        """The field definition to append, with a fresh ``local_`` key."""
        data = self.cleaned_data
        number = 1
        while f"{LOCAL_KEY_PREFIX}q{number}" in existing_keys:
            number += 1
        definition: dict[str, Any] = {
            "key": f"{LOCAL_KEY_PREFIX}q{number}",
            "type": data["type"],
            "label": data["label"],
            "required": bool(data.get("required")),
        }
        if data.get("help"):
            definition["help"] = data["help"]
        if data["type"] in ("choice", "multichoice"):
            definition["options"] = {
                "choices": [
                    {"value": f"c{i + 1}", "label": label}
                    for i, label in enumerate(data["choice_lines"])
                ]
            }
        return definition


_SLUG = re.compile(r"^[a-z][a-z0-9-]{1,63}$")


class OwnProcedureForm(forms.Form):
    slug = forms.CharField(
        label="手続の識別子（半角英小文字・数字・ハイフン。例: kominkan-riyo）", max_length=64
    )
    kana = forms.CharField(label="手続名のよみ（カタカナ）", required=False, max_length=400)
    definition_file = forms.FileField(
        label="様式ファイル（YAML または JSON、1MBまで）", required=False
    )
    definition_text = forms.CharField(
        label="または様式の内容を貼り付け",
        required=False,
        widget=forms.Textarea(attrs={"rows": 12}),
    )

    def clean_slug(self) -> str:
        slug = str(self.cleaned_data["slug"]).strip()
        if not _SLUG.match(slug):
            raise forms.ValidationError(
                "半角英小文字で始まり、英小文字・数字・ハイフンだけの2〜64文字にしてください。"
            )
        return slug

    def definition(self) -> bytes | str:
        upload = self.cleaned_data.get("definition_file")
        if upload is not None:
            if upload.size > 1024 * 1024:
                raise forms.ValidationError("ファイルが大きすぎます（1MBまで）。")
            return bytes(upload.read())
        return str(self.cleaned_data.get("definition_text") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("definition_file") and not data.get("definition_text"):
            raise forms.ValidationError("様式ファイルを選ぶか、内容を貼り付けてください。")
        return data
