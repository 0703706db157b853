"""The assembly, the top layer: the CLI, the web app and its router mounting, the table registry
for Alembic, the migrations, serving and the demo.

It may import every domain package; no package imports it.
"""
