"""One test of "the object does not exist" for every storage error (``storage_errors.is_missing``),
against what a real S3 server (SeaweedFS) and the file system raise."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from vseq_resources.errors import NotFoundError, StoreError
from vseq_resources.storage_errors import is_missing, store_errors
from vseq_resources.store import ArchiveStore


def _raised(call) -> BaseException:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception) as caught:
        call()
    return caught.value


def test_missing_objects_as_each_layer_reports_them(s3_base: str, tmp_path: Path) -> None:
    store = ArchiveStore(s3_base)
    client, bucket = store.base.client, store.base.netloc
    key = "opsim/vseq/no/such/object"
    by_get = _raised(lambda: client.get_object(Bucket=bucket, Key=key))
    by_head = _raised(lambda: client.head_object(Bucket=bucket, Key=key))
    assert isinstance(by_get, ClientError) and isinstance(by_head, ClientError)
    assert by_get.response["Error"]["Code"] == "NoSuchKey"  # GET names it
    assert by_head.response["Error"]["Code"] in {"404", "NotFound"}  # HEAD has no body to say more
    local = _raised(lambda: (tmp_path / "absent").read_bytes())
    assert is_missing(NotFoundError("gone"))
    for err in (by_get, by_head, local):
        assert is_missing(err), repr(err)
        with pytest.raises(NotFoundError, match="does not exist"), store_errors("read", "s3://b/k"):
            raise err


def test_other_failures_are_not_missing_objects(s3_base: str) -> None:
    """A missing bucket is a configuration problem, not a missing file: it must not read as
    "nothing stored yet"."""
    client = ArchiveStore(s3_base).base.client
    no_bucket = _raised(lambda: client.get_object(Bucket="no-such-bucket-vseq", Key="k"))
    assert isinstance(no_bucket, ClientError) and no_bucket.response["Error"]["Code"] == "NoSuchBucket"
    for err in (no_bucket, PermissionError("denied"), ValueError("bad")):
        assert not is_missing(err), repr(err)
    with pytest.raises(StoreError, match="NoSuchBucket"), store_errors("read", "s3://b/k"):
        raise no_bucket
