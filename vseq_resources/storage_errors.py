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


@contextlib.contextmanager
def store_errors(action: str, url: str) -> Iterator[None]:
    """Turn whatever the storage layer raises into `NotFoundError` or `StoreError`."""
    try:
        yield
    except VseqError:
        raise
    except FileNotFoundError:
        raise NotFoundError(f"could not {action} {public_url(url)}: it does not exist") from None
    except Exception as err:
        raise StoreError(f"could not {action} {public_url(url)}: {describe_error(err)}") from err
