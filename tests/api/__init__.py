"""Tests of the REST API, one module per router, through real bearer tokens."""
