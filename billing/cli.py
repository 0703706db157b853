"""``fellesdrift billing ...``: the monthly run, review, issue and credit notes from the shell.

The commands act as the system (the CLI runs on the server, as the operator); every change is
recorded in the audit trail like one made in the web app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import Session

SessionFactory = Callable[[], Session]
MonthOption = Annotated[str, typer.Option("--month", help="The month, as YYYY-MM")]


@contextmanager
def _transaction(open_session: SessionFactory) -> Iterator[Session]:
    """One transaction; a Problem becomes a message on stderr and exit code 1."""
    from fellesdrift.kernel.problems import Problem

    session = open_session()
    try:
        yield session
        session.commit()
    except Problem as exc:
        session.rollback()
        typer.echo(f"error: {exc.detail or exc.title}", err=True)
        for error in exc.errors[1:20]:
            typer.echo(f"  {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        session.close()


class _Bar:
    """A progress bar per step of the run, drawn as the run reports progress."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.step = ""
        self.done = 0

    def __call__(self, step: str, done: int, total: int) -> None:
        if step != self.step:
            self.close()
            self.bar = typer.progressbar(length=total, label=f"{step:<8}").__enter__()
            self.step, self.done = step, 0
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _summary(session: Session, month: date) -> None:
    from billing.reports import run_summary

    for row in run_summary(session, month):
        number = row["number"] or "(utkast)"
        typer.echo(f"  {number:<10} {row['kommune']:<28} {row['payable']:>14} NOK")


