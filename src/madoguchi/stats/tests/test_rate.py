from decimal import Decimal

from madoguchi.stats.figures import rate


def test_the_ministrys_national_figures_give_its_published_rates():
    # 総務省: オンライン利用促進対象手続 (21), 千件.
    assert rate(total=389_170, online=199_208) == Decimal("51.2")  # FY2016
    assert rate(total=390_757, online=204_741) == Decimal("52.4")  # FY2017
    assert rate(total=403_631, online=212_130) == Decimal("52.6")  # FY2018


def test_half_up_at_the_tenth_and_no_division_by_zero():
    assert rate(total=2000, online=1) == Decimal("0.1")  # 0.05 rounds up
    assert rate(total=8, online=1) == Decimal("12.5")
    assert rate(total=3, online=1) == Decimal("33.3")
    assert rate(total=3, online=3) == Decimal("100.0")
    assert rate(total=0, online=0) is None
