"""The service desk's logic: plain functions taking a session bound to a principal."""