def commands(open_session: SessionFactory) -> typer.Typer:
    billing_app = typer.Typer(
        help="Billing: price model, counts, invoice runs.", no_args_is_help=True
    )

    @billing_app.command("run")
    def run_cmd(month: MonthOption) -> None:
        """Draft (or re-draft) the month's invoices."""
        from billing import run
        from billing.inputs import parse_month

        bar = _Bar()
        with _transaction(open_session) as session:
            first = parse_month(month)
            try:
                run.draft(session, first, progress=bar)
            finally:
                bar.close()
            _summary(session, first)
        typer.echo(f"draft for {month} ready; review it with `fellesdrift billing review`")

    @billing_app.command("review")
    def review_cmd(month: MonthOption) -> None:
        """Mark the month's draft as reviewed."""
        from billing import run
        from billing.inputs import parse_month

        with _transaction(open_session) as session:
            run.review(session, parse_month(month))
        typer.echo(f"{month} reviewed")

    @billing_app.command("issue")
    def issue_cmd(
        month: MonthOption,
        issue_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD; default today")] = None,
    ) -> None:
        """Issue the reviewed month: numbers, KID, locks."""
        from billing import run
        from billing.inputs import parse_month

        bar = _Bar()
        with _transaction(open_session) as session:
            first = parse_month(month)
            day = date.fromisoformat(issue_date) if issue_date else None
            try:
                run.issue(session, first, issue_date=day, progress=bar)
            finally:
                bar.close()
            _summary(session, first)
        typer.echo(f"{month} issued")
        # The issued documents' files, made from the frozen documents (re-runnable).
        from billing.outputs import render_missing

        bar = _Bar()
        with _transaction(open_session) as session:
            try:
                made = render_missing(session, progress=bar)
            finally:
                bar.close()
        typer.echo(f"{made} invoices' EHF, PDF and CSV stored")

    @billing_app.command("credit")
    def credit_cmd(
        number: Annotated[str, typer.Argument(help="The invoice's number, e.g. F-000123")],
        reason: Annotated[str, typer.Option(help="Why the invoice is credited")],
        line: Annotated[list[int] | None, typer.Option(help="Line position; repeat")] = None,
    ) -> None:
        """Credit an issued invoice (all lines, or the given line positions)."""
        from billing.reports import credit_by_number

        with _transaction(open_session) as session:
            note = credit_by_number(session, number, reason, line)
        typer.echo(f"{note.document_number} credits {number}: {note.payable} NOK")

    @billing_app.command("prices")
    def prices_cmd(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
        """Import a price model from YAML (versions of the same name are replaced)."""
        from billing import pricemodel

        with _transaction(open_session) as session:
            versions = pricemodel.import_yaml(session, path.read_text("utf-8"), path.name)
        typer.echo(", ".join(v.name for v in versions) + " stored")

    @billing_app.command("counts")
    def counts_cmd(
        month: MonthOption,
        file: Annotated[Path | None, typer.Option(exists=True, dir_okay=False)] = None,
        kind: Annotated[str | None, typer.Option(help="The kind for a file without one")] = None,
    ) -> None:
        """Snapshot the month's counts from the registers, or import a count file."""
        from billing import counts
        from billing.choices import CountKind
        from billing.inputs import parse_month

        if kind is not None and kind not in {k.value for k in CountKind}:
            allowed = ", ".join(k.value for k in CountKind)
            raise typer.BadParameter(f"{kind!r} is not one of {allowed}", param_hint="--kind")
        with _transaction(open_session) as session:
            first = parse_month(month)
            if file is None:
                n = counts.snapshot_registers(session, first)
                typer.echo(f"{n} counts taken from the registers for {month}")
            else:
                text = file.read_text("utf-8-sig")
                given = CountKind(kind) if kind else None
                n = counts.import_count_file(session, first, text, file.name, given)
                typer.echo(f"{n} counted items imported from {file.name} for {month}")

    _setup_commands(billing_app, open_session)
    return billing_app


def _validated(schema: Any, data: dict[str, Any]) -> Any:
    """Input checked by the same schema as the API's; each error named on stderr."""
    from pydantic import ValidationError

    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            typer.echo(f"error: {where}: {error['msg']}", err=True)
        raise typer.Exit(1) from None


def _setup_commands(billing_app: typer.Typer, open_session: SessionFactory) -> None:
    @billing_app.command("supplier")
    def supplier_cmd(
        file: Annotated[
            Path | None, typer.Argument(exists=True, dir_okay=False, help="YAML to set it from")
        ] = None,
    ) -> None:
        """Show the supplier (the unit as seller), or set it from a YAML file."""
        import yaml

        from billing.schemas import SupplierIn
        from billing.setup import set_supplier

        with _transaction(open_session) as session:
            if file is not None:
                data = yaml.safe_load(file.read_text("utf-8")) or {}
                set_supplier(session, _validated(SupplierIn, data))
            from billing.numbering import supplier_of

            supplier = supplier_of(session)
            shown = SupplierIn.model_fields.keys()
            typer.echo(yaml.safe_dump({k: getattr(supplier, k) for k in shown}, allow_unicode=True))

    @billing_app.command("rebill")
    def rebill_cmd(
        number: Annotated[str, typer.Argument(help="The credit note's number, e.g. K-000007")],
        line: Annotated[int, typer.Option(help="The credit note's line position")],
        day: Annotated[str, typer.Option("--date", help="Billed in this date's month")],
    ) -> None:
        """Bill a credited line again in a later month (once per credited line)."""
        from sqlmodel import select

        from billing.credit import rebill
        from billing.models import Invoice, InvoiceLine

        with _transaction(open_session) as session:
            found = session.exec(
                select(InvoiceLine.id)
                .join(Invoice)
                .where(Invoice.document_number == number, InvoiceLine.position == line)
            ).first()
            if found is None:
                raise typer.BadParameter(f"{number} has no line {line}", param_hint="--line")
            try:
                when = date.fromisoformat(day)
            except ValueError:
                raise typer.BadParameter(
                    f"{day!r} is not YYYY-MM-DD", param_hint="--date"
                ) from None
            purchase = rebill(session, found, when)
        typer.echo(f"line {line} of {number} billed again on {day}: {purchase.unit_cost} NOK")

    @billing_app.command("purchase")
    def purchase_cmd(
        kommune: Annotated[str, typer.Option(help="The kommune's slug")],
        day: Annotated[str, typer.Option("--date", help="The purchase date, YYYY-MM-DD")],
        description: Annotated[str, typer.Option()],
        quantity: Annotated[str, typer.Option()],
        unit_cost: Annotated[str, typer.Option(help="Cost per unit, passed through")],
        vat: Annotated[str, typer.Option(help="VAT category: S, Z, E or O")],
        vat_percent: Annotated[str, typer.Option()] = "0.00",
        service: Annotated[str, typer.Option()] = "Innkjøp",
    ) -> None:
        """Record a one-off purchase passed through at cost (category 4)."""
        from sqlmodel import select

        from billing.schemas import PurchaseIn
        from billing.setup import add_purchase
        from register.models import Kommune

        with _transaction(open_session) as session:
            found = session.exec(select(Kommune).where(Kommune.slug == kommune)).first()
            if found is None:
                raise typer.BadParameter(f"no kommune {kommune!r}", param_hint="--kommune")
            data = {
                "kommune_id": found.id,
                "purchase_date": day,
                "service": service,
                "description": description,
                "quantity": quantity,
                "unit_cost": unit_cost,
                "vat_category": vat,
                "vat_percent": vat_percent,
            }
            purchase = add_purchase(session, _validated(PurchaseIn, data))
        typer.echo(f"purchase {purchase.id} for {kommune} on {day} recorded")
