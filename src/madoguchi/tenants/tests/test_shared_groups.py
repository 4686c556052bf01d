"""共同利用グループ: a prefecture runs one portal for the municipalities that share it."""

from datetime import datetime

import pytest
from django.db import IntegrityError, transaction

from madoguchi.core.time import now
from madoguchi.tenants.models import GroupMembership, Organisation, SharedGroup
from madoguchi.tenants.selectors import group_members, portal_group_for_prefecture
from madoguchi.tenants.services import shared_group_upsert


@pytest.fixture
def kanagawa(db):
    return Organisation.objects.get(lg_code="140007")


@pytest.fixture
def tokyo(db):
    return Organisation.objects.get(lg_code="130001")


def upsert_kanagawa_group(
    kanagawa: Organisation, members: list[Organisation], slug: str = "kanagawa"
) -> SharedGroup:
    return shared_group_upsert(
        slug=slug,
        name="神奈川県電子申請共同利用",
        prefecture=kanagawa,
        members=members,
        now=now(),
        portal_title="かながわ電子申請",
    )


def memberships(group: SharedGroup) -> set[tuple[int, int, datetime]]:
    return set(
        GroupMembership.objects.filter(group=group).values_list(
            "id", "organisation_id", "joined_at"
        )
    )


def test_group_members_are_exactly_as_given(kanagawa, organisation, other_organisation):
    group = upsert_kanagawa_group(kanagawa, [kanagawa, organisation, other_organisation])
    assert list(group_members(group=group)) == [kanagawa, organisation, other_organisation]
    assert group.portal_title == "かながわ電子申請"
    assert portal_group_for_prefecture(prefecture=kanagawa) == group


def test_upserting_the_same_group_twice_changes_nothing(kanagawa, organisation, other_organisation):
    first = upsert_kanagawa_group(kanagawa, [kanagawa, organisation, other_organisation])
    before = memberships(first)

    second = upsert_kanagawa_group(kanagawa, [other_organisation, organisation, kanagawa])

    assert second.pk == first.pk
    assert SharedGroup.objects.count() == 1
    assert memberships(second) == before


def test_members_left_out_are_removed_and_new_ones_added(
    kanagawa, organisation, other_organisation
):
    group = upsert_kanagawa_group(kanagawa, [kanagawa, organisation])
    kept = GroupMembership.objects.get(group=group, organisation=kanagawa)

    upsert_kanagawa_group(kanagawa, [kanagawa, other_organisation])

    assert list(group_members(group=group)) == [kanagawa, other_organisation]
    assert GroupMembership.objects.get(group=group, organisation=kanagawa) == kept
    assert Organisation.objects.filter(pk=organisation.pk).exists()  # only the membership went


def test_a_ward_cannot_be_a_member(kanagawa, organisation):
    naka = Organisation.objects.get(parent=organisation, name="中区")
    with pytest.raises(ValueError, match="横浜市中区 は行政区のため"):
        upsert_kanagawa_group(kanagawa, [organisation, naka])
    assert not SharedGroup.objects.exists()


def test_an_inactive_organisation_cannot_be_a_member(kanagawa, organisation, other_organisation):
    other_organisation.active = False
    other_organisation.save()
    with pytest.raises(ValueError, match="無効な団体"):
        upsert_kanagawa_group(kanagawa, [organisation, other_organisation])
    assert not SharedGroup.objects.exists()


def test_only_a_prefecture_can_hold_the_portal(organisation, other_organisation):
    with pytest.raises(ValueError, match="横浜市 は都道府県ではありません"):
        shared_group_upsert(
            slug="yokohama", name="横浜", prefecture=organisation, members=[], now=now()
        )
    assert not SharedGroup.objects.exists()


def test_a_group_without_a_portal_is_allowed(organisation, other_organisation):
    group = shared_group_upsert(
        slug="shonan",
        name="湘南共同利用",
        prefecture=None,
        members=[organisation, other_organisation],
        now=now(),
    )
    assert group.prefecture is None
    assert group_members(group=group).count() == 2


def test_one_active_portal_per_prefecture(kanagawa, organisation, other_organisation):
    upsert_kanagawa_group(kanagawa, [organisation])
    with pytest.raises(IntegrityError), transaction.atomic():
        upsert_kanagawa_group(kanagawa, [other_organisation], slug="kanagawa-2")
    assert SharedGroup.objects.count() == 1

    with pytest.raises(IntegrityError), transaction.atomic():
        SharedGroup.objects.create(slug="kanagawa-3", name="二つ目", prefecture=kanagawa)
    assert SharedGroup.objects.count() == 1


def test_an_inactive_group_does_not_hold_the_portal(kanagawa, tokyo):
    SharedGroup.objects.create(slug="old", name="旧グループ", prefecture=kanagawa, active=False)
    group = upsert_kanagawa_group(kanagawa, [kanagawa])
    assert portal_group_for_prefecture(prefecture=kanagawa) == group
    assert portal_group_for_prefecture(prefecture=tokyo) is None
