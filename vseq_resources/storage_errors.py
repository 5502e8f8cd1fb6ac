"""Errors of the storage layer (lsst.resources, boto3, the file system) as vseq errors.

Shared by the store and by anything else that reads store URLs (``read_visits_h5``), so that
every message names the URL without its password and the cause without request details.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from .errors import NotFoundError, StoreError, VseqError


def public_url(url: str) -> str:
    """The URL without any user-info password, fit for messages."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    if sep and "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    return f"{scheme}{sep}{netloc}{slash}{path}"


def describe_error(err: BaseException) -> str:
    """One line naming what went wrong, without request details or secrets."""
    response = getattr(err, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        text = f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip()
    else:
        text = f"{type(err).__name__}: {err}"
    text = " ".join(text.split())
    for variable in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"):
        secret = os.environ.get(variable)
        if secret:
            text = text.replace(secret, "***")
    return text


_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
"""The S3 error codes of a missing object (GET says NoSuchKey, HEAD only 404 or NotFound)."""


def is_missing(err: BaseException) -> bool:
    """Whether ``err`` says the object does not exist: a `FileNotFoundError` (local files, and
    what lsst.resources raises for most missing S3 keys), a `NotFoundError`, or a botocore
    ``ClientError`` with a missing-object code (what escapes lsst.resources otherwise)."""
    if isinstance(err, FileNotFoundError | NotFoundError):
        return True
    response = getattr(err, "response", None)
    return isinstance(response, dict) and str(response.get("Error", {}).get("Code", "")) in _MISSING_CODES


@contextlib.contextmanager
def store_errors(action: str, url: str) -> Iterator[None]:
    """Turn whatever the storage layer raises into `NotFoundError` or `StoreError`."""
    try:
        yield
    except VseqError:
        raise
    except Exception as err:
        if is_missing(err):
            raise NotFoundError(f"could not {action} {public_url(url)}: it does not exist") from None
        raise StoreError(f"could not {action} {public_url(url)}: {describe_error(err)}") from err
