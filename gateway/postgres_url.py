"""A PostgreSQL DATABASE_URL's query parameters: the libpq ones that managed services hand out,
checked once at start-up and given to asyncpg in the form it understands.

Tortoise passes each query parameter to asyncpg as a keyword argument, and asyncpg has none called
`sslmode`: `?sslmode=require`, the usual form of a managed PostgreSQL URL, stopped start-up with a
long traceback. Here:

- `sslmode` (disable, allow, prefer, require, verify-ca, verify-full), `sslrootcert`, `sslcert`,
  `sslkey` go to asyncpg in a connection string of their own, which it reads as libpq does
  (`~/.postgresql/root.crt` and PGSSLROOTCERT included); host, user and database stay Tortoise's;
- `application_name` is Tortoise's own argument (what `pg_stat_activity` shows);
- `connect_timeout`, whole seconds to open a connection (asyncpg calls it `timeout`).

Any other parameter stops start-up with one line naming it.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlencode

TLS = ("sslmode", "sslrootcert", "sslcert", "sslkey")
PARAMETERS = (*TLS, "application_name", "connect_timeout")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_FILES = ("sslrootcert", "sslcert", "sslkey")
MAX_CONNECT_TIMEOUT = 3600


def parameters(query: str) -> dict[str, str]:
    """The query's parameters by name; ValueError naming the first that cannot be used."""
    found: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in PARAMETERS:
            raise ValueError(f"unknown parameter {name!r} (known: {', '.join(PARAMETERS)})")
        found[name] = value
    mode = found.get("sslmode")
    if mode is not None and mode not in SSL_MODES:
        raise ValueError(f"sslmode={mode!r}: expected one of {', '.join(SSL_MODES)}")
    for name in _FILES:
        if name in found and not os.path.isfile(found[name]):
            raise ValueError(f"{name}: no file at {found[name]!r}")
    timeout = found.get("connect_timeout")
    if timeout is not None and not (timeout.isdigit() and 0 < int(timeout) <= MAX_CONNECT_TIMEOUT):
        raise ValueError(f"connect_timeout={timeout!r}: expected whole seconds between 1 and {MAX_CONNECT_TIMEOUT}")
    return found


def tls_dsn(found: dict[str, str]) -> str | None:
    """An asyncpg connection string holding only the TLS parameters (None: asyncpg's defaults)."""
    tls = {name: found[name] for name in TLS if name in found}
    return "postgresql://?" + urlencode(tls) if tls else None
