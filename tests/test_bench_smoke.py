"""Benchmarks run in CI only as a smoke check: they must run, their figures are not judged."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from bench import billing, startup


def test_startup_benchmark_runs() -> None:
    results = startup.measure(1)
    assert set(results) == {"cold", "warm", "peer"}
    assert all(len(v) == 1 and v[0] > 0 for v in results.values())


def test_probe_cpu_benchmark_runs() -> None:
    """bench.probes at a small size: both sides probe nginx, every probe succeeds."""
    from bench import probes

    results = probes.measure(rounds=2, probes=50)
    assert set(results) == {"http", "tcp"}
    for figures in results.values():
        assert len(figures.peer) == len(figures.ours) == len(figures.scrape) == 2
        assert all(v > 0 for v in figures.peer)  # blackbox spent CPU on its probes
    assert "| http |" in probes.report(results, 2, 50)


def test_ssh_polls_benchmark_runs() -> None:
    """bench.ssh_polls at a small size: ours and OpenSSH's ControlMaster poll the same sshd,
    idle connections to three ports of it are measured, and node_exporter is scraped."""
    from bench import ssh_polls

    figures = ssh_polls.measure(rounds=2, polls=5, hosts=3, idle=0.5)
    assert len(figures.ours) == len(figures.peer) == len(figures.idle_ours) == 2
    assert all(v > 0 for v in figures.ours + figures.peer + figures.fresh_ours)
    assert all(v > 0 for v in figures.host_ours + figures.host_peer)
    assert "new connection each" in ssh_polls.report(figures, 2, 5, 3)


def test_schedule_load_benchmark_runs() -> None:
    """bench.schedule_load at a small size: the real collector polls the targets on nginx."""
    from bench import schedule_load

    outcome = schedule_load.run(targets=100, interval=2, intervals=2, scrape_every=1, late=1)
    assert outcome.targets == 100
    assert outcome.polls >= 150  # about two polls of each target in 4 s, plus the first
    # Figures are not judged (a loaded CI machine may time out a poll or two), but a target
    # set-up that does not answer would fail them all.
    assert outcome.failed <= outcome.polls // 10
    assert "late or not run" in schedule_load.report(outcome, 1)


def test_billing_benchmark_runs(pg_url: str) -> None:
    result = billing.measure(pg_url, billing.SMALL, rounds=2)
    assert result["run"]["run_s"] > 0 and result["peer"]["peer_s"] > 0
    assert result["run"]["hours_total"] == result["peer"]["hours_total"]
    # The floor peer (one SQL aggregate) and the draft, repeated: median and range.
    assert 0 < result["floor_s"]["min"] <= result["floor_s"]["median"] <= result["floor_s"]["max"]
    assert result["draft_s"]["median"] > 0 and result["ratio_draft_over_floor"]["median"] > 0


def test_ticket_benchmark_runs(pg_url: str) -> None:
    """bench.tickets at a small size: the app, the bare peer and the create floor served as
    `fellesdrift serve` serves them, wrk's creates all answered 201 (any other status fails
    the run), and the floor's creates are stored tickets."""
    from bench import tickets

    facts = tickets.generate(pg_url, 500)
    assert facts["tickets"] >= 500
    result = tickets.measure(pg_url, facts, 2)
    assert result["creates_measured"] > 0 and result["create_rps_32_clients"] > 0
    assert result["bare_fastapi_rps_32_clients"] > 0 and result["queue_rps_8_clients"] > 0
    assert result["floor_create_rps_32_clients"] > 0 and result["paced_create_rps"] > 0
    engine = create_engine(pg_url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM ticket")).scalar_one()
    engine.dispose()
    assert count >= facts["tickets"] + result["creates_measured"] + result["floor_creates_measured"]


def test_sla_create_benchmark_runs(pg_empty_url: str) -> None:
    """bench.sla_create at a small size: tickets of the covered kommune get their two clocks,
    the others none, and both sides are timed."""
    from bench import sla_create

    result = sla_create.measure(pg_empty_url, rounds=2, creates=5)
    assert result["clocks"] == 2 * (20 + 2 * 5)
    assert len(result["with_sla_ms"]) == len(result["without_ms"]) == 2
    assert result["ratio_median"] > 0


def test_service_benchmark_runs() -> None:
    """bench.service at a small size: the collector as a service (two workers, scraped by its
    own Prometheus) and blackbox_exporter as a service (scraped by its own) probe the same nginx
    targets; both sides did probes, and the saturation run drove both."""
    from bench import service

    steady, saturation = service.measure(
        rounds=1,
        targets=(10,),
        interval=1,
        window=2,
        saturation_targets=50,
        saturation_window=2,
        workers=2,
        kinds=("http",),
        saturation_workers=(2,),
    )
    (figures,) = steady
    assert figures.ours_probes[0] >= 10 and figures.peer_probes[0] >= 10
    assert figures.ours_cpu[0] > 0 and figures.peer_cpu[0] > 0
    assert figures.ours_rss[0] > figures.peer_rss[0] > 0
    assert saturation.ours[2][0] > 0 and saturation.peer[0] > 0
    assert "| http | 10 |" in service.report(steady, saturation, 1, 2)


def test_hung_targets_benchmark_runs() -> None:
    """bench.hung_targets at a small size: the real collector, hung and healthy targets."""
    from bench import hung_targets

    outcome = hung_targets.run(healthy=20, hung=15, interval=2, timeout=1, intervals=2)
    assert outcome.polls >= 35 and outcome.healthy_slots >= 20
    assert outcome.healthy_polls >= outcome.healthy_slots // 2  # figures are not judged here
    assert "| polls |" in hung_targets.report(outcome, 20, 15, 2, 1)
