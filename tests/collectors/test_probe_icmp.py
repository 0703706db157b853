"""The icmp probe: echo to loopback with each socket kind, and the error when none is allowed.

The unprivileged and the refused cases run in a network namespace of their own (``unshare
--net``), where the test sets ``net.ipv4.ping_group_range`` without touching the machine's, and
without CAP_NET_RAW (``setpriv``), so the probe gets exactly the privileges the case is about.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.probes import Reason
from tests.collectors.helpers import run_probe
from tests.rig.base import is_root

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import json, sys
from tests.collectors.helpers import run_probe
host, kind, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
out, error = run_probe("icmp", host, timeout=timeout, socket=kind)
print(json.dumps({"reason": error.reason.value if error else None,
                  "detail": error.detail if error else "",
                  "rtt": out.get("probe_icmp_duration_seconds", phase="rtt")}))
"""


def _in_namespace(
    setup: str, host: str = "127.0.0.1", socket_kind: str = "auto", timeout: float = 2.0
) -> dict[str, object]:
    """Run the probe in a new network namespace prepared by ``setup``, without CAP_NET_RAW."""
    if not is_root() or shutil.which("unshare") is None or shutil.which("setpriv") is None:
        pytest.fail(
            "these tests need root with unshare and setpriv (apt-get install -y util-linux)"
        )
    inner = (
        f"ip link set lo up && {setup} && "
        f"exec setpriv --inh-caps=-net_raw --bounding-set=-net_raw "
        f"{sys.executable} -c '{SCRIPT}' {host} {socket_kind} {timeout}"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["unshare", "--net", "sh", "-c", inner],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _ping_range(value: str) -> str:
    return f"echo '{value}' > /proc/sys/net/ipv4/ping_group_range"


def test_echo_to_loopback_v4_and_v6() -> None:
    for host in ("127.0.0.1", "::1"):
        out, error = run_probe("icmp", host, timeout=2)
        assert error is None, (host, error)
        assert 0 < out.value("probe_icmp_duration_seconds", phase="rtt") < 1
        assert out.get("probe_icmp_reply_hop_limit") == 64
        assert out.get("probe_ip_protocol") == (6 if ":" in host else 4)


def test_raw_socket_when_root() -> None:
    assert is_root(), "CI runs as root; the raw socket case needs it"
    out, error = run_probe("icmp", "127.0.0.1", timeout=2, socket="raw")
    assert error is None, error
    assert out.get("probe_icmp_reply_hop_limit") == 64


def test_unprivileged_ping_socket_where_the_kernel_allows_it() -> None:
    result = _in_namespace(_ping_range("0 2147483647"))
    assert result["reason"] is None, result
    assert result["rtt"] is not None


def test_clear_error_when_no_icmp_socket_is_allowed() -> None:
    result = _in_namespace(_ping_range("1 0"))
    assert result["reason"] == Reason.PERMISSION.value
    detail = str(result["detail"])
    assert "net.ipv4.ping_group_range (now 1 0" in detail
    assert "CAP_NET_RAW" in detail and "sysctl -w" in detail


def test_no_route_and_no_answer() -> None:
    allowed = _ping_range("0 2147483647")
    result = _in_namespace(allowed, host="192.0.2.7")  # no route in a namespace with only lo
    assert result["reason"] == Reason.UNREACHABLE.value, result
    # A host that ignores echo requests (set in the namespace only): the probe times out.
    silent = "echo 1 > /proc/sys/net/ipv4/icmp_echo_ignore_all"
    result = _in_namespace(f"{allowed} && {silent}", timeout=0.3)
    assert result["reason"] == Reason.TIMEOUT.value, result


def test_rejects_a_port() -> None:
    with pytest.raises(ValueError, match="without a port"):
        run_probe("icmp", "example.kommune.no:22")
