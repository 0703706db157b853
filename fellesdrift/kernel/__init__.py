"""The kernel's bottom layer: settings, database engine, column types, i18n, problem+json and
web rendering helpers (base templates, static files, the string catalogue).

It imports no domain package (register, sla, servicedesk, billing) and nothing of
``fellesdrift.assembly``; every domain may import it.
"""
