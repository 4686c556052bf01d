"""Signals the applications app sends. Receivers live in higher layers (stats, integrations).

Both signals are sent *inside* the transaction that makes the change, so that a receiver's
writes (the channel count, the webhook outbox rows) commit or roll back with the change
itself: nothing is announced that did not happen, and nothing that happened goes unannounced.
They carry ids and statuses only, never answers.
"""

from __future__ import annotations

from django.dispatch import Signal

#: kwargs: organisation_id, procedure_id, application_id, arrived_at, channel, and what the
#: receivers would otherwise read back in the same transaction: receipt_number, lg_code (the
#: organisation's), is_test, and organisation_version — the organisation row's
#: ``updated_at`` as the sender read it, a change token: services that change what receivers
#: cache per organisation (webhook endpoints) move it (``tenants.services.organisation_touch``).
application_arrived = Signal()

#: kwargs: organisation_id, procedure_id, application_id, from_status, to_status, changed_at.
#: Sent before the new status is saved in the same transaction: take the statuses from the
#: kwargs, not from the row.
application_status_changed = Signal()
