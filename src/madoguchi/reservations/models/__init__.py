"""Models of reservations, one module per area (see each module's docstring)."""

from madoguchi.reservations.models.bookings import Booking, Claim, FacilityLogEntry, Slot
from madoguchi.reservations.models.facilities import Facility, Resource, TimeBand
from madoguchi.reservations.models.lotteries import (
    EntryStatus,
    Lottery,
    LotteryChoice,
    LotteryEntry,
    LotteryStatus,
    ReleaseRule,
)
from madoguchi.reservations.models.registrations import Registration

__all__ = [
    "Booking",
    "Claim",
    "EntryStatus",
    "Facility",
    "FacilityLogEntry",
    "Lottery",
    "LotteryChoice",
    "LotteryEntry",
    "LotteryStatus",
    "Registration",
    "ReleaseRule",
    "Resource",
    "Slot",
    "TimeBand",
]
