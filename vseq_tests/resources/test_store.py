"""ArchiveStore on real stores: a local directory and a SeaweedFS S3 server."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from pathlib import Path

import botocore.exceptions
import numpy as np
import pandas as pd
import pytest
from lsst.resources import ResourcePath

from vseq_resources.errors import IntegrityError, InvalidInputError, NotFoundError, StoreError
from vseq_resources.store import ArchiveStore, StoredFile
from vseq_resources.visits import read_visits_h5, visits_content_hash

SEQ = uuid.UUID("3f2b9c1e-8d4a-4e6f-9b1c-2a7d5e8f0c13")
DAY = dt.date(2025, 10, 16)
TENANT_BASE = "s3://rubin:rubin-scheduler-prenight/opsim/vseq/"


def _big_payload(size: int = 20 * 1024 * 1024 + 123) -> bytes:
    """More than two transfer chunks, and past boto3's multipart threshold."""
    return np.random.default_rng(7).integers(0, 256, size, dtype=np.uint8).tobytes()


def test_layout_matches_the_reference(file_base: str) -> None:
    store = ArchiveStore(file_base)
    directory = store.sequence_dir("simonyi", "20251016", str(SEQ).upper())
    assert str(directory) == f"{file_base}simonyi/2025-10-16/{SEQ}/"
    assert (
        str(store.file_path("auxtel", DAY, SEQ, "visits.h5"))
        == f"{file_base}auxtel/2025-10-16/{SEQ}/visits.h5"
    )


def test_tenant_bucket_url_is_kept_intact() -> None:
    store = ArchiveStore(TENANT_BASE)
    url = str(store.file_path("simonyi", DAY, SEQ, "visits.h5"))
    assert url == f"{TENANT_BASE}simonyi/2025-10-16/{SEQ}/visits.h5"
    assert ResourcePath(url).netloc == "rubin:rubin-scheduler-prenight"


@pytest.mark.parametrize(
    ("telescope", "dayobs", "seq", "name"),
    [
        ("lsst", DAY, SEQ, "visits.h5"),
        ("simonyi", "2025-13-01", SEQ, "visits.h5"),
        ("simonyi", DAY, "not-a-uuid", "visits.h5"),
        ("simonyi", DAY, SEQ, ""),
        ("simonyi", DAY, SEQ, "../escape.h5"),
        ("simonyi", DAY, SEQ, "a/b.h5"),
        ("simonyi", DAY, SEQ, "a\\b.h5"),
        ("simonyi", DAY, SEQ, ".."),
        ("simonyi", DAY, SEQ, "bell\x07.h5"),
        ("simonyi", DAY, SEQ, "new\nline"),
        ("simonyi", DAY, SEQ, "frag#ment"),
    ],
)
def test_invalid_names_are_refused(file_base: str, telescope, dayobs, seq, name) -> None:
    store = ArchiveStore(file_base)
    with pytest.raises(InvalidInputError):
        store.put_file(telescope, dayobs, seq, b"x", name)
    assert list(store.walk_files()) == []


def test_put_read_and_idempotence(store_base: str, tmp_path: Path) -> None:
    store = ArchiveStore(store_base)
    stored = store.put_file("simonyi", DAY, SEQ, b"hello archive", "notes.txt")
    assert stored == StoredFile(
        url=f"{store_base}simonyi/2025-10-16/{SEQ}/notes.txt",
        sha256=hashlib.sha256(b"hello archive").digest(),
        size=13,
    )
    assert store.exists(stored.url)
    assert store.read_bytes(stored.url) == b"hello archive"
    assert store.sha256_of(stored.url) == stored.sha256

    source = tmp_path / "notes.txt"
    source.write_bytes(b"hello archive")
    assert store.put_file("simonyi", DAY, SEQ, source, "notes.txt") == stored

    with pytest.raises(StoreError, match="already exists with different content"):
        store.put_file("simonyi", DAY, SEQ, b"something else", "notes.txt")
    assert store.read_bytes(stored.url) == b"hello archive"

    replaced = store.put_file("simonyi", DAY, SEQ, b"something else", "notes.txt", overwrite=True)
    assert store.read_bytes(replaced.url) == b"something else"


