"""Alerts to incidents: Alertmanager's webhook opens, reopens and resolves incidents.

=================  ============================================================================
module             what it does
=================  ============================================================================
``payload``        the webhook's JSON (Alertmanager webhook version 4), unknown fields ignored
``matching``       an alert's labels -> the CI, its kommune(s) and the priority
``integration``    the ``alertmanager`` system user the integration acts as, and its sessions
``incidents``      one incident per alert fingerprint: open, reopen, resolve (idempotent)
``routes``         ``POST /api/v1/alerts/alertmanager`` (bearer token of the webhook)
``reconcile``      the job that resolves incidents whose alert vanished from Alertmanager
=================  ============================================================================

See collectors/README.md, "Alerts to incidents", for the behaviour and the configuration.
"""
