"""Which database this is, read once at start-up, so that cached answers follow the database.

The response cache's entries outlive processes (in Redis), and a database can be replaced behind
an unchanged `DATABASE_URL`: restored from a dump, re-created and reseeded. The identity read here
is folded into every cache key (gateway/cache_keys.py), so answers stored for one database are
never served for another. It is the same for every worker on the same database and across
restarts, so they keep sharing entries. What it is made of:

- PostgreSQL: the database's OID (new whenever it is dropped and created again, as a restore
  into a fresh database does), the OID and file node of each table in the schema (new when a
  table is dropped and created, as `pg_restore --clean` does, or truncated), and the migrations
  Tortoise recorded (when, how many: a database migrated afresh gets new times);
- SQLite: the file's device and inode (a file put in place by a copy-and-rename or a new file)
  and the same migration record.

Limits: a restore that rewrites rows in place (a data-only restore into the existing tables
without truncating them, or a SQLite file overwritten byte for byte) keeps the identity; so does
a change made behind the gateway's back with plain SQL. A running process keeps the identity it
read at start-up. After such a change, restart the gateway and clear the cache's keys in Redis
(`gateway:cache:*`).
"""

from __future__ import annotations

import hashlib
import logging
import os

from tortoise import connections

log = logging.getLogger("gateway.db")

_MIGRATIONS = "SELECT count(*) AS n, min(applied_at) AS first, max(applied_at) AS last FROM tortoise_migrations"
_POSTGRES = """
SELECT d.oid::text AS database,
       (SELECT string_agg(c.oid::text || ':' || c.relfilenode::text, ',' ORDER BY c.oid)
          FROM pg_class c
         WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')) AS tables
  FROM pg_database d
 WHERE d.datname = current_database()
"""


async def database_identity(database_url: str) -> str:
    """A short digest naming this database (see the module docstring); a random one when it
    cannot be read, so that nothing is shared rather than something stale."""
    try:
        parts = [await _describe(database_url)]
        connection = connections.get("default")
        [migrations] = await connection.execute_query_dict(_MIGRATIONS)
        parts += [str(migrations["n"]), str(migrations["first"]), str(migrations["last"])]
    except Exception as error:  # any failure: this process shares no cached answers with others
        log.warning(
            "could not read the database's identity (%s: %s); cached answers will not be shared",
            type(error).__name__,
            error,
        )
        return "unknown-" + os.urandom(8).hex()
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=12).hexdigest()


async def _describe(database_url: str) -> str:
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://").split("?", 1)[0]
        if path == ":memory:":
            return "memory:" + os.urandom(8).hex()  # one process's own database
        status = os.stat(path)
        return f"sqlite:{status.st_dev}:{status.st_ino}"
    [row] = await connections.get("default").execute_query_dict(_POSTGRES)
    return f"postgres:{row['database']}:{row['tables']}"
