"""PostgreSQL schema of the platform: versioned SQL migrations and their upkeep.

``db.migrate.migrate(url)`` applies ``db/migrations/NNNN_name.sql``; ``db.maintain.maintain(url)``
runs partition and retention upkeep; ``db.status.read_status(url)`` reports both. The
``alpr db`` command (``db.cli``) wraps them. See ``db/README.md``.
"""
