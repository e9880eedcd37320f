"""The triage queue: analysts read the riskiest comments first, and their decisions become labels.

- ``store``: submitted items (redacted, scored, prioritised), the append-only decision log, queries;
- ``users``: analyst accounts (scrypt password hashes) and the session signing secret;
- ``export``: decisions -> versioned dataset in the unified schema (``export_labels``);
- ``demo``: invented sample comments and survey answers for ``make run`` (``seed_demo``).

The web pages (``/triage``) and ``POST /v1/submissions`` live in ``serve/routes/triage.py`` and
``serve/routes/submissions.py``; the schema in the ``triage`` alembic branch.
"""
