"""Signals the applications app sends. Receivers live in higher layers (stats, integrations).

``application_arrived`` is sent *inside* the submission transaction, so that a receiver's
writes (the channel count) commit or roll back with the application itself.
"""

from __future__ import annotations

from django.dispatch import Signal

#: kwargs: organisation_id, procedure_id, application_id, arrived_at, channel
application_arrived = Signal()
