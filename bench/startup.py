"""Start-up of the demo to a served page, against a bare FastAPI app served the same way.

    python -m bench.startup --runs 5

Each run starts a fresh process in an empty folder and times until GET /logg-inn answers 200:
``cold`` creates and loads the demo database first, ``warm`` starts on the database the cold
run left, ``peer`` is bench/bare_app.py under uvicorn (the web stack's own start-up). The figure
is the ratio to the peer, measured in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _time_to_page(command: list[str], cwd: Path, port: int, timeout: float = 120) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FELLESDRIFT_")}
    env["PYTHONPATH"] = str(ROOT)
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with httpx.Client(timeout=1) as client:
            while time.perf_counter() - started < timeout:
                if process.poll() is not None:
                    raise RuntimeError(f"{command} exited with {process.returncode}")
                try:
                    if client.get(f"http://127.0.0.1:{port}/logg-inn").status_code == 200:
                        return time.perf_counter() - started
                except httpx.HTTPError:
                    time.sleep(0.01)
        raise RuntimeError(f"{command} served nothing within {timeout}s")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure(runs: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"cold": [], "warm": [], "peer": []}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            demo = [sys.executable, "-m", "fellesdrift.assembly.cli", "demo"]
            port = _free_port()
            results["cold"].append(_time_to_page([*demo, "--port", str(port)], folder, port))
            port = _free_port()
            results["warm"].append(_time_to_page([*demo, "--port", str(port)], folder, port))
            port = _free_port()
            peer = [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.bare_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ]
            results["peer"].append(_time_to_page(peer, ROOT, port))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = measure(args.runs)
    peer = statistics.median(results["peer"])
    print(f"runs: {args.runs}, cpus: {os.cpu_count()}")
    print("| start | median s | ratio to bare FastAPI |")
    print("|---|---|---|")
    for name in ("cold", "warm", "peer"):
        median = statistics.median(results[name])
        print(f"| {name} | {median:.2f} | {median / peer:.1f}x |")


if __name__ == "__main__":
    main()
