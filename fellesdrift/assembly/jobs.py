"""Every domain's background jobs in one registry, for ``fellesdrift jobs`` and the web app
(the runner and scheduler are ``register.jobs``)."""

from __future__ import annotations

from register.jobs import Job
from servicedesk.alerts import jobs as alert_jobs
from servicedesk.tickets import jobs as ticket_jobs
from servicedesk.tickets import sla_jobs

JOBS: dict[str, Job] = {
    job.name: job for job in (*ticket_jobs.JOBS, *alert_jobs.JOBS, *sla_jobs.JOBS)
}
