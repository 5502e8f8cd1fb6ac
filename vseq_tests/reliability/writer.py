"""A writing process for the reliability tests, killed or loaded on purpose.

``record``: record one simulation (visits, two side files, tags, comments, statistics) and print
its UUID; run with ``VSEQ_FAULT_PAUSE`` to stop at a step of the write (``vseq_resources.faults``).

``update``: replace one stored file of a sequence (``archive_file(..., update=True)``) with the
content of a local file; killed at ``in_transaction`` or ``after_update_commit``.

``load``: one of the concurrent load workers: once all are ready (``--ready``/``--go`` files),
for the time window the parent gives, it records
sequences, tags random sequences and comments on them, then writes a JSON ledger of everything
it did successfully, which the parent compares with the database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from pathlib import Path

TAG_POOL = ("prenight", "ideal", "nominal", "variant", "checked", "demo", "load", "shared")
SHARED_TIMES = tuple(
    dt.datetime(2026, 4, 11, 18, 0, tzinfo=dt.UTC) + dt.timedelta(hours=h) for h in (0, 0, 1, 30)
)
"""Creation times shared by all workers: simulations created at the very same instant (ties for
``daily_id``) and on two creation dayobs."""


def record(args: argparse.Namespace) -> None:
    from vseq_tests.reliability.support import big_visits, open_archive

    archive = open_archive(args.db, args.schema, args.store)
    visits = big_visits("2026-04-11", args.visits, seed=args.seed)
    seq = archive.record_sequence(
        "simulations",
        visits,
        label=args.label,
        telescope="simonyi",
        files={"scheduler.py": b"def get_scheduler():\n    ...\n", "notes.txt": b"killed writer\n"},
        tags=["prenight", "ideal", "nominal"],
        comments=[("writer", "recorded by a writer that may be killed")],
        scheduler_version="4.6.0",
    )
    print(seq.uuid, flush=True)


def update(args: argparse.Namespace) -> None:
    from vseq_tests.reliability.support import open_archive

    archive = open_archive(args.db, args.schema, args.store)
    print(archive.archive_file(args.uuid, Path(args.source), args.file_type, update=True), flush=True)


def load(args: argparse.Namespace) -> None:
    from vseq_resources.errors import VseqError
    from vseq_tests.reliability.support import open_archive, small_visits

    rng = random.Random(args.worker)
    archive = open_archive(args.db, args.schema, args.store)
    ledger: dict = {"worker": args.worker, "created": [], "tagged": [], "commented": [], "errors": []}
    Path(args.ready).write_text("ready")  # libraries imported, archive open
    while not Path(args.go).exists():
        time.sleep(0.01)
    start, until = map(float, Path(args.go).read_text().split())
    while time.time() < start:
        time.sleep(0.01)
    n = 0
    while time.time() < until:
        n += 1
        op = rng.choice(("record", "record", "tag", "tag", "comment"))
        try:
            if op == "record" or not ledger["created"] and n < 3:
                when = rng.choice((None, None, *SHARED_TIMES))
                tags = sorted(set(rng.sample(TAG_POOL, rng.randint(0, 3))))
                text = f"w{args.worker}-n{n} at creation"
                seq = archive.record_sequence(
                    "simulations",
                    small_visits("2026-04-11", rng.randint(1, 30), seed=n),
                    label=f"load worker {args.worker} #{n}",
                    telescope=rng.choice(("simonyi", "auxtel")),
                    creation_time=when,
                    tags=tags,
                    comments=[(f"w{args.worker}", text)],
                    files={"notes.txt": f"worker {args.worker} op {n}".encode()},
                )
                ledger["created"].append(
                    {
                        "uuid": str(seq.uuid),
                        "tags": tags,
                        "comment": text,
                        "creation_time": seq.creation_time.isoformat(),
                    }
                )
            else:
                target = _random_sequence(archive, rng)
                if target is None:
                    continue
                if op == "tag":
                    tags = rng.sample(TAG_POOL, rng.randint(1, 3))
                    archive.tag(target, *tags)
                    ledger["tagged"].extend([target, t] for t in tags)
                else:
                    text = f"w{args.worker}-n{n} comment"
                    archive.comment(target, text, author=f"w{args.worker}")
                    ledger["commented"].append([target, text])
        except VseqError as err:
            ledger["errors"].append(f"{op}: {err}")
    archive.metadata.close()
    Path(args.out).write_text(json.dumps(ledger))


def _random_sequence(archive, rng: random.Random) -> str | None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    with archive.metadata.transaction() as conn:
        total = conn.execute(sa.text("SELECT count(*) FROM visitseq")).scalar_one()
        if not total:
            return None
        row = conn.execute(
            sa.text(
                "SELECT visitseq_uuid FROM visitseq ORDER BY creation_time, visitseq_uuid OFFSET :k LIMIT 1"
            ),
            {"k": rng.randrange(total)},
        ).first()
    return str(row[0]) if row else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vseq_tests.reliability.writer")
    sub = parser.add_subparsers(dest="mode", required=True)
    for name in ("record", "update", "load"):
        p = sub.add_parser(name)
        p.add_argument("--db", required=True)
        p.add_argument("--schema", required=True)
        p.add_argument("--store", required=True)
    sub.choices["record"].add_argument("--visits", type=int, default=200)
    sub.choices["record"].add_argument("--seed", type=int, default=0)
    sub.choices["record"].add_argument("--label", default="written by a killed process")
    sub.choices["update"].add_argument("--uuid", required=True)
    sub.choices["update"].add_argument("--file-type", required=True)
    sub.choices["update"].add_argument("--source", required=True, help="The local file of the new content.")
    sub.choices["load"].add_argument("--worker", type=int, required=True)
    sub.choices["load"].add_argument("--ready", required=True, help="File written once ready to start.")
    sub.choices["load"].add_argument("--go", required=True, help="File giving 'start until' (UNIX times).")
    sub.choices["load"].add_argument("--out", required=True)
    args = parser.parse_args(argv)
    {"record": record, "update": update, "load": load}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
