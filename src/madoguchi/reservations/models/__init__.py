"""Models of reservations, one module per area (see each module's docstring)."""

from madoguchi.reservations.models.bookings import Booking, Claim, FacilityLogEntry, Slot
from madoguchi.reservations.models.calendar import ClosedDay, Fee, Reduction
from madoguchi.reservations.models.events import Event, EventSignup
from madoguchi.reservations.models.facilities import Facility, Resource, TimeBand
from madoguchi.reservations.models.lotteries import (
    EntryStatus,
    Lottery,
    LotteryChoice,
    LotteryEntry,
    LotteryStatus,
    ReleaseRule,
)
from madoguchi.reservations.models.policies import RefundRule
from madoguchi.reservations.models.registrations import (
    Registration,
    RegistrationMember,
    ReservationSettings,
)
from madoguchi.reservations.models.waitlists import WaitlistEntry

__all__ = [
    "Booking",
    "Claim",
    "ClosedDay",
    "EntryStatus",
    "Event",
    "EventSignup",
    "Facility",
    "FacilityLogEntry",
    "Fee",
    "Lottery",
    "LotteryChoice",
    "LotteryEntry",
    "LotteryStatus",
    "Reduction",
    "RefundRule",
    "Registration",
    "RegistrationMember",
    "ReleaseRule",
    "ReservationSettings",
    "Resource",
    "Slot",
    "TimeBand",
    "WaitlistEntry",
]
