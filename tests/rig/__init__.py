"""The test rig: real servers started on loopback for the suite, and fresh databases per test.

Fixtures (imported into ``tests/conftest.py``):

* ``pg_server`` (session): a PostgreSQL server; ``.url(dbname)`` and ``.admin_url``.
* ``pg_template`` (session): name of a database migrated to head, the template for the others.
* ``pg_url`` (function): URL of a fresh, migrated database of its own; dropped afterwards.
* ``pg_engine`` (function): ``fellesdrift.kernel.db.make_engine(pg_url)``, disposed afterwards.
* ``pg_empty_url`` (function): URL of a fresh database without any tables (migration tests).
* ``pg_admin`` (session): an AUTOCOMMIT engine on the server's ``postgres`` database.
* ``sqlite_url`` (function): URL of a fresh, migrated SQLite file under ``tmp_path``.

Tests that use a PostgreSQL or SQLite fixture get the ``postgres`` or ``sqlite`` marker.
"""
