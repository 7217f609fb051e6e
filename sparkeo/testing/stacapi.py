"""A real STAC API for tests and benchmarks: PostgreSQL 15 + PostGIS (Debian packages) with a pgstac
schema (``pypgstac migrate``), served by stac-fastapi-pgstac under uvicorn on the loopback.

``StacApiServer().start()`` creates a throw-away cluster in a temporary folder (``initdb`` and the
server run as the ``postgres`` user when we are root: PostgreSQL refuses to run as root), starts
``postgres`` and the API on free ports; ``load`` upserts collections and items (``pypgstac``);
``stop``/``cleanup`` end both processes.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterable

from sparkeo.testing.services import (LOOPBACK, ServiceStartError, free_port, port_answers, start_service,
                                      stop_process, url_answers)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
PG_USER = "postgres"
APP = "stac_fastapi.pgstac.app:create_app"   # an app factory (uvicorn --factory)


class StacApiServer:
    """PostgreSQL + pgstac + stac-fastapi-pgstac; ``url`` is the API root (``http://127.0.0.1:PORT``)."""

    def __init__(self, workdir: str | None = None):
        if not (PG_BIN / "postgres").exists() or not POSTGIS_CONTROL.exists():
            raise ServiceStartError(f"the STAC API needs PostgreSQL 15 in {PG_BIN} and PostGIS "
                                    "(scripts/install-debian.sh installs postgresql-15 postgresql-15-postgis-3)")
        # as root, every folder above ``workdir`` must let ``postgres`` through (pytest's tmp_path does not)
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="sparkeo-stacapi-"))
        self.pg_port = free_port()
        self.port = free_port()
        self.postgres: subprocess.Popen | None = None
        self.api: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def dsn(self) -> str:
        return f"postgresql://{PG_USER}@{LOOPBACK}:{self.pg_port}/postgres"

    def collection_url(self, collection_id: str) -> str:
        return f"{self.url}/collections/{collection_id}"

    def start(self, timeout: float = 120.0) -> "StacApiServer":
        """Start PostgreSQL, install the pgstac schema, start the API; wait until it answers."""
        self._start_postgres(timeout)
        from pypgstac.db import PgstacDB
        from pypgstac.migrate import Migrate

        with PgstacDB(dsn=self.dsn) as db:
            Migrate(db).run_migration()
            # report numberMatched, as public APIs (Earth Search, Planetary Computer) do
            db.query_one("INSERT INTO pgstac.pgstac_settings (name, value) VALUES ('context', 'on') "
                         "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value RETURNING name")
        env = {**os.environ, "PGUSER": PG_USER, "PGPASSWORD": "unused", "PGHOST": LOOPBACK,
               "PGPORT": str(self.pg_port), "PGDATABASE": "postgres", "ENABLE_RESPONSE_MODELS": "false"}
        self.api = start_service(
            [sys.executable, "-m", "uvicorn", "--factory", APP, "--host", LOOPBACK, "--port", str(self.port),
             "--log-level", "warning", "--no-access-log"],
            self.workdir / "api.log", f"stac-fastapi-pgstac on port {self.port}",
            lambda: url_answers(f"{self.url}/_mgmt/ping"), timeout, env=env)
        return self

    def _start_postgres(self, timeout: float) -> None:
        data, sockets = self.workdir / "pgdata", self.workdir / "sockets"
        sockets.mkdir(parents=True, exist_ok=True)
        as_postgres = self._as_postgres()
        if not data.exists():
            done = subprocess.run([str(PG_BIN / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust",
                                   "--no-locale", "-E", "UTF8"], capture_output=True, text=True, **as_postgres)
            if done.returncode:
                raise ServiceStartError(f"initdb {data} failed: {(done.stderr or done.stdout)[-2000:]}")
        # a test database: durability off (fsync, full-page writes), so loading items is quick
        self.postgres = start_service(
            [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(self.pg_port),
             "-k", str(sockets), "-c", f"listen_addresses={LOOPBACK}", "-c", "fsync=off",
             "-c", "full_page_writes=off", "-c", "synchronous_commit=off", "-c", "max_connections=50"],
            self.workdir / "postgres.log", f"PostgreSQL on port {self.pg_port}",
            lambda: port_answers(self.pg_port), timeout, **as_postgres)

    def _as_postgres(self) -> dict:
        """``subprocess`` arguments that run a PostgreSQL binary as ``postgres`` when we are root (the
        server is then our own child, so stopping it needs no wrapper to pass the signal on)."""
        if os.geteuid() != 0:
            return {}
        user = pwd.getpwnam(PG_USER)
        for path in [self.workdir, *self.workdir.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def load(self, collections: Iterable[dict], items: Iterable[dict]) -> None:
        """Upsert STAC collection and item dicts (items carry their ``collection``)."""
        from pypgstac.db import PgstacDB
        from pypgstac.load import Loader, Methods

        with PgstacDB(dsn=self.dsn) as db:
            loader = Loader(db=db)
            loader.load_collections(iter(list(collections)), Methods.upsert)
            loader.load_items(iter(items), Methods.upsert)

    def stop(self) -> None:
        if self.api is not None:
            stop_process(self.api, timeout=20.0)
        if self.postgres is not None and self.postgres.poll() is None:
            # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client to leave
            self.postgres.send_signal(signal.SIGINT)
            stop_process(self.postgres, timeout=20.0)
        self.api = self.postgres = None

    def cleanup(self) -> None:
        """Stop both processes and delete the cluster."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

