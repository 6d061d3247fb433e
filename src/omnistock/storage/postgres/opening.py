"""Opening a PostgreSQL schema: create it, migrate an older version, or
check it (``open_schema``), from the DDL in ``schema.py``. Creators and
migrators serialise on an advisory lock.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from ...errors import StorageError
from .schema import DDL_ID, LOCK_NAMESPACE, SCHEMA_VERSION, Spec, create_tables

if TYPE_CHECKING:
    import psycopg

__all__ = ["open_schema"]


def open_schema(conn: psycopg.Connection[Any], spec: Spec) -> None:
    """Create the schema, migrate it from an older version, or check it.

    An existing, current schema is opened without DDL or locks (and without
    the CREATE privilege). Creators and migrators serialise on an advisory
    lock, so two processes opening a fresh or old schema at once are safe."""
    meta = _read_meta(conn, spec)
    if meta and _version(meta, spec) == SCHEMA_VERSION and meta.get("ddl") == DDL_ID:
        return
    from psycopg import sql

    s = sql.Identifier(spec.name)
    lock_key = zlib.crc32(spec.name.encode("utf-8")) - 2**31
    with conn.transaction():
        conn.execute(
            "SELECT pg_advisory_xact_lock(%s::integer, %s::integer)", (LOCK_NAMESPACE, lock_key)
        )
        # Not _read_meta(): this backend's catalog cache may still say "no
        # such table" after the other creator committed.
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.meta (name text PRIMARY KEY, value text NOT NULL)"
            ).format(s)
        )
        meta = dict(conn.execute(sql.SQL("SELECT name, value FROM {}.meta").format(s)))
        if not meta:
            _create(conn, spec)
            return
        if _version(meta, spec) < SCHEMA_VERSION:
            from .migrate import migrate

            migrate(conn, spec)
        elif meta.get("ddl") != DDL_ID:  # same tables, newer functions: replace them
            create_tables(conn, spec)
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.meta (name, value) VALUES ('ddl', %s)"
                " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value"
            ).format(s),
            (DDL_ID,),
        )


def _read_meta(conn: psycopg.Connection[Any], spec: Spec) -> dict[str, str] | None:
    from psycopg import sql

    s = sql.Identifier(spec.name)
    meta_name = sql.SQL("{}.meta").format(s).as_string(conn)
    found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (meta_name,)).fetchone()
    if not found or not found[0]:
        return None
    return dict(conn.execute(sql.SQL("SELECT name, value FROM {}.meta").format(s)))


def _version(meta: dict[str, str], spec: Spec) -> int:
    try:
        version = int(meta.get("version", ""))
    except ValueError:
        raise StorageError(
            f"schema {spec.name!r} at {spec.where} has an unreadable meta table: {meta}"
        ) from None
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"schema {spec.name!r} at {spec.where} has version {version}; this omnistock "
            f"reads up to version {SCHEMA_VERSION}; upgrade omnistock"
        )
    if version < 1:
        raise StorageError(f"schema {spec.name!r} at {spec.where} has version {version}")
    return version


def _create(conn: psycopg.Connection[Any], spec: Spec) -> None:
    """Create schema version ``SCHEMA_VERSION`` (inside the caller's transaction)."""
    from psycopg import sql

    create_tables(conn, spec)
    conn.execute(
        sql.SQL("INSERT INTO {}.meta (name, value) VALUES (%s, %s), (%s, %s), (%s, %s)").format(
            sql.Identifier(spec.name)
        ),
        ("version", str(SCHEMA_VERSION), "partitions", str(spec.partitions), "ddl", DDL_ID),
    )
