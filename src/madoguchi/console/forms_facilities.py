"""Forms of the console's facility pages (施設予約). They only shape the input for the page;
the services of ``reservations.facilities`` and ``reservations.staff`` decide what is valid
(and say why in Japanese), so a form error and a service error read alike."""

from __future__ import annotations

from typing import Any

from django import forms

from madoguchi.reservations.calendar import WEEKDAY_NAMES
from madoguchi.reservations.constants import DayType, Eligibility, FacilityCategory, ResourceKind
from madoguchi.reservations.staff import CLOSE_REASONS, OVERRIDE_CATEGORIES, OVERRIDE_REASON_LIMIT

LEVELS = [("1", "レベル1"), ("2", "レベル2"), ("3", "レベル3")]


def _required(label: str) -> dict[str, str]:
    return {"required": f"{label}を入力してください。"}


def _chosen(label: str) -> dict[str, str]:
    return {
        "required": f"{label}を選んでください。",
        "invalid_choice": f"{label}は一覧から選んでください。",
    }


def _choices(form: forms.Form, name: str, choices: list[tuple[str, str]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


class _AccessibleForm(forms.Form):
    """Marks fields with errors for assistive technology (aria-invalid, aria-describedby),
    and says a text's limit in Japanese (the ``maxlength`` attribute alone lets a browser cut
    pasted text silently; the server refuses what is longer, never truncates it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField) and field.max_length:
                field.error_messages["max_length"] = (
                    f"{field.max_length}文字以内で入力してください"
                    "（いまは%(show_value)d文字です）。"
                )

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                attrs["aria-describedby"] = (
                    f"id_{self.prefix + '-' if self.prefix else ''}{name}-error"
                )


class FacilityForm(_AccessibleForm):
    name = forms.CharField(label="施設名", max_length=100, error_messages=_required("施設名"))
    kana = forms.CharField(label="よみ（ひらがな）", max_length=200, required=False)
    category = forms.ChoiceField(
        label="分類", choices=FacilityCategory.choices, error_messages=_chosen("分類")
    )
    address = forms.CharField(label="所在地", max_length=200, required=False)
    phone = forms.CharField(label="電話番号", max_length=20, required=False)
    description = forms.CharField(
        label="説明", max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    rules = forms.CharField(
        label="利用の決まり（住民に表示します。やさしい日本語で）",
        max_length=8000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    eligibility = forms.ChoiceField(
        label="利用できる人", choices=Eligibility.choices, error_messages=_chosen("利用できる人")
    )
    min_group_members = forms.IntegerField(
        label="団体の最少人数（0: 個人でも利用できます）", min_value=0, max_value=1000, initial=0
    )
    group_only = forms.BooleanField(label="団体だけが利用できる", required=False)
    ial = forms.ChoiceField(
        label="身元確認保証レベル", choices=LEVELS, initial="1", error_messages=_chosen("レベル")
    )
    aal = forms.ChoiceField(
        label="当人認証保証レベル", choices=LEVELS, initial="1", error_messages=_chosen("レベル")
    )
    procedure = forms.ChoiceField(
        label="統計で数える手続（任意）", required=False, error_messages=_chosen("手続")
    )
    closed_weekdays = forms.MultipleChoiceField(
        label="定休日（祝日に当たるときは開館し、翌平日を休館にします）",
        choices=[(str(i), f"{name}曜日") for i, name in enumerate(WEEKDAY_NAMES)],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    no_show_suspension_days = forms.IntegerField(
        label="無断不使用のときの利用停止の日数", min_value=0, max_value=365, initial=30
    )
    published = forms.BooleanField(label="住民に公開する", required=False)

    def __init__(self, *args: Any, procedures: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "procedure", [("", "（なし）"), *((str(p), n) for p, n in procedures)])


class ResourceForm(_AccessibleForm):
    name = forms.CharField(label="名称", max_length=100, error_messages=_required("名称"))
    kind = forms.ChoiceField(
        label="種類", choices=ResourceKind.choices, error_messages=_chosen("種類")
    )
    parent = forms.ChoiceField(
        label="分割の元（体育室の半面などのときに、全面を選びます）",
        required=False,
        error_messages=_chosen("分割の元"),
    )
    capacity = forms.IntegerField(label="定員", min_value=0, max_value=100_000, initial=0)
    equipment = forms.CharField(
        label="設備", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    order = forms.IntegerField(label="表示順", min_value=0, max_value=10_000, initial=0)
    active = forms.BooleanField(label="利用できる（予約枠を作る）", required=False, initial=True)

    def __init__(self, *args: Any, parents: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "parent", [("", "（なし）"), *((str(p), n) for p, n in parents)])


class BandForm(_AccessibleForm):
    day_type = forms.ChoiceField(
        label="曜日区分", choices=DayType.choices, error_messages=_chosen("曜日区分")
    )
    name = forms.CharField(label="コマの名称", max_length=32, error_messages=_required("名称"))
    start = forms.CharField(
        label="開始時刻（例: 9:00）", max_length=5, error_messages=_required("開始時刻")
    )
    end = forms.CharField(
        label="終了時刻（例: 12:00）", max_length=5, error_messages=_required("終了時刻")
    )


class ClosedDayForm(_AccessibleForm):
    day = forms.CharField(
        label="休館日（例: 2026-04-01）",
        max_length=10,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages=_required("休館日"),
    )
    reason = forms.CharField(
        label="理由（住民にも表示します。100文字以内）", max_length=100, required=False
    )


class FeeForm(_AccessibleForm):
    resource = forms.ChoiceField(label="部屋・コート", error_messages=_chosen("部屋・コート"))
    band = forms.ChoiceField(label="コマ", error_messages=_chosen("コマ"))
    amount = forms.IntegerField(label="使用料（円）", min_value=0, max_value=10_000_000)

    def __init__(
        self,
        *args: Any,
        resources: list[tuple[int, str]],
        bands: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "resource", [(str(p), n) for p, n in resources])
        _choices(self, "band", [(str(p), n) for p, n in bands])


class ReductionForm(_AccessibleForm):
    code = forms.CharField(
        label="区分コード（半角英数字。例: disability）",
        max_length=32,
        error_messages=_required("区分コード"),
    )
    name = forms.CharField(
        label="名称（例: 障害者減免）", max_length=100, error_messages=_required("名称")
    )
    percent = forms.IntegerField(label="減額の割合（%）", min_value=0, max_value=100)
    note = forms.CharField(
        label="必要な確認書類（例: 障害者手帳を窓口でお見せください）",
        max_length=300,
        required=False,
    )
    active = forms.BooleanField(label="利用できる", required=False, initial=True)


class GenerateForm(_AccessibleForm):
    month = forms.CharField(
        label="予約枠を作る月（例: 2026-05）",
        max_length=7,
        widget=forms.TextInput(attrs={"type": "month"}),
        error_messages=_required("月"),
    )


class CounterBookingForm(_AccessibleForm):
    registration_number = forms.CharField(
        label="利用者番号（登録している方）", max_length=16, required=False
    )
    contact = forms.CharField(
        label="利用者の氏名・連絡先（利用者番号がない方。200文字以内）",
        max_length=200,
        required=False,
    )
    purpose = forms.CharField(label="利用目的（200文字以内）", max_length=200, required=False)
    reduction = forms.ChoiceField(label="減免", required=False, error_messages=_chosen("減免"))

    def __init__(self, *args: Any, reductions: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "reduction", [("", "（なし）"), *reductions])


class OverrideForm(_AccessibleForm):
    category = forms.ChoiceField(
        label="取消しの理由の区分（公開記録に表示します）",
        choices=list(OVERRIDE_CATEGORIES.items()),
        error_messages=_chosen("理由の区分"),
    )
    reason = forms.CharField(
        label=f"取消しの理由（職員の記録だけに残ります。{OVERRIDE_REASON_LIMIT}文字以内）",
        max_length=OVERRIDE_REASON_LIMIT,
        error_messages=_required("取消しの理由"),
    )


class CloseForm(_AccessibleForm):
    reason = forms.ChoiceField(
        label="受付停止の理由（公開記録に表示します）",
        choices=list(CLOSE_REASONS.items()),
        error_messages=_chosen("理由"),
    )
