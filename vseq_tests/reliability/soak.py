"""Concurrent writers against one archive, then a full accounting of what they wrote.

Each worker is a separate process (``writer.py load``) that records sequences (some at creation
times shared by all workers, so ``daily_id`` ties are exercised), tags random sequences (so
workers race on the same tags) and comments on them, for a fixed time, and keeps a ledger of
every operation that succeeded. Afterwards every ledger entry must be in the database exactly
once and nothing else may be: no lost or duplicated rows, tags unique, ``daily_id`` 1..n without
gaps per creation dayobs, every file verified, no orphan.

The documented soak (docs/reliability.md)::

    uv run python -m vseq_tests.reliability.soak --seconds 30 --workers 8 [--s3]

CI runs the same with 8 workers for 10 s (``test_load.py``).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from vseq_resources.archive import VisitSequenceArchive
from vseq_tests.reliability.support import REPO, open_archive, subprocess_env, writer_command


def run_load(
    db_url: str, schema: str, store: str, workdir: Path, workers: int = 8, seconds: float = 10
) -> list[dict]:
    """Start ``workers`` writer processes together for ``seconds``; return their ledgers."""
    go = workdir / "go"
    processes = []
    for worker in range(workers):
        out = workdir / f"ledger-{worker}.json"
        log = open(workdir / f"worker-{worker}.log", "w")  # noqa: SIM115
        processes.append(
            (
                out,
                subprocess.Popen(
                    writer_command(
                        "load",
                        db_url,
                        schema,
                        store,
                        "--worker",
                        str(worker),
                        "--ready",
                        str(workdir / f"ready-{worker}"),
                        "--go",
                        str(go),
                        "--out",
                        str(out),
                    ),
                    env=subprocess_env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=REPO,
                ),
            )
        )
    deadline = time.monotonic() + 300
    while not all((workdir / f"ready-{w}").exists() for w in range(workers)):
        if time.monotonic() > deadline or any(p.poll() is not None for _, p in processes):
            for _, p in processes:
                p.kill()
            raise AssertionError(f"load workers did not all start; logs in {workdir}")
        time.sleep(0.05)
    start = time.time() + 0.5
    go.write_text(f"{start} {start + seconds}")
    ledgers = []
    for out, process in processes:
        code = process.wait(timeout=seconds + 300)
        if code != 0:
            raise AssertionError(
                f"load worker failed ({code}): {out.with_suffix('.log')}\n"
                + (out.parent / f"worker-{out.stem.split('-')[1]}.log").read_text()[-3000:]
            )
        ledgers.append(json.loads(out.read_text()))
    return ledgers


def check_load(archive: VisitSequenceArchive, ledgers: list[dict]) -> dict[str, Any]:
    """Compare the ledgers with the database and the store; raise AssertionError on any loss."""
    errors = [e for ledger in ledgers for e in ledger["errors"]]
    assert not errors, errors[:5]
    created = [c for ledger in ledgers for c in ledger["created"]]
    created_ids = [c["uuid"] for c in created]
    assert len(set(created_ids)) == len(created_ids), "a UUID was handed out twice"
    with archive.metadata.transaction() as conn:
        q = lambda sql: conn.execute(sa.text(sql)).all()  # noqa: E731
        sequences = collections.Counter(str(r[0]) for r in q("SELECT visitseq_uuid FROM visitseq"))
        tags = collections.Counter((str(u), t) for u, t in q("SELECT visitseq_uuid, tag FROM tags"))
        comments = collections.Counter(
            (str(u), c) for u, c in q("SELECT visitseq_uuid, comment FROM comments")
        )
        stats = collections.Counter(str(r[0]) for r in q("SELECT visitseq_uuid FROM nightly_stats"))
        files = collections.Counter(str(r[0]) for r in q("SELECT visitseq_uuid FROM files"))
        daily = q("SELECT sim_creation_day_obs, daily_id, visitseq_uuid FROM simulations_extra")
    # Sequences: exactly the ones the workers were told were recorded, once each.
    assert sorted(sequences) == sorted(created_ids), "lost or unexpected sequences"
    assert max(sequences.values(), default=1) == 1
    # Tags: unique, and exactly the union of what was asked.
    wanted_tags = {(c["uuid"], t) for c in created for t in c["tags"]}
    wanted_tags |= {(u, t) for ledger in ledgers for u, t in ledger["tagged"]}
    assert max(tags.values(), default=1) == 1, "duplicated tag rows"
    assert set(tags) == wanted_tags, "lost or unexpected tags"
    # Comments: every one present exactly once (each text is unique).
    wanted_comments = collections.Counter((c["uuid"], c["comment"]) for c in created)
    wanted_comments.update((u, text) for ledger in ledgers for u, text in ledger["commented"])
    assert comments == wanted_comments, "lost or duplicated comments"
    # Files and statistics recorded with every sequence.
    assert all(files[u] == 1 for u in created_ids) and sum(files.values()) == len(created_ids)
    assert all(stats[u] > 0 for u in created_ids)
    # daily_id: 1..n without gaps or repeats on every creation dayobs, and the lookup agrees.
    by_day: dict[dt.date, list[int]] = collections.defaultdict(list)
    for day, daily_id, _ in daily:
        by_day[day].append(daily_id)
    for day, ids in by_day.items():
        assert sorted(ids) == list(range(1, len(ids) + 1)), (day, sorted(ids))
    for day, daily_id, seq in daily:
        assert archive.metadata.uuid_for_daily_id(day, daily_id) == seq
    # The store: every file verified, no orphan.
    report = archive.verify(grace=dt.timedelta(0))
    assert report.ok and not report.orphans and not report.young_orphans, report.lines()[:10]
    assert report.checked == 2 * len(created_ids)
    return {
        "workers": len(ledgers),
        "sequences_recorded": len(created_ids),
        "tag_operations": sum(len(ledger["tagged"]) for ledger in ledgers),
        "tag_rows": sum(tags.values()),
        "comment_rows": sum(comments.values()),
        "creation_dayobs": len(by_day),
        "largest_daily_id": max((len(v) for v in by_day.values()), default=0),
        "files_verified": report.checked,
        "rows_checked": sum(sequences.values())
        + sum(tags.values())
        + sum(comments.values())
        + sum(files.values())
        + sum(stats.values()),
    }


def main(argv: list[str] | None = None) -> None:
    from vseq_tests import services

    parser = argparse.ArgumentParser(
        prog="python -m vseq_tests.reliability.soak", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--s3", action="store_true", help="Use a SeaweedFS S3 store instead of file://.")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="vseq-soak-", dir="/var/tmp"))
    db_url = services.postgres_server_url(workdir / "pg")
    schema = services.new_schema_name("test_soak")
    server = None
    if args.s3:
        import os

        server = services.start_s3_server(workdir / "s3")
        os.environ.update(server.env)
        store = f"s3://{server.create_bucket()}/vseq/"
    else:
        (workdir / "archive").mkdir()
        store = (workdir / "archive").as_uri() + "/"
    archive = open_archive(db_url, schema, store, create=True)
    try:
        began = time.monotonic()
        ledgers = run_load(db_url, schema, store, workdir, args.workers, args.seconds)
        summary = check_load(archive, ledgers)
        summary.update(
            seconds=args.seconds, store=store.split(":")[0], wall_seconds=round(time.monotonic() - began, 1)
        )
        print(json.dumps(summary, indent=2))
    finally:
        archive.metadata.close()
        services.drop_schema(db_url, schema)
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
