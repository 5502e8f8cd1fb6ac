"""A refused S3 credential fails at once (issue 19, point 9).

SeaweedFS checks request signatures: a store whose secret key is wrong gets HTTP 403
(``SignatureDoesNotMatch``) on every request. The write must fail on the first refusal with
one line naming the fix, and the error must not count as transient (so Dagster's retry policy
does not retry it either). Attempts are counted with botocore's ``before-send`` event: every
HTTP request the client sends, retries included.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.errors import StoreAccessDeniedError, StoreError, is_transient
from vseq_resources.store import ArchiveStore
from vseq_tests import services
from vseq_tests.reliability.support import row_counts, small_visits


@pytest.fixture
def wrong_secret_store(
    s3_server: services.S3Server, s3_base: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ArchiveStore, list[str]]]:
    """The test bucket through an lsst.resources profile whose secret key is wrong, and the
    list of requests its client sends."""
    endpoint = urlsplit(s3_server.endpoint)
    key = s3_server.env["AWS_ACCESS_KEY_ID"]
    monkeypatch.setenv(
        "LSST_RESOURCES_S3_PROFILE_wrongsecret", f"http://{key}:not-the-secret@{endpoint.netloc}"
    )
    store = ArchiveStore(s3_base.replace("s3://", "s3://wrongsecret@", 1))
    sent: list[str] = []

    def count(request, **_: object) -> None:  # type: ignore[no-untyped-def]
        sent.append(f"{request.method} {request.url}")

    client = store.base.client
    client.meta.events.register("before-send.s3", count)
    yield store, sent
    client.meta.events.unregister("before-send.s3", count)


def test_wrong_secret_fails_at_once(
    s3_archive: VisitSequenceArchive, wrong_secret_store: tuple[ArchiveStore, list[str]]
) -> None:
    store, sent = wrong_secret_store
    refused = VisitSequenceArchive(s3_archive.metadata, store)
    before = row_counts(s3_archive)
    with pytest.raises(StoreError) as caught:
        refused.record_sequence(
            "simulations", small_visits("2026-04-10"), label="refused", telescope="simonyi"
        )
    error = caught.value
    # The fault happened: the server refused the signature (HTTP 403).
    assert isinstance(error, StoreAccessDeniedError), repr(error)
    assert "403" in str(error) or "SignatureDoesNotMatch" in str(error) or "Forbidden" in str(error), error
    assert "AWS_SECRET_ACCESS_KEY" in str(error) and "\n" not in str(error)
    assert "not-the-secret" not in str(error)
    # Failed at the first refusal: one request, no retry, and not transient for Dagster either.
    assert len(sent) == 1, sent
    assert not is_transient(error)
    assert row_counts(s3_archive) == before

    # Each store operation alone also stops at its first refused request.
    for operation in (
        lambda: store.exists(str(store.base.join("x"))),
        lambda: store.read_bytes(str(store.base.join("x"))),
        lambda: list(store.walk_files()),
    ):
        sent.clear()
        with pytest.raises(StoreAccessDeniedError):
            operation()
        assert len(sent) == 1, sent


def test_refused_is_not_transient_but_an_outage_is() -> None:
    """The classification itself: a refusal is permanent, a store failure with a cause is not."""
    try:
        raise ConnectionError("connection refused")
    except ConnectionError as cause:
        outage = StoreError("could not store x: ConnectionError")
        outage.__cause__ = cause
    assert is_transient(outage)
    refusal = StoreAccessDeniedError("could not store x: access refused")
    refusal.__cause__ = PermissionError("403")
    assert not is_transient(refusal)
