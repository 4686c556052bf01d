"""Counting procedures by channel."""

from __future__ import annotations

from datetime import date

from django.db import connection

from madoguchi.stats.models import Channel, ChannelCount


def channel_count_increment(
    *, organisation_id: int, procedure_id: int, month: date, channel: Channel
) -> None:
    """Add one to the count of organisation × procedure × month × channel, atomically.

    One statement (INSERT … ON CONFLICT DO UPDATE, on SQLite and PostgreSQL alike), so that
    concurrent submissions never lose a count; runs in the caller's transaction.
    """
    table = ChannelCount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (organisation_id, procedure_id, month, channel, count) "  # noqa: S608 (table name is ours)
            "VALUES (%s, %s, %s, %s, 1) "
            "ON CONFLICT (organisation_id, procedure_id, month, channel) "
            f"DO UPDATE SET count = {table}.count + 1",
            [organisation_id, procedure_id, month.replace(day=1), str(channel)],
        )
