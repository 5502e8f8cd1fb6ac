"""Errors of the storage layer (lsst.resources, boto3, the file system) as vseq errors.

Shared by the store and by anything else that reads store URLs (``read_visits_h5``), so that
every message names the URL without its password and the cause without request details.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from .errors import NotFoundError, StoreAccessDeniedError, StoreError, VseqError


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


_REFUSED_CODES = frozenset(
    {"403", "Forbidden", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}
    | {"ExpiredToken", "TokenRefreshRequired", "AllAccessDisabled", "AccountProblem"}
)
"""S3 error codes of refused credentials or permissions (HTTP 403): retrying cannot help."""


def is_refused(err: BaseException) -> bool:
    """Whether ``err`` says the store refused the credentials or the permission: a botocore
    ``ClientError`` with a refusal code or HTTP status 403, or the `PermissionError`
    lsst.resources raises for a 403 answer to HEAD (or a local file's permissions)."""
    if isinstance(err, PermissionError):
        return True
    response = getattr(err, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in _REFUSED_CODES or status == 403


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
        if is_refused(err):
            fix = (
                "check the S3 credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and their permissions"
                if url.startswith("s3:")
                else "check the permissions of the store's files"
            )
            raise StoreAccessDeniedError(
                f"could not {action} {public_url(url)}: access refused ({describe_error(err)}); {fix}"
            ) from err
        raise StoreError(f"could not {action} {public_url(url)}: {describe_error(err)}") from err
