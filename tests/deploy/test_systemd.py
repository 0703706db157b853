"""deploy/systemd: systemd accepts the units (no unknown keys, executables found once the
install prefix is this checkout's venv), and every command line uses options the commands have."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.deploy.tools import DEPLOY, run, tool

UNITS = DEPLOY / "systemd"
PREFIX = "/opt/fellesdrift/venv/bin/"
VENV_BIN = Path(sys.executable).parent


def commands(unit: Path) -> list[list[str]]:
    """ExecStart/ExecStartPre command lines of ``unit`` (continuations joined)."""
    text = unit.read_text().replace("\\\n", " ")
    found = re.findall(r"^Exec(?:Start|StartPre)=(.+)$", text, flags=re.MULTILINE)
    return [line.split() for line in found]


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", "systemd")
    names = []
    for unit in sorted(UNITS.glob("*.service")):
        name = unit.name.replace("@.service", "@0.service")
        (tmp_path / name).write_text(unit.read_text().replace(PREFIX, f"{VENV_BIN}/"))
        names.append(name)
    result = subprocess.run(
        [analyze, "verify", "--man=no", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_command_lines_use_existing_options() -> None:
    for unit in sorted(UNITS.glob("*.service")):
        for argv in commands(unit):
            assert argv[0].startswith(PREFIX), f"{unit.name}: {argv[0]} outside {PREFIX}"
            program = shutil.which(argv[0].removeprefix(PREFIX), path=str(VENV_BIN))
            assert program, f"{unit.name}: {argv[0]} is not installed by this project"
            # The subcommand: the words before the first option.
            words = list(itertools.takewhile(lambda w: not w.startswith("-"), argv[1:]))
            helped = run(program, *words, "--help", timeout=60)
            assert helped.returncode == 0, f"{unit.name}: {argv}: {helped.stderr}"
            for option in (w for w in argv[1:] if w.startswith("--")):
                assert option in helped.stdout, f"{unit.name}: {program} has no {option}"
