"""The ``fellesdrift`` command."""

from __future__ import annotations

import getpass
import logging
import subprocess
import sys
import threading
import time
from typing import Annotated, Any

import typer
from sqlmodel import Session

from fellesdrift.kernel.settings import Settings, SettingsError, get_settings

app = typer.Typer(
    help="fellesdrift: shared IT operations for Norwegian kommuner.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="People and sign-in.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
log = logging.getLogger("fellesdrift")


def _settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _system_session(settings: Settings) -> Session:
    from fellesdrift.kernel.db import get_engine
    from register.access import Principal, bind

    return bind(Session(get_engine(settings), expire_on_commit=False), Principal.system("cli"))


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the schema migrations (creates the SQLite file if needed)."""
    from fellesdrift.assembly.migrations import upgrade
    from fellesdrift.kernel.db import make_engine

    settings = _settings()
    make_engine(settings.database_url).dispose()  # creates ./var for SQLite
    upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}")


@db_app.command("check")
def db_check() -> None:
    """Fail if the models and the migrations differ."""
    from fellesdrift.assembly.migrations import check

    check(_settings().database_url)
    typer.echo("models and migrations agree")


def _serve(settings: Settings, workers: int = 1) -> None:
    from fellesdrift.assembly.app import create_app
    from fellesdrift.assembly.serving import serve

    if workers > 1:  # each worker process makes its own app from the environment
        target: Any = "fellesdrift.assembly.app:create_app"
        options: dict[str, Any] = {"factory": True, "workers": workers}
    else:
        target, options = create_app(settings), {}
    serve(
        target,
        host=settings.host,
        port=settings.port,
        # X-Forwarded-* only from the configured proxies (uvicorn would believe loopback).
        proxy_headers=bool(settings.trusted_proxies.strip()),
        forwarded_allow_ips=settings.trusted_proxies.strip() or "",
        log_level="info",
        **options,
    )


@app.command()
def serve(workers: Annotated[int, typer.Option(min=1, max=64)] = 1) -> None:
    """Serve the web app and API (run `fellesdrift db upgrade` first)."""
    _serve(_settings(), workers)


@app.command()
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    reset: Annotated[bool, typer.Option(help="Start again from empty demo data")] = False,
    serve_app: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
    collector_port: Annotated[
        int | None,
        typer.Option(help="Port of the demo's collector (0: any free one); 9700 if free"),
    ] = None,
) -> None:
    """Create the demo database (seven Knutepunkt Sørlandet kommuner) and serve it."""
    import os

    started = time.monotonic()
    os.environ.setdefault("FELLESDRIFT_DEMO_MODE", "1")
    os.environ.setdefault("FELLESDRIFT_BASE_URL", f"http://{host}:{port}")
    get_settings.cache_clear()
    settings = _settings().model_copy(update={"host": host, "port": port})
    from fellesdrift.assembly import demo as demo_data

    try:
        logins = demo_data.prepare(settings, reset)
    except demo_data.DemoError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"demo data ready in {time.monotonic() - started:.1f} s")
    typer.echo(f"\n  fellesdrift kjører på http://{host}:{port}/  (API: /api/v1/docs)\n")
    if logins:
        typer.echo(f"  Demo-innlogginger (passord: {logins['password']}):")
        users: dict[str, str] = logins["users"]  # type: ignore[assignment]
        for name, what in users.items():
            typer.echo(f"    {name:<18} {what}")
        typer.echo("")
    if serve_app:
        try:
            metrics_port = demo_data.collector_port(collector_port)
        except demo_data.DemoError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
        typer.echo(f"  Collectors: http://127.0.0.1:{metrics_port}/metrics\n")
        collectors: list[subprocess.Popen[bytes]] = []

        def start_collector() -> None:
            # Once the web server answers: the collector reads its feed at once.
            if demo_data.wait_for_web(host, port):
                started = demo_data.start_collector(settings, host, port, metrics_port)
                collectors.extend([started] if started is not None else [])

        threading.Thread(target=start_collector, name="demo-collector", daemon=True).start()
        try:
            _serve(settings)
        finally:
            for collector in collectors:
                collector.terminate()
                collector.wait(10)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def collect(ctx: typer.Context) -> None:
    """Run a collector (same options as `fellesdrift-collector --help`)."""
    from collectors.cli import main as collector_main

    raise typer.Exit(collector_main(list(ctx.args)))


@user_app.command("create")
def user_create(
    username: str,
    full_name: Annotated[str, typer.Option("--name")],
    role: Annotated[list[str], typer.Option("--role", help="Repeat for several roles")],
    kommune: Annotated[
        str | None, typer.Option(help="kommunenummer or slug; none = drift unit")
    ] = None,
    email: str = "",
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input")
    ] = False,
) -> None:
    """Create a user; asks for the password unless --password-stdin."""
    from sqlmodel import or_, select

    from fellesdrift.kernel.problems import Problem
    from register.choices import Role
    from register.models import Kommune
    from register.schemas import UserCreate
    from register.service.people import create_user

    settings = _settings()
    password = _read_password(password_stdin)
    try:
        with _system_session(settings) as session:
            kommune_id = None
            if kommune:
                k = session.exec(
                    select(Kommune).where(
                        or_(Kommune.slug == kommune, Kommune.kommunenummer == kommune)
                    )
                ).first()
                if k is None:
                    raise Problem(422, "Invalid input", f"kommune: no kommune {kommune!r}")
                kommune_id = k.id
            user = create_user(
                session,
                UserCreate(
                    username=username,
                    full_name=full_name,
                    email=email,
                    kommune_id=kommune_id,
                    roles=[Role(r) for r in role],
                    password=password,
                ),
            )
            session.commit()
    except Problem as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created user {user.username} (id {user.id})")


@user_app.command("set-password")
def user_set_password(
    username: str,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input")
    ] = False,
) -> None:
    """Set a user's password and end their sessions."""
    from sqlmodel import select

    from fellesdrift.kernel.problems import Problem
    from register.models import User
    from register.service.people import set_password

    settings = _settings()
    password = _read_password(password_stdin)
    try:
        with _system_session(settings) as session:
            user = session.exec(select(User).where(User.username == username)).first()
            if user is None:
                raise Problem(404, "Not found", f"no user {username!r}")
            assert user.id is not None
            set_password(session, user.id, password)
            session.commit()
    except Problem as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"password set for {username}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat: ") != first:
        typer.echo("the passwords differ", err=True)
        raise typer.Exit(1)
    return first


