"""Validating one application of a 60-field form with 5 repeated children.

Figure: ``madoguchi.forms.engine.validate`` on a checked spec (as ``forms.selectors.form_spec``
caches it), normalising what a resident's browser or an API client sent.

Baseline: the same 60 fields as a plain Django ``forms.Form`` (compound fields as
``MultiValueField``, the children as a formset, the rules and the fee in ``clean()``) bound to
equivalent POST data, as a hand-written Django view would validate it.

The two do not do identical work: the engine also reads 和暦 and full-width input, checks the
My Number check digit, looks postal codes up (cached after the first call, as in a running
server), fills the address from the postal code and checks 平日 against the holiday calendar.
The ratio is the price of a generic, data-defined form over a hand-written one.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms

from _harness import Result, Settings, compare
from madoguchi.forms.base import FormSpec
from madoguchi.forms.engine import validate
from madoguchi.forms.schema import check_definition

TITLE = "validate one application: 60 fields (52 top-level + a group of 8), 5 children"
NOTES = (
    "baseline: django.forms.Form (MultiValueField for name/address/account) + formset of 5;",
    "the engine also reads 和暦/full-width input, checks check digits, postal codes, holidays.",
)

TODAY = date(2025, 4, 1)
FIELD_COUNT = 60
CHILDREN = 5


# --- The form definition ----------------------------------------------------------------------


def _f(key: str, type_: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "type": type_, "label": label, **extra}


def _choices(choices: dict[str, str]) -> dict[str, Any]:
    return {"choices": [{"value": value, "label": label} for value, label in choices.items()]}


def _when(key: str, value: Any = True) -> dict[str, Any]:
    return {"field": key, "equals": value}


GENDERS = {"male": "男性", "female": "女性", "other": "その他", "none": "回答しない"}
OCCUPATIONS = {
    "employee": "会社員",
    "civil": "公務員",
    "self": "自営業",
    "part": "パート・アルバイト",
    "farm": "農林漁業",
    "student": "学生",
    "home": "家事",
    "retired": "年金生活",
    "seeking": "求職中",
    "other": "その他",
}
RELATIONS = {
    "self": "本人",
    "spouse": "配偶者",
    "parent": "父母",
    "grand": "祖父母",
    "other": "その他",
}
CHILD_RELATIONS = {"son": "長男・次男など", "daughter": "長女・次女など", "other": "その他"}
SCHOOLS = {
    "none": "未就学",
    "nursery": "保育所・幼稚園",
    "elementary": "小学校",
    "junior": "中学校",
    "high": "高等学校",
    "other": "その他",
}
HOUSING = {
    "own": "持ち家",
    "rent": "賃貸",
    "public": "公営住宅",
    "company": "社宅",
    "other": "その他",
}
GRADES = {str(grade): f"{grade}級" for grade in range(1, 7)}
PAYMENT = {"transfer": "口座振込", "counter": "窓口で受取"}
NOTIFY = {"mail": "郵送", "email": "メール", "portal": "マイページ"}
PICKUP = {"mail": "郵送", "counter": "窓口", "branch": "支所"}
CONTACT_TIME = {"morning": "午前", "afternoon": "午後", "evening": "夕方", "any": "いつでも"}

CHILD_FIELDS = [
    _f("name", "person_name", "児童の氏名", required=True),
    _f("birth_date", "birth_date", "生年月日", required=True),
    _f("relation", "choice", "続柄", required=True, options=_choices(CHILD_RELATIONS)),
    _f("lives_together", "yesno", "同居している", required=True),
    _f("school", "choice", "在籍", options=_choices(SCHOOLS)),
    _f(
        "school_name",
        "text",
        "学校・園の名前",
        visible_if={"field": "school", "not_in": ["none", "other"]},
        required_if={"field": "school", "in": ["elementary", "junior", "high"]},
        options={"max_length": 100},
    ),
    _f("disability", "yesno", "障害がある"),
    _f("notes", "textarea", "児童について特記事項", options={"max_length": 1000}),
]


def definition() -> dict[str, Any]:
    """児童・家庭の支援申請 (a realistic long form): 52 top-level fields + 8 per child."""
    applicant = [
        _f("applicant_name", "person_name", "申請者の氏名", required=True),
        _f("applicant_birth", "birth_date", "申請者の生年月日", required=True),
        _f("applicant_address", "address", "住所", required=True),
        _f("mailing_postal_code", "postal_code", "送付先の郵便番号"),
        _f("applicant_phone", "phone", "電話番号", required=True),
        _f("applicant_mobile", "phone", "携帯電話"),
        _f("applicant_email", "email", "メールアドレス", required=True),
        _f("applicant_my_number", "my_number", "申請者の個人番号", required=True),
        _f("applicant_gender", "choice", "性別", options=_choices(GENDERS)),
        _f("occupation", "choice", "職業", required=True, options=_choices(OCCUPATIONS)),
        _f("employer_name", "text", "勤務先", options={"max_length": 100}),
        _f("employer_phone", "phone", "勤務先の電話番号"),
        _f("relation", "choice", "世帯主との続柄", required=True, options=_choices(RELATIONS)),
        _f("household_size", "number", "世帯の人数", required=True, options={"min": 1, "max": 20}),
        _f("annual_income", "number", "前年の所得", required=True, options={"min": 0, "unit": "円"}),
        _f("emergency_contact", "text", "緊急連絡先（氏名）", options={"max_length": 50}),
    ]  # fmt: skip
    spouse = [
        _f("has_spouse", "yesno", "配偶者がいる", required=True),
        _f("spouse_name", "person_name", "配偶者の氏名", visible_if=_when("has_spouse"), required_if=_when("has_spouse")),
        _f("spouse_birth", "birth_date", "配偶者の生年月日", visible_if=_when("has_spouse"), required_if=_when("has_spouse")),
        _f("spouse_income", "number", "配偶者の所得", visible_if=_when("has_spouse"), options={"min": 0, "unit": "円"}),
        _f("spouse_my_number", "my_number", "配偶者の個人番号", visible_if=_when("has_spouse")),
        _f("moved_recently", "yesno", "1年以内に転入した", required=True),
        _f("moved_date", "date", "転入日", visible_if=_when("moved_recently"), required_if=_when("moved_recently"), options={"max": "today"}),
        _f("previous_address", "address", "前住所", visible_if=_when("moved_recently")),
    ]  # fmt: skip
    household = [
        _f("children_notes", "textarea", "児童全体についての連絡事項", options={"max_length": 2000}),
        _f("housing_type", "choice", "住居", required=True, options=_choices(HOUSING)),
        _f("rent_amount", "number", "家賃（月額）", visible_if=_when("housing_type", "rent"), required_if=_when("housing_type", "rent"), options={"min": 0, "unit": "円"}),
        _f("contract_start", "date", "契約開始日", visible_if=_when("housing_type", "rent")),
        _f("contract_end", "date", "契約終了日", visible_if=_when("housing_type", "rent"), options={"min": {"field": "contract_start", "offset_days": 1}}),
        _f("disability_certificate", "yesno", "障害者手帳がある", required=True),
        _f("certificate_number", "text", "手帳番号", visible_if=_when("disability_certificate"), required_if=_when("disability_certificate")),
        _f("certificate_grade", "choice", "等級", visible_if=_when("disability_certificate"), options=_choices(GRADES)),
        _f("single_parent", "yesno", "ひとり親家庭", required=True),
        _f("single_parent_since", "date", "ひとり親になった日", visible_if=_when("single_parent"), required_if=_when("single_parent")),
        _f("other_benefit", "yesno", "他の手当を受けている", required=True),
        _f("other_benefit_name", "text", "手当の名前", visible_if=_when("other_benefit"), required_if=_when("other_benefit")),
        _f("other_benefit_amount", "number", "手当の月額", visible_if=_when("other_benefit"), options={"min": 0, "unit": "円"}),
    ]  # fmt: skip
    payment = [
        _f("bank_account", "bank_account", "振込先口座", required=True),
        _f("holder_is_applicant", "yesno", "口座名義は申請者本人", required=True),
        _f("payment_method", "choice", "受取方法", required=True, options=_choices(PAYMENT) | {"widget": "radio"}),
        _f("notify_by", "multichoice", "お知らせの方法", required=True, options=_choices(NOTIFY)),
        _f("copies", "number", "証明書の通数", required=True, options={"min": 1, "max": 10, "unit": "通"}),
        _f("fee", "computed", "手数料", options={"expression": {"multiply": [{"field": "copies"}, 300]}, "unit": "円", "fee": True}),
        _f("pickup", "choice", "受取場所", required=True, options=_choices(PICKUP)),
        _f("preferred_date", "date", "来庁希望日", options={"min": "today+1d", "max": "today+60d", "weekdays_only": True}),
        _f("contact_time", "choice", "連絡の取りやすい時間", options=_choices(CONTACT_TIME)),
        _f("remarks", "textarea", "備考", options={"max_length": 2000}),
        _f("notice", "notice", "注意事項", options={"text": "虚偽の申請をした場合、支給した手当を返還していただきます。"}),
        _f("consent_truth", "consent", "申請内容に誤りがないことの確認", required=True),
        _f("consent_inquiry", "consent", "所得・住民票の公簿確認への同意", required=True),
        _f("registered_on", "date", "記入日", required=True, options={"max": "today"}),
    ]  # fmt: skip
    children = _f(
        "children",
        "group",
        "児童",
        options={"min_items": 1, "max_items": 10, "item_label": "児童"},
        fields=CHILD_FIELDS,
    )
    sections = [
        ("applicant", "申請者", applicant),
        ("family", "配偶者・転入", spouse),
        ("children", "児童", [children]),
        ("household", "世帯の状況", household),
        ("payment", "受取と同意", payment),
    ]
    return {
        "schema_version": 1,
        "key": "kosodate_shien",
        "title": "子育て支援給付金 申請",
        "steps": [
            {
                "key": key,
                "title": title,
                "sections": [{"key": f"{key}_section", "title": title, "fields": fields}],
            }
            for key, title, fields in sections
        ],
    }


def spec() -> FormSpec:
    checked = check_definition(definition())
    count = sum(1 + len(f.fields) for f in checked.fields)
    assert count == FIELD_COUNT, f"the form has {count} fields, not {FIELD_COUNT}"
    return checked


# --- What residents send ----------------------------------------------------------------------

NAME = {"family": "髙橋", "given": "花子", "family_kana": "タカハシ", "given_kana": "ハナコ"}
SPOUSE = {"family": "髙橋", "given": "太郎", "family_kana": "タカハシ", "given_kana": "タロウ"}
ADDRESS = {"postal_code": "231-0023", "block": "1-1", "building": "メゾン山下 203"}
PREVIOUS = {"postal_code": "100-0001", "town": "千代田", "block": "1-1", "building": ""}
ACCOUNT = {
    "bank_code": "0001",
    "branch_code": "001",
    "account_type": "ordinary",
    "account_number": "1234567",
    "holder": "タカハシ ハナコ",
}
CHILD_NAMES = ("一郎", "イチロウ"), ("二葉", "フタバ"), ("三郎", "サブロウ"), ("四季", "シキ"), ("五月", "サツキ")  # fmt: skip
CHILD_BIRTHS = ("2012-05-10", "2014-08-21", "2017-01-03", "2019-11-30", "2022-03-15")
CHILD_SCHOOLS = ("junior", "elementary", "elementary", "nursery", "none")


def answers() -> dict[str, Any]:
    """A complete, valid application with five children.

    Every field is answered except the two that its rules hide here (single_parent_since, and
    the school name of the youngest child, who is not at school yet).
    """
    children = [
        {
            "name": {
                "family": "髙橋",
                "given": given,
                "family_kana": "タカハシ",
                "given_kana": kana,
            },
            "birth_date": born,
            "relation": "son" if index % 2 == 0 else "daughter",
            "lives_together": "yes",
            "school": school,
            **({"school_name": "横浜市立山下小学校"} if school != "none" else {}),
            "disability": "no",
            "notes": "アレルギー（卵）があります。" if index == 0 else "",
        }
        for index, ((given, kana), born, school) in enumerate(
            zip(CHILD_NAMES, CHILD_BIRTHS, CHILD_SCHOOLS, strict=True)
        )
    ]
    return {
        "applicant_name": NAME,
        "applicant_birth": "1985-04-01",
        "applicant_address": ADDRESS,
        "mailing_postal_code": "231-0023",
        "applicant_phone": "045-671-2121",
        "applicant_mobile": "090-1234-5678",
        "applicant_email": "hanako@example.jp",
        "applicant_my_number": "123456789018",
        "applicant_gender": "female",
        "occupation": "employee",
        "employer_name": "株式会社みなと",
        "employer_phone": "045-123-4567",
        "relation": "self",
        "household_size": "7",
        "annual_income": "3200000",
        "emergency_contact": "髙橋 一子",
        "has_spouse": "yes",
        "spouse_name": SPOUSE,
        "spouse_birth": "1983-09-12",
        "spouse_income": "2800000",
        "spouse_my_number": "987654321093",
        "moved_recently": "yes",
        "moved_date": "2024-10-01",
        "previous_address": PREVIOUS,
        "children": children,
        "children_notes": "上の子は中学校、下の子は保育園に通っています。",
        "housing_type": "rent",
        "rent_amount": "85000",
        "contract_start": "2024-09-15",
        "contract_end": "2026-09-14",
        "disability_certificate": "yes",
        "certificate_number": "横浜第123456号",
        "certificate_grade": "3",
        "single_parent": "no",
        "other_benefit": "yes",
        "other_benefit_name": "児童扶養手当",
        "other_benefit_amount": "45000",
        "bank_account": ACCOUNT,
        "holder_is_applicant": "yes",
        "payment_method": "transfer",
        "notify_by": ["mail", "email"],
        "copies": "2",
        "pickup": "counter",
        "preferred_date": "2025-04-08",
        "contact_time": "afternoon",
        "remarks": "平日の日中は勤務のため、\n連絡は午後にお願いします。",
        "consent_truth": "on",
        "consent_inquiry": "on",
        "registered_on": "2025-04-01",
    }


def invalid_answers() -> dict[str, Any]:
    """The same application with seven mistakes, one of them in a child."""
    data = answers()
    data["applicant_birth"] = "2025-13-01"  # no such month
    data["applicant_email"] = "hanako@"  # incomplete address
    data["household_size"] = "0"  # below the minimum
    del data["spouse_name"]  # required because has_spouse
    data["occupation"] = "astronaut"  # not a choice
    data["contract_end"] = "2024-09-01"  # before contract_start
    data["children"][2]["birth_date"] = "2030-01-01"  # in the future
    return data


EXPECTED_ERRORS = {
    "applicant_birth",
    "applicant_email",
    "household_size",
    "spouse_name",
    "occupation",
    "contract_end",
    "children[2].birth_date",
}


# --- The baseline: a plain Django form --------------------------------------------------------


YES_NO = [("yes", "はい"), ("no", "いいえ")]


def _yesno(required: bool = False) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        choices=YES_NO, coerce=lambda v: v == "yes", required=required, empty_value=None
    )


class _Compound(forms.MultiValueField):
    """Several inputs stored as one dict (氏名, 住所, 口座), Django's own way."""

    def __init__(self, parts: dict[str, forms.Field], **kwargs: Any) -> None:
        self.names = tuple(parts)
        widget = forms.MultiWidget([f.widget for f in parts.values()])
        super().__init__(tuple(parts.values()), widget=widget, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[Any]) -> dict[str, Any] | None:
        return dict(zip(self.names, data_list, strict=True)) if data_list else None


