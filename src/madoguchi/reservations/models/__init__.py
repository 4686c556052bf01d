"""Models of reservations, one module per area (see each module's docstring)."""

from madoguchi.reservations.models.bookings import Booking, Claim, FacilityLogEntry, Slot
from madoguchi.reservations.models.facilities import Facility, Resource, TimeBand
from madoguchi.reservations.models.policies import RefundRule
from madoguchi.reservations.models.registrations import Registration
from madoguchi.reservations.models.waitlists import WaitlistEntry

__all__ = [
    "Booking",
    "Claim",
    "Facility",
    "FacilityLogEntry",
    "RefundRule",
    "Registration",
    "Resource",
    "Slot",
    "TimeBand",
    "WaitlistEntry",
]
