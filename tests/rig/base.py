"""What the server fixtures share: free ports, Docker detection, root handling, failures."""

from __future__ import annotations

import os
import socket
from functools import cache
from typing import NoReturn

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (callers retry on a clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def is_root() -> bool:
    return os.geteuid() == 0


def worker_id() -> str:
    """``gw0``, ``gw1``, ... under pytest-xdist, ``main`` otherwise."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _unix_socket_answers(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        try:
            sock.connect(path)
        except OSError:
            return False
        return True


@cache
def docker_reachable() -> bool:
    """True if a Docker engine answers within a few seconds (then testcontainers is used)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    # docker-py leaks its socket when the connection fails, which -W error turns into a test
    # error; so a missing local engine is detected here first.
    if host.startswith("unix://") and not _unix_socket_answers(host.removeprefix("unix://")):
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def missing(what: str, package: str) -> NoReturn:
    """Fail (never skip) with the command that installs what is missing."""
    pytest.fail(
        f"{what} not found, and no Docker engine is reachable for testcontainers. "
        f"Install it with: apt-get install -y {package}",
        pytrace=False,
    )