def test_large_file_streams_with_progress(store_base: str, tmp_path: Path) -> None:
    store = ArchiveStore(store_base)
    payload = _big_payload()
    source = tmp_path / "opsim.db"
    source.write_bytes(payload)
    calls: list[tuple[int, int]] = []
    stored = store.put_file(
        "auxtel", DAY, SEQ, source, "opsim.db", progress=lambda d, t: calls.append((d, t))
    )
    digest = hashlib.sha256(payload).digest()
    assert (stored.sha256, stored.size) == (digest, len(payload))
    assert len(calls) >= 3 and calls[-1] == (len(payload), len(payload))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert store.sha256_of(stored.url) == digest

    downloads: list[tuple[int, int]] = []
    destination = tmp_path / "out" / "copy.db"
    got = store.get_file(stored.url, destination, progress=lambda d, t: downloads.append((d, t)))
    assert got == digest and destination.read_bytes() == payload
    assert downloads[-1] == (len(payload), len(payload))
    assert [p.name for p in destination.parent.iterdir()] == ["copy.db"]


def test_failed_upload_leaves_nothing(store_base: str, tmp_path: Path) -> None:
    store = ArchiveStore(store_base)
    source = tmp_path / "big.bin"
    source.write_bytes(_big_payload())

    def interrupt(done: int, total: int) -> None:
        if done > 9 * 1024 * 1024:
            raise OSError("disk went away")

    with pytest.raises((OSError, StoreError), match="disk went away"):
        store.put_file("simonyi", DAY, SEQ, source, "big.bin", progress=interrupt)
    assert not store.exists(str(store.file_path("simonyi", DAY, SEQ, "big.bin")))
    assert list(store.walk_files()) == []


def test_get_file_checks_expected_hash_before_replacing(store_base: str, tmp_path: Path) -> None:
    store = ArchiveStore(store_base)
    stored = store.put_file("simonyi", DAY, SEQ, b"new content", "rewards.h5")
    destination = tmp_path / "downloads" / "rewards.h5"
    destination.parent.mkdir()
    destination.write_bytes(b"old local copy")
    with pytest.raises(IntegrityError):
        store.get_file(stored.url, destination, expected_sha256=hashlib.sha256(b"other").digest())
    assert destination.read_bytes() == b"old local copy"
    assert [p.name for p in destination.parent.iterdir()] == ["rewards.h5"]
    store.get_file(stored.url, destination, expected_sha256=stored.sha256)
    assert destination.read_bytes() == b"new content"


