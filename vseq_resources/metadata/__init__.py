"""The metadata database of the archive: schema, migrations and every query.

``MetadataDatabase`` is the interface; ``migrate`` creates, upgrades or adopts a schema.
"""

from .database import MetadataDatabase
from .migrate import current_revision, head_revision, migrate

__all__ = ["MetadataDatabase", "current_revision", "head_revision", "migrate"]
