"""Alembic migrations of the metadata schema, run from code by :mod:`vseq_resources.metadata.migrate`."""
