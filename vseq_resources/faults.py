"""Named pause points for the fault-injection tests (see ``docs/reliability.md``).

The reliability tests kill a writing process (a real ``SIGKILL``) at exact steps of recording a
sequence, or stop a server while a write is in flight. To make those moments deterministic, the
write path calls :func:`fault_point` at a few named places:

- ``before_upload``: a file is about to be stored (nothing of it sent yet, not even a check);
- ``during_upload``: a file upload has sent at least one chunk and not yet the last one;
- ``after_visits_upload``: ``visits.h5`` is stored and verified, side files are not yet;
- ``before_transaction``: every file is stored, the database transaction has not begun;
- ``in_transaction``: every row is inserted, the transaction is not yet committed (also in an
  update of a stored file: the new content is staged beside the committed file);
- ``after_update_commit``: an update's rows are committed, its staged content is not yet moved
  into place;
- ``before_read_back``: a pipeline step has archived its sequence(s) and its checks are about to
  read them back (the blocking-check tests change the stored file here).

When ``VSEQ_FAULT_PAUSE`` names a point (a comma-separated list may name several), the first
time the process reaches it for a given marker, it writes ``<point> <pid>`` to the file
``VSEQ_FAULT_MARKER`` and waits until a test removes that file (or ``VSEQ_FAULT_TIMEOUT``
seconds pass, default 600), then goes on. The test either kills the process while it waits or
changes the world (stops the store or the database) and removes the marker to let the write
continue into the failure.

Unset, which it always is in production, a point costs one environment lookup.
"""

from __future__ import annotations

import os
import time

PAUSE_ENV = "VSEQ_FAULT_PAUSE"
MARKER_ENV = "VSEQ_FAULT_MARKER"
TIMEOUT_ENV = "VSEQ_FAULT_TIMEOUT"

_passed: set[tuple[str, str]] = set()


def fault_point(name: str) -> None:
    """Pause here if the fault-injection environment asks for it (else return at once)."""
    wanted = os.environ.get(PAUSE_ENV)
    if not wanted or name not in wanted.split(","):
        return
    marker = os.environ.get(MARKER_ENV)
    if not marker or (name, marker) in _passed:
        return
    _passed.add((name, marker))
    tmp = f"{marker}.{os.getpid()}.tmp"
    with open(tmp, "w") as out:
        out.write(f"{name} {os.getpid()}\n")
    os.replace(tmp, marker)  # the test sees the marker whole or not at all
    deadline = time.monotonic() + float(os.environ.get(TIMEOUT_ENV) or 600)
    while os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