KANA = r"^[\u30a1-\u30f6\u30fc・　 ]+$"


def _name(required: bool = False) -> _Compound:
    return _Compound(
        {
            "family": forms.CharField(max_length=50),
            "given": forms.CharField(max_length=50, required=False),
            "family_kana": forms.RegexField(KANA, max_length=50),
            "given_kana": forms.RegexField(KANA, max_length=50, required=False),
        },
        required=required,
    )


def _address(required: bool = False) -> _Compound:
    return _Compound(
        {
            "postal_code": forms.RegexField(r"^\d{3}-?\d{4}$", required=False),
            "prefecture": forms.CharField(max_length=100, required=False),
            "city": forms.CharField(max_length=100, required=False),
            "town": forms.CharField(max_length=100, required=False),
            "block": forms.CharField(max_length=100),
            "building": forms.CharField(max_length=100, required=False),
        },
        required=required,
    )


def _phone(required: bool = False) -> forms.RegexField:
    return forms.RegexField(r"^0\d{1,4}-?\d{1,4}-?\d{3,4}$", required=required)


def _my_number(required: bool = False) -> forms.RegexField:
    return forms.RegexField(r"^\d{12}$", required=required)


def _money(required: bool = False) -> forms.IntegerField:
    return forms.IntegerField(min_value=0, required=required)


