"""``fellesdrift sla ...``: import and list the service agreements from the shell (as the
system, like every CLI command; the import is recorded in the audit trail)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from sqlmodel import Session


def commands(open_session: Callable[[], Session]) -> typer.Typer:
    app = typer.Typer(help="Service agreements (SLA).", no_args_is_help=True)

    @app.command("import")
    def import_file(path: Path) -> None:
        """Import agreements from a YAML file: all of them, or none and every error by line."""
        from fellesdrift.kernel.problems import Problem
        from sla.importer import import_yaml

        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            typer.echo(f"error: {path}: {exc}", err=True)
            raise typer.Exit(1) from None
        with open_session() as session:
            try:
                stored = import_yaml(session, text, str(path))
                session.commit()
            except Problem as exc:
                session.rollback()
                typer.echo("error: the agreements were not stored:", err=True)
                for error in exc.errors or []:
                    typer.echo(f"  {error}", err=True)
                if not exc.errors:
                    typer.echo(f"  {exc.detail}", err=True)
                raise typer.Exit(1) from None
        for row in stored:
            end = row.valid_to.isoformat() if row.valid_to else "open end"
            typer.echo(f"imported {row.name} ({row.valid_from.isoformat()} - {end})")

    @app.command("list")
    def list_agreements() -> None:
        """Every agreement version."""
        from sla.views import agreements

        with open_session() as session:
            for a in agreements(session):
                end = a.valid_to.isoformat() if a.valid_to else "open end"
                who = a.kommune or "(default)"
                typer.echo(f"{a.name:<40} {who:<16} {a.valid_from.isoformat()} - {end}")

    return app
