"""Forms of the organisation admin's document pages: parsed here, checked again (and stored)
by the documents services (:mod:`madoguchi.documents.notice_admin`)."""

from __future__ import annotations

from typing import Any

from django import forms

# No max_length here: the service says how long each text may be and how long it was; the
# request size itself is bounded by DATA_UPLOAD_MAX_MEMORY_SIZE.
_NUL = "使えない文字（NUL）が含まれています。文字を入力し直してください。"


class NoticeSettingsForm(forms.Form):
    """発行者・文書番号の記号・教示 of the organisation (or, with ``procedure``, of one procedure)."""

    issuer_title = forms.CharField(
        label="発行者の職名",
        required=False,
        help_text="例: 鎌倉市長。空欄のときは「（団体名）長」（都道府県は知事）を使います。",
    )
    issuer_name = forms.CharField(
        label="発行者の氏名",
        required=False,
        help_text="例: 鎌倉 太郎。空欄のときは職名だけを印字します。",
    )
    number_prefix = forms.CharField(
        label="文書番号の記号",
        required=False,
        help_text="例: 鎌こ（文書番号は「鎌こ第123号」になります）。空白や記号は使えません。"
        "年度の途中で変えた記号は、次の年度の番号から使います。",
    )
    appeal_approve = forms.CharField(
        label="承認の教示",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="空欄のときは下の既定の文を使います（2000文字まで）。",
    )
    appeal_reject = forms.CharField(
        label="却下の教示",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="空欄のときは下の既定の文を使います（2000文字まで）。",
    )

    def __init__(self, *args: Any, procedure: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.error_messages["null_characters_not_allowed"] = _NUL
        if procedure:
            self.fields["own_series"] = forms.BooleanField(
                label="この手続だけの文書番号を使う",
                required=False,
                help_text="選ぶと、この手続の通知書には下の記号で、年度ごとに1から始まる"
                "この手続だけの番号を付けます。選ばないときは団体の記号と番号を使います。",
            )
            self.order_fields(["own_series", "number_prefix"])
            self.fields[
                "number_prefix"
            ].help_text = "「この手続だけの文書番号を使う」を選んだときに入力します（例: 鎌こ）。"
            for name in ("issuer_title", "issuer_name"):
                self.fields[name].help_text = "空欄のときは団体の設定を使います。"
            for name in ("appeal_approve", "appeal_reject"):
                self.fields[name].help_text = "空欄のときは団体の設定（下の文）を使います。"


class NumberVoidForm(forms.Form):
    """欠番: which series, which number, why."""

    series = forms.TypedChoiceField(label="文書番号の系列", coerce=int)
    number = forms.IntegerField(
        label="番号",
        min_value=1,
        max_value=2**31 - 1,
        help_text="「第○号」の数字だけを半角で入力します。",
        error_messages={"invalid": "番号は半角の数字で入力してください。"},
    )
    reason = forms.CharField(
        label="理由",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="例: 紙の通知書に使ったため。欠番の一覧に表示し、監査記録に残します。",
        error_messages={"required": "欠番にする理由を入力してください。"},
    )

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].error_messages["null_characters_not_allowed"] = _NUL
        self.fields["series"].choices = choices  # type: ignore[attr-defined]
