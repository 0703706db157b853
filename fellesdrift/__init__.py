"""fellesdrift: the kernel at the bottom and the assembly on top.

``fellesdrift.kernel`` is the bottom layer: settings, the database engine, column types, the
string catalogue, problem+json errors and web rendering helpers. It imports no domain package.

``fellesdrift.assembly`` is the top layer: the CLI, the web app with every domain's routers,
the table registry for Alembic, the migrations, serving and the demo. It may import everything.

The domain packages sit between them (see pyproject.toml, ``[tool.importlinter]``)::

    fellesdrift.assembly
    billing                 price model, invoices and the monthly reports
    servicedesk             tickets, changes, alerts -> incidents
    sla                     calendars, agreements, clock rules
    register                kommuner, people, roles, sign-in, access layer, systems register
    fellesdrift.kernel

collectors and dashboards import none of these.
"""

__version__ = "0.1.0"
