"""Routers of the service desk's tickets: the REST API and the pages."""
