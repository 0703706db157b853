"""``python -m dashboards build`` (write dashboards/json/) or ``check`` (exit 1 if stale)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboards import JSON_DIR, differences, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dashboards", description="Generate the Grafana dashboards' JSON."
    )
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument("--out", type=Path, default=JSON_DIR, help="directory of the JSON files")
    args = parser.parse_args(argv)
    if args.command == "build":
        for path in write(args.out):
            sys.stdout.write(f"wrote {path}\n")
        return 0
    stale = differences(args.out)
    if stale:
        sys.stderr.write(
            f"out of date in {args.out}: {', '.join(stale)}; run: python -m dashboards build\n"
        )
        return 1
    sys.stdout.write(f"{args.out}: up to date\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
