"""The area (区域) of an organisation, for fields with ``within_organisation: true``."""

from __future__ import annotations

from madoguchi.forms.base import Area
from madoguchi.tenants.constants import OrganisationKind
from madoguchi.tenants.models import Organisation


def organisation_area(organisation: Organisation) -> Area:
    """The area an address must lie in to be 「{団体}内の住所」.

    A prefecture's area is the whole prefecture; a municipality's is its own (a designated
    city with its wards). A ward is not a tenant, but asked for one, its city's area is used.
    """
    if organisation.kind == OrganisationKind.PREFECTURE or organisation.prefecture is None:
        return Area(name=organisation.name, prefecture=organisation.name)
    municipality = organisation
    if organisation.kind == OrganisationKind.WARD and organisation.parent is not None:
        municipality = organisation.parent
    return Area(
        name=municipality.name,
        prefecture=organisation.prefecture.name,
        municipality=municipality.name,
    )
