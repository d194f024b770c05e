"""Batched multi-row writes for the tracking store on PostgreSQL, through SQLAlchemy's plugin hook.

MLflow's ``log_batch`` of 100 metrics updates 100 rows of ``latest_metrics``. The ORM hands them to the
driver as one ``executemany``, but psycopg2 runs an ``executemany`` as one round trip per row unless
SQLAlchemy's ``executemany_mode="values_plus_batch"`` is set, which sends them in pages of 100
(``psycopg2.extras.execute_batch``): 111 statements become 12. MLflow creates its engines itself and takes
no engine arguments, so the entrypoint names this plugin in the tracking store's URI (``?plugin=``) and
SQLAlchemy loads it from the ``sqlalchemy.plugins`` entry point group (``dist-info/entry_points.txt``).

The one trade SQLAlchemy documents for the mode: an ``executemany`` UPDATE no longer reports per-row
counts, which only versioned mappers check, and MLflow has none. PyMySQL has no such mode (it already
sends a multi-row INSERT as one statement), so on MySQL the URI does not name the plugin.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL, CreateEnginePlugin

#: The only driver whose dialect has the mode; the entrypoint names the plugin only for it.
DRIVER = "psycopg2"


class BatchedWrites(CreateEnginePlugin):
    """Sets ``executemany_mode="values_plus_batch"`` on psycopg2 engines unless the caller chose a mode."""

    def __init__(self, url: URL, kwargs: dict[str, Any]) -> None:
        super().__init__(url, kwargs)
        # SQLAlchemy passes the create_engine() arguments it goes on to use; adding one here is the
        # plugin's documented way to configure the engine from the URI.
        if url.get_driver_name() == DRIVER:
            kwargs.setdefault("executemany_mode", "values_plus_batch")

    def update_url(self, url: URL) -> URL:
        # SQLAlchemy has already removed ``plugin`` from the query; this plugin reads nothing else from it.
        return url