class ChildForm(forms.Form):
    name = _name(required=True)
    birth_date = forms.DateField()
    relation = forms.ChoiceField(choices=list(CHILD_RELATIONS.items()))
    lives_together = _yesno(required=True)
    school = forms.ChoiceField(choices=list(SCHOOLS.items()), required=False)
    school_name = forms.CharField(max_length=100, required=False)
    disability = _yesno()
    notes = forms.CharField(widget=forms.Textarea, max_length=1000, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("birth_date") and data["birth_date"] > TODAY:
            self.add_error("birth_date", "未来の日付は入力できません。")
        school = data.get("school")
        if school in ("none", "other", "", None):
            data.pop("school_name", None)
        elif school in ("elementary", "junior", "high") and not data.get("school_name"):
            self.add_error("school_name", "学校・園の名前を入力してください。")
        return data


ChildFormSet = forms.formset_factory(
    ChildForm, extra=0, min_num=1, validate_min=True, max_num=10, validate_max=True
)


class ApplicationForm(forms.Form):
    applicant_name = _name(required=True)
    applicant_birth = forms.DateField()
    applicant_address = _address(required=True)
    mailing_postal_code = forms.RegexField(r"^\d{3}-?\d{4}$", required=False)
    applicant_phone = _phone(required=True)
    applicant_mobile = _phone()
    applicant_email = forms.EmailField()
    applicant_my_number = _my_number(required=True)
    applicant_gender = forms.ChoiceField(choices=list(GENDERS.items()), required=False)
    occupation = forms.ChoiceField(choices=list(OCCUPATIONS.items()))
    employer_name = forms.CharField(max_length=100, required=False)
    employer_phone = _phone()
    relation = forms.ChoiceField(choices=list(RELATIONS.items()))
    household_size = forms.IntegerField(min_value=1, max_value=20)
    annual_income = _money(required=True)
    emergency_contact = forms.CharField(max_length=50, required=False)
    has_spouse = _yesno(required=True)
    spouse_name = _name()
    spouse_birth = forms.DateField(required=False)
    spouse_income = _money()
    spouse_my_number = _my_number()
    moved_recently = _yesno(required=True)
    moved_date = forms.DateField(required=False)
    previous_address = _address()
    # children: ChildFormSet (8 fields × 5)
    children_notes = forms.CharField(widget=forms.Textarea, max_length=2000, required=False)
    housing_type = forms.ChoiceField(choices=list(HOUSING.items()))
    rent_amount = _money()
    contract_start = forms.DateField(required=False)
    contract_end = forms.DateField(required=False)
    disability_certificate = _yesno(required=True)
    certificate_number = forms.CharField(max_length=200, required=False)
    certificate_grade = forms.ChoiceField(choices=list(GRADES.items()), required=False)
    single_parent = _yesno(required=True)
    single_parent_since = forms.DateField(required=False)
    other_benefit = _yesno(required=True)
    other_benefit_name = forms.CharField(max_length=200, required=False)
    other_benefit_amount = _money()
    bank_account = _Compound(
        {
            "bank_code": forms.RegexField(r"^\d{4}$"),
            "branch_code": forms.RegexField(r"^\d{3}$"),
            "account_type": forms.ChoiceField(
                choices=[("ordinary", "普通"), ("current", "当座"), ("savings", "貯蓄")]
            ),
            "account_number": forms.RegexField(r"^\d{1,7}$"),
            "holder": forms.RegexField(r"^[\u30a1-\u30f6\u30fcA-Z0-9 ()./\-・,]+$", max_length=48),
        },
        required=True,
    )
    holder_is_applicant = _yesno(required=True)
    payment_method = forms.ChoiceField(choices=list(PAYMENT.items()), widget=forms.RadioSelect)
    notify_by = forms.MultipleChoiceField(choices=list(NOTIFY.items()))
    copies = forms.IntegerField(min_value=1, max_value=10)
    # fee: computed in clean()
    pickup = forms.ChoiceField(choices=list(PICKUP.items()))
    preferred_date = forms.DateField(required=False)
    contact_time = forms.ChoiceField(choices=list(CONTACT_TIME.items()), required=False)
    remarks = forms.CharField(widget=forms.Textarea, max_length=2000, required=False)
    # notice: text only, no input
    consent_truth = forms.BooleanField()
    consent_inquiry = forms.BooleanField()
    registered_on = forms.DateField()

    #: (field shown and required when another field has a value, that field, the value)
    RULES = (
        ("spouse_name", "has_spouse", True, True),
        ("spouse_birth", "has_spouse", True, True),
        ("spouse_income", "has_spouse", True, False),
        ("spouse_my_number", "has_spouse", True, False),
        ("moved_date", "moved_recently", True, True),
        ("previous_address", "moved_recently", True, False),
        ("rent_amount", "housing_type", "rent", True),
        ("contract_start", "housing_type", "rent", False),
        ("contract_end", "housing_type", "rent", False),
        ("certificate_number", "disability_certificate", True, True),
        ("certificate_grade", "disability_certificate", True, False),
        ("single_parent_since", "single_parent", True, True),
        ("other_benefit_name", "other_benefit", True, True),
        ("other_benefit_amount", "other_benefit", True, False),
    )

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.children = ChildFormSet(data, prefix="children")

    def is_valid(self) -> bool:
        return super().is_valid() & self.children.is_valid()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name, other, value, required in self.RULES:
            if data.get(other) != value:
                data.pop(name, None)  # hidden: not stored
                self.errors.pop(name, None)
            elif required and data.get(name) in (None, "", {}) and name not in self.errors:
                self.add_error(name, "入力してください。")
        start, end = data.get("contract_start"), data.get("contract_end")
        if start and end and end <= start:
            self.add_error("contract_end", "契約開始日より後の日付を入力してください。")
        for name in ("moved_date", "registered_on"):
            if data.get(name) and data[name] > TODAY:
                self.add_error(name, "未来の日付は入力できません。")
        preferred = data.get("preferred_date")
        if preferred and (preferred <= TODAY or preferred.weekday() >= 5):
            self.add_error("preferred_date", "明日以降の平日を入力してください。")
        if data.get("copies"):
            data["fee"] = data["copies"] * 300
        return data


def post_data(answers: dict[str, Any]) -> dict[str, Any]:
    """The engine's answers as the flat POST a Django form reads."""
    flat: dict[str, Any] = {}
    for key, value in answers.items():
        if key == "children":
            flat.update(
                {
                    "children-TOTAL_FORMS": str(len(value)),
                    "children-INITIAL_FORMS": "0",
                    "children-MIN_NUM_FORMS": "1",
                    "children-MAX_NUM_FORMS": "10",
                }
            )
            for index, child in enumerate(value):
                flat.update(post_data({f"children-{index}-{k}": v for k, v in child.items()}))
        elif key == "applicant_address" or key == "previous_address":
            for i, part in enumerate(
                ("postal_code", "prefecture", "city", "town", "block", "building")
            ):
                flat[f"{key}_{i}"] = value.get(part, "")
        elif isinstance(value, dict):
            for i, part in enumerate(value.values()):
                flat[f"{key}_{i}"] = part
        else:
            flat[key] = value
    return flat


# --- The benchmark ----------------------------------------------------------------------------


def run(settings: Settings) -> list[Result]:
    form = spec()
    valid, invalid = answers(), invalid_answers()
    post_valid, post_invalid = post_data(valid), post_data(invalid)

    result = validate(form, valid, today=TODAY)
    assert result.ok, result.errors
    assert len(result.answers["children"]) == CHILDREN
    assert result.answers["fee"] == 600
    result = validate(form, invalid, today=TODAY)
    assert set(result.errors) == EXPECTED_ERRORS, sorted(result.errors)

    django_form = ApplicationForm(post_valid)
    assert django_form.is_valid(), (django_form.errors, django_form.children.errors)
    # Django's count: its fields, the formset (the group), the child's fields, fee and notice.
    assert len(django_form.fields) + 1 + len(ChildForm.base_fields) + 2 == FIELD_COUNT
    assert len(django_form.children.cleaned_data) == CHILDREN
    assert django_form.cleaned_data["fee"] == 600
    django_form = ApplicationForm(post_invalid)
    assert not django_form.is_valid()
    flagged = set(django_form.errors) | {
        f"children[{i}].{k}" for i, e in enumerate(django_form.children.errors) for k in e
    }
    assert flagged == EXPECTED_ERRORS, sorted(flagged)

    return [
        compare(
            "engine.validate, valid",
            lambda: validate(form, valid, today=TODAY),
            lambda: ApplicationForm(post_valid).is_valid(),
            "Django Form + formset",
            settings,
        ),
        compare(
            "engine.validate, 7 errors",
            lambda: validate(form, invalid, today=TODAY),
            lambda: ApplicationForm(post_invalid).is_valid(),
            "Django Form + formset",
            settings,
        ),
    ]
