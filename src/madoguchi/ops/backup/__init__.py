"""Backup and restore of a whole installation (``madoguchi backup``); see :mod:`.service`."""