def _jobs_commands() -> typer.Typer:
    """`fellesdrift jobs ...`: the background jobs (outbox sender, auto-close)."""
    jobs_app = typer.Typer(help="Background jobs: outbox sender, auto-close.", no_args_is_help=True)

    @jobs_app.command("run")
    def jobs_run() -> None:
        """Run the job scheduler in the foreground until stopped (SIGTERM or Ctrl-C)."""
        from fellesdrift.assembly.jobs import JOBS
        from fellesdrift.kernel.db import get_engine
        from register import jobs

        settings = _settings()
        jobs.run_foreground(settings, get_engine(settings), JOBS)

    @jobs_app.command("once")
    def jobs_once(name: str) -> None:
        """Run one job now (exit 1 if it failed, 75 if it is running elsewhere)."""
        from fellesdrift.assembly.jobs import JOBS
        from fellesdrift.kernel.db import get_engine
        from register import jobs

        if name not in JOBS:
            typer.echo(f"no job {name!r}; the jobs are: {', '.join(JOBS)}", err=True)
            raise typer.Exit(2)
        settings = _settings()
        engine = get_engine(settings)
        outcome = jobs.run_job(JOBS[name], settings, engine)
        with _system_session(settings) as session:
            run = jobs.last_runs(session).get(name)
        typer.echo(f"{name}: {outcome.value}" + (f" ({run.last_result})" if run else ""))
        codes = {jobs.Outcome.OK: 0, jobs.Outcome.FAILED: 1, jobs.Outcome.LOCKED: 75}
        raise typer.Exit(codes[outcome])

    @jobs_app.command("list")
    def jobs_list() -> None:
        """The jobs, their intervals and their last runs."""
        from fellesdrift.assembly.jobs import JOBS
        from register import jobs

        with _system_session(_settings()) as session:
            runs = jobs.last_runs(session)
        for job in JOBS.values():
            run = runs.get(job.name)
            ok = (
                run.last_success_at.isoformat(timespec="seconds")
                if run and run.last_success_at
                else "never"
            )
            typer.echo(
                f"{job.name:<10} every {job.every.total_seconds():>5g} s  last success: {ok}"
            )
            failed_last = (
                run
                and run.last_failure_at
                and not (run.last_success_at and run.last_success_at > run.last_failure_at)
            )
            if run and run.last_failure_at and failed_last:
                failed = run.last_failure_at.isoformat(timespec="seconds")
                typer.echo(f"{'':<10} FAILING since the last success; last failure: {failed}")
            if run and run.last_result:
                typer.echo(f"{'':<10} last result: {run.last_result}")

    return jobs_app


app.add_typer(_jobs_commands(), name="jobs")


def _billing_commands() -> typer.Typer:
    from billing.cli import commands

    return commands(lambda: _system_session(_settings()))


app.add_typer(_billing_commands(), name="billing")


def _sla_commands() -> typer.Typer:
    from sla.cli import commands

    return commands(lambda: _system_session(_settings()))


app.add_typer(_sla_commands(), name="sla")


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app()


if __name__ == "__main__":
    main()
