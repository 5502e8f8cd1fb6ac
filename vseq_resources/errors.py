"""The exceptions vseq raises on purpose.

Each carries a message meant for a person: the CLI prints it as one line on stderr, Dagster shows
it as the failure reason. Anything else escaping vseq is a bug.
"""


class VseqError(Exception):
    """Base of every deliberate vseq error."""


class ConfigurationError(VseqError):
    """The archive is configured wrongly or a configured service cannot be reached."""


class DatabaseUnavailableError(ConfigurationError):
    """The metadata database cannot be reached (host down, refused, timed out)."""


class PermissionDeniedError(VseqError, PermissionError):
    """The database role lacks a privilege for this operation (a reader writing, a writer deleting)."""


class NotFoundError(VseqError, LookupError):
    """A visit sequence, file or row that was asked for does not exist."""


class InvalidInputError(VseqError, ValueError):
    """Input that vseq refuses: bad names, values, files or tables."""


class StoreError(VseqError):
    """The data store failed or holds something other than what was recorded."""


class StoreAccessDeniedError(StoreError):
    """The store refused the credentials or the permission (HTTP 403: ``InvalidAccessKeyId``,
    ``SignatureDoesNotMatch``, ``AccessDenied``): never transient, retrying cannot fix it."""


class IntegrityError(StoreError):
    """A stored file does not match its recorded checksum."""


def is_transient(err: BaseException) -> bool:
    """Whether retrying later may succeed: the store or the database was unreachable.

    True for an unreachable database (:class:`DatabaseUnavailableError`, SQLAlchemy's operational
    and interface errors, an invalidated connection) and for a store failure with an underlying
    cause (connection refused, timeout, 5xx). False for every refusal of vseq's own (bad visits, a
    checksum mismatch, "exists with different content", a missing privilege) and for a store
    that refuses the credentials (:class:`StoreAccessDeniedError`): retrying cannot fix those.
    """
    import sqlalchemy as sa

    if isinstance(err, DatabaseUnavailableError):
        return True
    if isinstance(err, StoreError) and not isinstance(err, IntegrityError | StoreAccessDeniedError):
        # The store layer's own failure, not a refusal of ours (which carries no cause).
        return err.__cause__ is not None
    if isinstance(err, sa.exc.OperationalError | sa.exc.InterfaceError):
        return True
    return isinstance(err, sa.exc.DBAPIError) and err.connection_invalidated
