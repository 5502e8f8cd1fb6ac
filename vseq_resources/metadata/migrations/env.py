"""Alembic environment: runs on the connection and schema that ``migrate()`` hands over.

There is no ``alembic.ini``: ``migrate()`` builds the Config in code and passes the open
connection (already inside a transaction and holding the migration lock) and the schema name in
``config.attributes``. The revisions write unqualified DDL, so ``search_path`` points at the target
schema, and the version table lives in that schema too: several archives can share one database.
"""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes["connection"]
schema = config.attributes["schema"]

connection.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
context.configure(
    connection=connection,
    version_table_schema=schema,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