def test_integrity_failure_removes_the_written_file(file_base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ArchiveStore(file_base)
    monkeypatch.setattr(store, "sha256_of", lambda url: b"\0" * 32)
    with pytest.raises(IntegrityError, match="read back"):
        store.put_file("simonyi", DAY, SEQ, b"payload", "x.bin")
    monkeypatch.undo()
    assert not store.exists(str(store.file_path("simonyi", DAY, SEQ, "x.bin")))


def test_missing_objects(store_base: str, tmp_path: Path) -> None:
    store = ArchiveStore(store_base)
    missing = str(store.file_path("simonyi", DAY, SEQ, "absent.h5"))
    assert store.exists(missing) is False
    for call in (store.read_bytes, store.sha256_of):
        with pytest.raises(NotFoundError, match="does not exist"):
            call(missing)
    with pytest.raises(NotFoundError):
        store.get_file(missing, tmp_path / "absent.h5")
    assert not (tmp_path / "absent.h5").exists()
    store.delete(missing)  # a missing object is fine


def test_delete_and_local_copy(store_base: str) -> None:
    store = ArchiveStore(store_base)
    stored = store.put_file("auxtel", DAY, SEQ, b"abc", "a.txt")
    with store.local_copy(stored.url) as local:
        assert local.read_bytes() == b"abc"
    store.delete(stored.url)
    assert not store.exists(stored.url)
    store.delete(stored.url)
    if store_base.startswith("file://"):
        assert list(Path(ResourcePath(store_base).ospath).iterdir()) == []


def test_delete_refuses_urls_outside_the_store(file_base: str, tmp_path: Path) -> None:
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    with pytest.raises(InvalidInputError, match="not inside the store"):
        ArchiveStore(file_base).delete(outside.as_uri())
    assert outside.exists()


def test_walk_files_reports_layout_and_skips_strays(store_base: str) -> None:
    store = ArchiveStore(store_base)
    other = uuid.uuid4()
    store.put_file("simonyi", DAY, SEQ, b"1", "visits.h5")
    store.put_file("simonyi", DAY, SEQ, b"2", "rewards.h5")
    store.put_file("auxtel", "2025-10-17", other, b"3", "opsim.db")
    ResourcePath(store_base).join("README.txt").write(b"not a sequence file")
    ResourcePath(store_base).join("simonyi/not-a-date/x/y.txt").write(b"stray")
    entries = sorted(store.walk_files(), key=lambda e: e.url)
    assert [(e.telescope, e.dayobs, e.uuid, e.name) for e in entries] == [
        ("auxtel", dt.date(2025, 10, 17), other, "opsim.db"),
        ("simonyi", DAY, SEQ, "rewards.h5"),
        ("simonyi", DAY, SEQ, "visits.h5"),
    ]
    assert all(store.read_bytes(e.url) for e in entries)


def test_put_visits_round_trip(store_base: str) -> None:
    store = ArchiveStore(store_base)
    visits = pd.DataFrame(
        {
            "observationStartMJD": [61000.1, 61000.2, 61001.1],
            "band": ["g", "r", "i"],
            "altitude": [45.0, 50.0, 55.0],
        }
    )
    info = pd.DataFrame({"Parameter": ["version"], "Value": ["4.6.0"]})
    stored = store.put_visits("simonyi", DAY, SEQ, visits, {"info": info})
    assert stored.url.endswith(f"/{SEQ}/visits.h5")
    back = read_visits_h5(stored.url)
    assert visits_content_hash(back) == visits_content_hash(visits)
    assert read_visits_h5(stored.url, key="info")["Value"].tolist() == ["4.6.0"]
    assert len(read_visits_h5(stored.url, nights=["2025-11-20"])) == 2


def test_tenant_bucket_request_reaches_the_server(s3_server, monkeypatch: pytest.MonkeyPatch) -> None:
    """With validation disabled, the colon bucket name is sent as is, and SeaweedFS refuses it.

    Production Ceph accepts ``tenant:bucket`` names; SeaweedFS does not, so the best check here is
    that the refusal comes from the server (InvalidBucketName), not from botocore's client side.
    """
    monkeypatch.setenv("LSST_DISABLE_BUCKET_VALIDATION", "1")
    store = ArchiveStore(TENANT_BASE)
    with pytest.raises(StoreError, match="InvalidBucketName") as info:
        store.put_file("simonyi", DAY, SEQ, b"x", "visits.h5")
    cause = info.value.__cause__
    assert isinstance(cause, botocore.exceptions.ClientError)
    assert cause.response["Error"]["Code"] == "InvalidBucketName"
    assert cause.response["Error"]["BucketName"] == "rubin:rubin-scheduler-prenight"
    assert cause.response["Error"]["Key"] == f"opsim/vseq/simonyi/2025-10-16/{SEQ}/visits.h5"
    assert cause.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = str(info.value)
    assert message.startswith(f"could not store {TENANT_BASE}simonyi/") and "\n" not in message
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in message


def test_interrupted_upload_stops_and_leaves_nothing(store_base: str, tmp_path: Path) -> None:
    """Ctrl-C seen by a progress callback (which boto3 runs in a worker thread) ends the upload."""
    store = ArchiveStore(store_base)
    source = tmp_path / "big.bin"
    source.write_bytes(_big_payload())

    def interrupt(done: int, total: int) -> None:
        if done > 9 * 1024 * 1024:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.put_file("simonyi", DAY, SEQ, source, "big.bin", progress=interrupt)
    assert list(store.walk_files()) == []
