"""The deploy tests reuse the collector tests' real servers (sshd, HTTP and HTTPS targets, a PKI)
and their running-collector fixture."""

from tests.collectors.conftest import collector, http_target, https_target, pki, sshd

__all__ = ["collector", "http_target", "https_target", "pki", "sshd"]
