"""Tenant isolation as a matrix: every route x every role x the objects of another kommune.

The world: kommune A ("alfa") and kommune B ("zulu"), each with one object of every kind in
:data:`OBJECTS_OF_B`; one user per role (:class:`register.choices.Role`): drift roles
belong to the drift unit, every other role to kommune A (systemeier and systemadministrator
are named on an A-only system). Every route of the app (API and pages, found through
``app.routes``) is called by every role with B's ids in the path and, for writes, a plausible
body that refers to B; writes are tried once more with A's own object in the path and B's
objects in the body (B's site for A's user). Kommune-A people must be refused
(401/403/404/405/422) and must never see B: no name, key or e-mail of B (they all contain
"zulu") and no id of B (B's ids are made recognisable by moving every id sequence to
9,0x0,001 before B is built) may appear in what they get back, listings included. Drift
roles may see B. An admin control run proves that the requests are right: an administrator
gets 2xx/3xx for each of them, so a refusal of a kommune-A user is about access, not about a
malformed request.

To extend the matrix when you add routes (tickets, invoices, ...):

* a new path parameter: add a maker to :data:`OBJECTS_OF_B` under the parameter's name (it
  builds one object for a kommune side; the same maker builds A's object). The matrix fails
  for a path parameter it does not know. A route whose parameter names something generic
  (``row_id``) gets an entry in :data:`PATH_ALIASES`;
* a form page or an API body the generic sampler cannot fill: add an entry to :data:`BODIES`
  (the admin control run tells you which);
* a field of a body that refers to another object: add it to :data:`REFERENCES`;
* an object that belongs to no kommune (a catalogue item): its key also goes in
  :data:`SHARED_KEYS`, so its routes are checked for leaks but need not refuse.

B's objects must be ones that no kommune-A person may see (e.g. a TLP:AMBER ticket of B, not
a TLP:CLEAR one): what is shared across kommuner on purpose is tested where it is shared.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from fastapi.params import Form
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from billing.models import (
    Invoice,
    InvoiceLine,
    InvoiceRun,
    PriceElement,
    PriceModelVersion,
    Supplier,
)
from billing.numbering import kid_for
from fellesdrift.assembly.app import create_app
from fellesdrift.kernel.settings import load_settings
from register import auth
from register.choices import DRIFT_ROLES, SYSTEM_ROLES, Role
from register.deps import SESSION_COOKIE, PageDb
from register.models import Kommune, Site, User
from register.schemas import (
    ContactIn,
    RelationIn,
    ResponsibilityIn,
    TargetIn,
    UsageIn,
)
from register.service import cmdb, kommuner
from servicedesk.tickets.choices import DEFAULT_PRIORITY_MATRIX
from servicedesk.tickets.models import Approval, Group, SavedView, Ticket, TimeEntry
from servicedesk.tickets.schemas import TicketCreate
from servicedesk.tickets.service import attachments as ticket_attachments
from servicedesk.tickets.service import catalogue
from servicedesk.tickets.service import core as ticket_core
from servicedesk.tickets.service.catalogue import CatalogueItemIn
from tests.rig.postgres import PostgresServer, fresh_database
from tests.support.factories import PASSWORD, Factory, valid_orgnr
from tests.support.fixtures import SECRET, Browser

B_TAG = "zulu"
A_TAG = "alfa"
REFUSED = frozenset({401, 403, 404, 405, 422})
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_n = itertools.count(1)


# ---- the registry of objects -------------------------------------------------------------------


@dataclass
class Side:
    """One kommune's objects, made on demand by the makers in :data:`OBJECTS_OF_B`."""

    make: Factory
    tag: str
    cache: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        if key not in self.cache:
            maker = OBJECTS_OF_B.get(key)
            assert maker is not None, f"no maker for {key!r} in OBJECTS_OF_B"
            self.cache[key] = maker(self)
        return self.cache[key]

    def id(self, key: str) -> int:
        return int(self.get(key).id)

    def name(self, what: str) -> str:
        """A unique name carrying the side's tag (B's names are what a leak would show)."""
        return f"{self.tag}-{what}-{next(_n)}"

    def fresh(self) -> Side:
        """New objects of the same kommune (for requests that change or delete them)."""
        return Side(self.make, self.tag, {"kommune_id": self.get("kommune_id")})


Maker = Callable[[Side], Any]


def _kommune(s: Side) -> Any:
    return s.make.kommune(s.name("kommune"))


def _site(s: Side) -> Any:
    return s.make.site(s.get("kommune_id"), s.name("site"), address=f"{s.tag} street 1")


def _contact(s: Side) -> Any:
    data = ContactIn(kind="it", name=s.name("contact"), email=f"it@{s.tag}.example.no")  # type: ignore[arg-type]
    return s.make.run(kommuner.add_contact, s.id("kommune_id"), data)


def _user(s: Side) -> Any:
    name = s.name("person")
    return s.make.user(
        s.get("kommune_id"),
        Role.END_USER,
        username=name,
        password=None,
        email=f"{name}@{s.tag}.example.no",
        phone="+47 400 00 000",
    )


def _ci(s: Side) -> Any:
    return s.make.ci(
        s.name("fagsystem"),
        kind="fagsystem",
        classification="virksomhetsspesifikt",
        owner_kommune_id=s.id("kommune_id"),
        service=s.name("service"),
        vendor=s.name("vendor"),
    )


def _server(s: Side) -> Any:
    return s.make.ci(s.name("server"), kind="server", owner_kommune_id=s.id("kommune_id"))


def _usage(s: Side) -> Any:
    data = UsageIn(kommune_id=s.id("kommune_id"), users_count=12)
    return s.make.run(cmdb.set_usage, s.id("ci_id"), data)


def _target(s: Side) -> Any:
    data = TargetIn(probe="tcp", target=f"{s.name('host')}.example.no:443")  # type: ignore[arg-type]
    return s.make.run(cmdb.add_target, s.id("ci_id"), data)


def _relation(s: Side) -> Any:
    data = RelationIn(target_id=s.id("server_ci_id"), kind="depends_on")  # type: ignore[arg-type]
    return s.make.run(cmdb.add_relation, s.id("ci_id"), data)


def _responsibility(s: Side) -> Any:
    data = ResponsibilityIn(user_id=s.id("user_id"), kind="systemadministrator")  # type: ignore[arg-type]
    return s.make.run(cmdb.add_responsibility, s.id("ci_id"), data)


def _token(s: Side) -> Any:
    token, _raw = s.make.run(
        auth.issue_token, s.id("user_id"), s.name("token"), frozenset({"read"})
    )
    return token


# ---- tickets -------------------------------------------------------------------------------------


def _ticket(s: Side) -> Any:
    """A TLP:AMBER ticket of the side's kommune on its own system, filed for its user, who also
    watches it (so a watcher can be removed)."""
    data = TicketCreate(
        title=s.name("ticket"),
        description=f"{s.tag} printer is on fire",
        kommune_id=s.id("kommune_id"),
        requester_id=s.id("user_id"),
        ci_ids=[s.id("ci_id")],
        watcher_ids=[s.id("user_id")],
    )
    return s.make.run(ticket_core.create_ticket, data)


def _child_ticket(s: Side) -> Any:
    """A second ticket of the side: a child of the first (children have something to list;
    links have a target)."""
    data = TicketCreate(
        title=s.name("child-ticket"),
        kommune_id=s.id("kommune_id"),
        requester_id=s.id("user_id"),
        parent_id=s.id("ticket_id"),
    )
    return s.make.run(ticket_core.create_ticket, data)


def _attachment(s: Side) -> Any:
    with s.make.session() as session:
        session.info["settings"] = s.make.created["settings"]  # the app's storage folder
        # The ticket's description as content: the download then shows one of B's strings.
        name, data = f"{s.tag}-log.txt", f"{s.get('ticket_id').description}\n".encode()
        row = ticket_attachments.store(session, s.id("ticket_id"), name, data)
        session.commit()
        return row


def _time_entry(s: Side) -> Any:
    """Time on the side's ticket, charged to its kommune (added as a row: the service takes
    time only from a person of the drift unit)."""
    row = TimeEntry(
        ticket_id=s.id("ticket_id"),
        user_id=s.id("user_id"),
        work_date=date(2026, 3, 2),
        minutes=30,
        kommune_id=s.id("kommune_id"),
        note=s.name("time"),
    )
    return _added(s, row)


def _approval(s: Side) -> Any:
    row = Approval(ticket_id=s.id("ticket_id"), approver_id=s.id("user_id"), kind="leader")
    return _added(s, row)


def _saved_view(s: Side) -> Any:
    """Saved views are personal: the side's user's view (nobody else may delete it)."""
    return _added(s, SavedView(user_id=s.id("user_id"), name=s.name("view"), query="status=new"))


def _group(s: Side) -> Any:
    """Assignment groups belong to the drift unit, not to a kommune (see SHARED_KEYS)."""
    return _added(s, Group(key=s.name("group"), name=s.name("group")))


def _catalogue_item(s: Side) -> Any:
    """Items of the service catalogue are offered to every kommune (see SHARED_KEYS)."""
    data = CatalogueItemIn(key=s.name("item"), name=s.name("item"))
    return s.make.run(catalogue.create_item, data)


def _change(s: Side) -> Any:
    """A TLP:RED change on the side's own system (CAB members see every change that is not
    RED, so only a RED one is private to B's named participants). The drift unit's role
    holders are named on it (watchers), as the drift staff working a RED change would be."""
    from servicedesk.changes.schemas import ChangeCreate
    from servicedesk.changes.service import records as change_records
    from servicedesk.tickets.models import TicketWatcher

    data = ChangeCreate(title=s.name("change"), ci_ids=[s.id("ci_id")], tlp="red")  # type: ignore[arg-type]
    ticket, _record = s.make.run(change_records.create_change, data)
    with s.make.session() as session:
        for user_id in s.make.created.get("drift_people", []):
            session.add(TicketWatcher(ticket_id=ticket.id, user_id=user_id))
        session.commit()
    return ticket


def _cab_meeting(s: Side) -> Any:
    """CAB meetings belong to the drift unit's CAB, not to a kommune (see SHARED_KEYS)."""
    from servicedesk.changes.models import CabMeeting

    meets_at = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    return _added(s, CabMeeting(meets_at=meets_at, title=s.name("cab")))


def _added(s: Side, row: Any) -> Any:
    with s.make.session() as session:
        session.add(row)
        session.commit()
        session.refresh(row)
        return row


#: One object of each kind for a kommune, keyed by the path parameter that names it. Add an
#: entry for each new path parameter; keys that are no path parameter (``server_ci_id``) serve
#: as targets of references in bodies.
OBJECTS_OF_B: dict[str, Maker] = {
    "kommune_id": _kommune,
    "site_id": _site,
    "contact_id": _contact,
    "user_id": _user,
    "ci_id": _ci,
    "server_ci_id": _server,
    "usage_id": _usage,
    "target_id": _target,
    "relation_id": _relation,
    "responsibility_id": _responsibility,
    "token_id": _token,
    "ticket_id": _ticket,
    "child_ticket_id": _child_ticket,
    "attachment_id": _attachment,
    "time_entry_id": _time_entry,
    "approval_id": _approval,
    "view_id": _saved_view,
    "group_id": _group,
    "item_id": _catalogue_item,
    "change_id": _change,
    "meeting_id": _cab_meeting,
}

#: Keys of OBJECTS_OF_B for objects that belong to no kommune and that every kommune may use
#: (e.g. an item of the service catalogue): routes on them need not refuse kommune-A people,
#: but what they answer must still show nothing of B.
SHARED_KEYS: set[str] = {"group_id", "item_id", "meeting_id"}

#: Keys of OBJECTS_OF_B for personal objects (a person's saved view): nobody else sees them,
#: drift staff and admins included, so reading B's is a 404 for every role.
PERSONAL_KEYS: set[str] = {"view_id"}

#: Path parameters with a generic name, per route: path -> {parameter: key of OBJECTS_OF_B}.
PATH_ALIASES: dict[str, dict[str, str]] = {
    "/systemer/ansvar/{row_id}/slett": {"row_id": "responsibility_id"},
    "/systemer/relasjoner/{row_id}/slett": {"row_id": "relation_id"},
    "/systemer/bruk/{row_id}/slett": {"row_id": "usage_id"},
    "/systemer/overvaking/{row_id}/slett": {"row_id": "target_id"},
    "/arbeid/saker/{ticket_id:int}/timer/{entry_id:int}": {"entry_id": "time_entry_id"},
    "/arbeid/saker/{ticket_id:int}/timer/{entry_id:int}/slett": {"entry_id": "time_entry_id"},
}

#: Fields of bodies and query strings that refer to an object: field -> key of OBJECTS_OF_B.
REFERENCES: dict[str, str] = {
    "kommune_id": "kommune_id",
    "owner_kommune_id": "kommune_id",
    "kommune": "kommune_id",
    "site_id": "site_id",
    "user_id": "user_id",
    "target_id": "server_ci_id",  # in a body, a relation's target system
    "requester_id": "user_id",
    "ci_id": "ci_id",
    "ticket_id": "ticket_id",
}

_numbers = itertools.count(1)

#: Values for fields whose type alone does not say what is plausible.
FIELD_SAMPLES: dict[str, Callable[[], Any]] = {
    "kommunenummer": lambda: (
        f"99{next(_numbers) % 100:02d}"
    ),  # county 99: the factory never uses it
    "orgnr": lambda: valid_orgnr(5_000_000 + next(_numbers)),
    "scopes": lambda: ["read"],
    "password": lambda: PASSWORD,
    "current_password": lambda: PASSWORD,
    # The same as the current one, so that changing it again later still works.
    "new_password": lambda: PASSWORD,
    "lang": lambda: "nb",
    "language": lambda: "nb",
    "email": lambda: f"matrix{next(_numbers)}@example.no",
    "meets_at": lambda: "2300-03-03T09:00:00+00:00",
}


def _sample_str(what: str = "x") -> str:
    return f"matrix-{what}-{next(_numbers)}"


def _ticket_version(s: Side) -> int:
    """The stored version of the side's ticket (the matrix changes it as it goes)."""
    with s.make.session() as session:
        ticket = session.get(Ticket, s.id("ticket_id"))
        assert ticket is not None
        return ticket.version


Body = Callable[[Side], dict[str, Any]]


def _import_file(s: Side) -> tuple[str, bytes, str]:
    """A YAML import that adds a site to the side's kommune (named by its slug)."""
    text = f"sites:\n  - kommune: {s.get('kommune_id').slug}\n    code: {_sample_str()}\n"
    return ("register.yaml", (text + "    name: Matrix\n").encode(), "application/yaml")


#: Bodies the sampler cannot derive: (method, path) -> body for a side (B's, or a fresh B side
#: in the admin control run). Page forms read their fields by hand, so each has an entry here.
BODIES: dict[tuple[str, str], Body] = {
    ("POST", "/kommuner/ny"): lambda s: {
        "slug": _sample_str(),
        "name": _sample_str(),
        "kommunenummer": FIELD_SAMPLES["kommunenummer"](),
        "orgnr": FIELD_SAMPLES["orgnr"](),
    },
    ("POST", "/kommuner/{kommune_id}/rediger"): lambda s: {"name": _sample_str()},
    ("POST", "/kommuner/{kommune_id}/avslutt"): lambda s: {"valid_to": "2030-12-31"},
    ("POST", "/kommuner/{kommune_id}/kontakter/ny"): lambda s: {
        "kind": "it",
        "name": _sample_str(),
    },
    ("POST", "/kommuner/{kommune_id}/lokasjoner/ny"): lambda s: {
        "code": _sample_str(),
        "name": _sample_str(),
        "parent_id": s.id("site_id"),
    },
    ("POST", "/lokasjoner/{site_id}/rediger"): lambda s: {"name": _sample_str(), "kind": "site"},
    ("POST", "/brukere/ny"): lambda s: {
        "username": _sample_str(),
        "full_name": _sample_str(),
        "kommune_id": s.id("kommune_id"),
        "site_id": s.id("site_id"),
        "roles": ["end_user"],
        "language": "nb",
        "active": "on",
    },
    ("POST", "/brukere/{user_id}/rediger"): lambda s: {
        "full_name": _sample_str(),
        "site_id": s.id("site_id"),
        "roles": ["end_user"],
        "language": "nb",
        "active": "on",
    },
    ("POST", "/profil"): lambda s: {"full_name": _sample_str(), "language": "nb"},
    # Replacing a password revokes the person's API tokens unless they are kept (issue 14,
    # item 11): the matrix keeps its callers' tokens working for the routes after these.
    ("POST", "/profil/passord"): lambda s: {
        "current_password": PASSWORD,
        "new_password": PASSWORD,
        "new_password_repeat": PASSWORD,
        "keep_tokens": "on",
    },
    ("PUT", "/api/v1/me/password"): lambda s: {
        "current_password": PASSWORD,
        "new_password": PASSWORD,
        "keep_tokens": True,
    },
    ("PUT", "/api/v1/users/{user_id}/password"): lambda s: {
        "password": PASSWORD,
        "keep_tokens": True,
    },
    ("POST", "/api-nokler"): lambda s: {"name": _sample_str(), "scopes": ["read"]},
    ("POST", "/systemer/ny"): lambda s: {
        "key": _sample_str(),
        "name": _sample_str(),
        "kind": "server",
        "criticality": "medium",
        "lifecycle": "in_production",
        "owner_kommune_id": s.id("kommune_id"),
    },
    ("POST", "/systemer/{ci_id}/rediger"): lambda s: {
        "name": _sample_str(),
        "classification": "sektorsystem",
        "criticality": "high",
        "lifecycle": "in_production",
        "owner_kommune_id": s.id("kommune_id"),
    },
    ("POST", "/systemer/{ci_id}/ansvar"): lambda s: {
        "username": s.get("user_id").username,
        "kind": "systemeier",
    },
    ("POST", "/systemer/{ci_id}/relasjoner"): lambda s: {
        "target_key": s.get("server_ci_id").key,
        "kind": "runs_on",
    },
    ("POST", "/systemer/{ci_id}/bruk"): lambda s: {
        "kommune_id": s.id("kommune_id"),
        "users_count": "3",
    },
    ("POST", "/systemer/{ci_id}/overvaking"): lambda s: {
        "probe": "http",
        "target": f"https://{_sample_str()}.example.no/",
        "interval_seconds": "60",
        "timeout_seconds": "10",
        "enabled": "on",
    },
    ("POST", "/saker/ny/feil"): lambda s: {
        "title": _sample_str("title"),
        "description": "The matrix reports a fault on this system.",
        "urgency": "3",
        "tlp": "amber",
        "ci_id": s.id("ci_id"),
    },
    ("POST", "/api/v1/tickets"): lambda s: {
        "title": _sample_str("ticket"),
        "kommune_id": s.id("kommune_id"),
        "requester_id": s.id("user_id"),
        "ci_ids": [s.id("ci_id")],
    },
    ("PATCH", "/api/v1/tickets/{ticket_id}"): lambda s: {
        "version": _ticket_version(s),
        "title": _sample_str("ticket"),
    },
    ("POST", "/api/v1/tickets/{ticket_id}/transitions"): lambda s: {
        "version": _ticket_version(s),
        "status": "in_progress",
    },
    ("POST", "/api/v1/tickets/{ticket_id}/links"): lambda s: {
        "kind": "duplicate_of",
        "target_id": s.id("child_ticket_id"),
    },
    ("POST", "/api/v1/tickets/{ticket_id}/attachments"): lambda s: {
        "file": ("matrix.txt", b"matrix\n", "text/plain"),
    },
    ("POST", "/api/v1/import"): lambda s: {"files": _import_file(s)},
    ("POST", "/import"): lambda s: {"files": _import_file(s)},
}

#: Routes the matrix does not call, with the reason.
NOT_RUN: dict[tuple[str, str], str] = {
    ("POST", "/logg-ut"): "signs the client out; tests/test_auth.py covers it",
}

#: Routes the admin control run leaves out, with the reason.
NO_ADMIN_CONTROL: dict[tuple[str, str], str] = {
    ("PUT", "/api/v1/tickets/{ticket_id}/rating"): "only the requester rates, once resolved; "
    "tests/tickets/api/test_lifecycle_api.py covers it",
    ("POST", "/godkjenninger/{approval_id:int}"): "only the person asked to approve decides",
    ("POST", "/arbeid/visninger/{view_id:int}/slett"): "saved views are personal: nobody "
    "deletes another's, admins included",
    ("POST", "/logg-inn"): "signing in with a made-up user name is refused by design",
    ("POST", "/api/v1/alerts/alertmanager"): "Alertmanager's webhook takes its own bearer "
    "token, never a person's sign-in or API token; tests/alerting covers it",
}


def _ticket_status(s: Side) -> str:
    with s.make.session() as session:
        ticket = session.get(Ticket, s.id("ticket_id"))
        assert ticket is not None
        return ticket.status


_AGENT_TIME = {
    "work_date": "2026-03-02",
    "minutes": "30",
    "work_type": "office_hours",
    "billable": "on",
}
BODIES.update(
    {
        ("POST", "/arbeid/saker/bulk"): lambda s: {
            "ticket": f"{s.id('ticket_id')}:{_ticket_version(s)}",
            "urgency": "2",
            "next": "/arbeid/saker",
        },
        ("POST", "/arbeid/visninger"): lambda s: {
            "name": _sample_str("view"),
            "query": "status=new",
        },
        ("POST", "/arbeid/saker/{ticket_id:int}/svar"): lambda s: {
            "body": "Matrix",
            "kind": "reply",
        },
        ("POST", "/arbeid/saker/{ticket_id:int}/status"): lambda s: {
            "version": _ticket_version(s),
            "status": "assigned" if _ticket_status(s) == "in_progress" else "in_progress",
        },
        ("POST", "/arbeid/saker/{ticket_id:int}/endre"): lambda s: {
            "version": _ticket_version(s),
            "title": _sample_str("ticket"),
            "impact": "3",
            "urgency": "3",
            "tlp": "amber",
            "kommune_id": s.id("kommune_id"),
        },
        ("POST", "/arbeid/saker/{ticket_id:int}/lenker"): lambda s: {
            "kind": "duplicate_of",
            "target_id": s.id("child_ticket_id"),
        },
        ("POST", "/arbeid/saker/{ticket_id:int}/ta-saken"): lambda s: {
            "version": _ticket_version(s)
        },
        ("POST", "/arbeid/saker/ny"): lambda s: {
            "requester": s.get("user_id").username,
            "channel": "phone",
            "title": _sample_str("ticket"),
        },
        ("POST", "/arbeid/saker/{ticket_id:int}/observatorer"): lambda s: {
            "user": s.get("user_id").username
        },
        ("POST", "/arbeid/saker/{ticket_id:int}/timer"): lambda s: dict(_AGENT_TIME),
        ("POST", "/arbeid/saker/{ticket_id:int}/timer/{entry_id:int}"): lambda s: dict(_AGENT_TIME),
        ("POST", "/arbeid/admin/prioritet"): lambda s: {
            f"p{i}{u}": str(p) for (i, u), p in DEFAULT_PRIORITY_MATRIX.items()
        },
        ("POST", "/arbeid/admin/grupper"): lambda s: {"key": _sample_str(), "name": _sample_str()},
        ("POST", "/arbeid/admin/grupper/{group_id:int}"): lambda s: {
            "key": _sample_str(),
            "name": _sample_str(),
        },
        ("POST", "/arbeid/admin/grupper/{group_id:int}/medlemmer"): lambda s: {
            "username": "drift-agent"
        },
    }
)
BODIES.update(
    {
        ("POST", "/saker/{ticket_id:int}/svar"): lambda s: {"body": "Matrix"},
        ("POST", "/saker/{ticket_id:int}/status"): lambda s: {
            "version": _ticket_version(s),
            "target": "assigned" if _ticket_status(s) == "in_progress" else "in_progress",
        },
        ("POST", "/saker/{ticket_id:int}/deling"): lambda s: {"user": s.get("user_id").username},
    }
)


def _drift_agent_id(s: Side) -> int:
    """The drift unit's agent of the matrix (only agents can join an assignment group)."""
    with s.make.session() as session:
        found = session.exec(select(User.id).where(User.username == "drift-agent")).first()
        assert found is not None
        return found


BODIES.update(
    {
        ("POST", "/api/v1/groups/{group_id}/members"): lambda s: {"user_id": _drift_agent_id(s)},
        ("POST", "/api/v1/tickets/bulk"): lambda s: {
            "tickets": [{"ticket_id": s.id("ticket_id"), "version": _ticket_version(s)}],
            "urgency": 2,
        },
    }
)
NO_ADMIN_CONTROL.update(
    {
        ("DELETE", "/api/v1/groups/{group_id}/members/{user_id}"): "removes a member the group "
        "does not have in the matrix; tests/tickets/api/test_workspace_api.py covers it",
        ("PATCH", "/api/v1/views/{view_id}"): "saved views are personal, admins' included",
        ("DELETE", "/api/v1/views/{view_id}"): "saved views are personal, admins' included",
        ("POST", "/api/v1/approvals/{approval_id}/decision"): "only the person asked to approve "
        "decides; tests/tickets/api/test_catalogue_api.py covers it",
    }
)
BODIES.update(
    {
        ("POST", "/api/v1/changes/{change_id}/transitions"): lambda s: {"to": "cancelled"},
        ("POST", "/api/v1/changes/{change_id}/links"): lambda s: {
            "ticket_id": s.id("ticket_id"),
            "kind": "caused_incident",
        },
        ("POST", "/endringer/{change_id:int}/beslutning"): lambda s: {"vote": "approve"},
        ("POST", "/endringer/ny"): lambda s: {
            "title": _sample_str("change"),
            "change_type": "normal",
            "ci_ids": s.id("ci_id"),
        },
        ("POST", "/endringer/cab/ny"): lambda s: {"meets_at": "2300-03-03T09:00", "title": "x"},
        ("POST", "/endringer/cab/{meeting_id:int}/referat"): lambda s: {"notes": "Matrix"},
    }
)
_DECIDED_BY_OTHERS = (
    "only a systemeier of an affected system or a CAB member decides, and only on a change "
    "awaiting approval; tests/changes covers it"
)
NO_ADMIN_CONTROL.update(
    {
        ("POST", "/api/v1/changes/{change_id}/approvals"): _DECIDED_BY_OTHERS,
        ("POST", "/api/v1/changes/{change_id}/votes"): _DECIDED_BY_OTHERS,
        ("POST", "/endringer/{change_id:int}/beslutning"): _DECIDED_BY_OTHERS,
    }
)
NO_ADMIN_CONTROL[("POST", "/saker/{ticket_id:int}/vurdering")] = (
    "only the requester rates, once resolved; tests/tickets/portal covers it"
)
NO_ADMIN_CONTROL[("POST", "/arbeid/admin/grupper/{group_id:int}/medlemmer/{user_id:int}/fjern")] = (
    "removes a member the group does not have in the matrix; tests/tickets/agent covers it"
)


# ---- billing -------------------------------------------------------------------------------------
# Price model versions and their elements are the same for every kommune (SHARED_KEYS), and so
# is a month's invoice run (it covers every kommune). Each side's version gets two months, so
# versions never overlap and a draft of the version's first month always has its prices.

_periods = itertools.count()


def _next_period() -> tuple[date, date]:
    """Two months of their own for a version: billing refuses months that have not ended, so
    these are past months from January 2000 (when the factories' kommuner start) on."""
    n = 2 * next(_periods)
    start = date(2000 + n // 12, n % 12 + 1, 1)
    end = (start + timedelta(days=63)).replace(day=1) - timedelta(days=1)
    return start, end


def _supplier(s: Side) -> None:
    with s.make.session() as session:
        if session.get(Supplier, 1) is None:
            session.add(
                Supplier(
                    id=1,
                    name="Matrix IKT",
                    orgnr=valid_orgnr(4_200_000),
                    street="Gata 1",
                    postal_code="4611",
                    city="Kristiansand",
                    bank_account="28011000004",
                )
            )
            session.commit()


def _price_version(s: Side) -> Any:
    """A version for one year with one element split equally (it needs no figures)."""
    start, end = _next_period()
    version = _added(s, PriceModelVersion(name=s.name("prices"), valid_from=start, valid_to=end))
    _added(s, _pool_element(version.id, s.name("base")))
    return version


def _pool_element(version_id: int, code: str) -> PriceElement:
    return PriceElement(
        version_id=version_id,
        code=code,
        category=1,
        service=code,
        monthly_amount=Decimal("300.00"),
        key_kind="equal",
    )


def _price_element(s: Side) -> Any:
    """A second element of the side's version (so removing one leaves the version valid)."""
    return _added(s, _pool_element(s.id("version_id"), s.name("extra")))


def _draft_run(s: Side) -> Any:
    """A draft run of the version's first month."""
    version = s.get("version_id")
    return _added(
        s, InvoiceRun(month=version.valid_from, version_id=version.id, input_digest="0" * 64)
    )


def _issued_invoice(s: Side) -> Any:
    """An issued invoice of the side's kommune (its own finance users may see it), in an
    issued run of the version's second month, with one line."""
    _supplier(s)
    version, kommune = s.get("version_id"), s.get("kommune_id")
    month = (version.valid_from + timedelta(days=32)).replace(day=1)
    run = _added(
        s,
        InvoiceRun(month=month, version_id=version.id, input_digest="0" * 64, state="issued"),
    )
    number = 900_000 + next(_n)
    with s.make.session() as session:
        kid = kid_for(session.get(Supplier, 1), kommune.kommunenummer, number)  # type: ignore[arg-type]
    amount = Decimal("100.00")
    invoice = _added(
        s,
        Invoice(
            run_id=run.id,
            kommune_id=kommune.id,
            series="F",
            number=number,
            document_number=f"F-{number}",
            issue_date=month.replace(day=5),
            due_date=month.replace(day=28),
            period_start=month,
            period_end=month.replace(day=28),
            buyer_reference=s.name("reference"),
            kid=kid,
            net_total=amount,
            vat_total=Decimal("0.00"),
            payable=amount,
            note=s.name("invoice"),
        ),
    )
    _added(
        s,
        InvoiceLine(
            invoice_id=invoice.id,
            position=1,
            category=1,
            service=s.name("service"),
            description=s.name("line"),
            quantity=Decimal(1),
            unit_code="MON",
            unit_price=amount,
            net_amount=amount,
            vat_category="O",
            vat_percent=Decimal("0.00"),
            period_start=month,
            period_end=month.replace(day=28),
        ),
    )
    return invoice


OBJECTS_OF_B.update(
    {
        "version_id": _price_version,
        "element_id": _price_element,
        "run_id": _draft_run,
        "invoice_id": _issued_invoice,
    }
)
SHARED_KEYS |= {"version_id", "element_id", "run_id"}


def _version_month(s: Side) -> str:
    return f"{s.get('version_id').valid_from:%Y-%m}"


def _billable_month(s: Side) -> str:
    """The version's first month, with every kommune of the register made billable: EHF needs
    a buyer reference, which kommuner made by the matrix's own requests do not have."""
    _supplier(s)
    with s.make.session() as session:
        for kommune in session.exec(select(Kommune).where(Kommune.buyer_reference == "")):
            kommune.buyer_reference = f"ref-{kommune.id}"
            session.add(kommune)
        session.commit()
    return _version_month(s)


def _billable(s: Side) -> dict[str, Any]:
    _billable_month(s)
    return {}


def _new_version(s: Side) -> dict[str, Any]:
    start, end = _next_period()
    return {
        "name": _sample_str("prices"),
        "copy_from": s.id("version_id"),
        "valid_from": start.isoformat(),
        "valid_to": end.isoformat(),
    }


def _price_yaml(s: Side) -> tuple[str, bytes, str]:
    start, end = _next_period()
    text = (
        f"versions:\n  - name: {_sample_str('prices')}\n    valid_from: {start}\n"
        f"    valid_to: {end}\n    elements:\n"
        "      - {code: pool, category: 1, service: Pool, monthly_amount: '10.00', key: equal}\n"
    )
    return ("prices.yaml", text.encode(), "application/yaml")


def _count_file(s: Side) -> tuple[str, bytes, str]:
    """A count file naming the side's kommune (by its slug)."""
    text = f"kommune;kind;label\n{s.get('kommune_id').slug};devices;PC-1\n"
    return ("counts.csv", text.encode(), "text/csv")


def _element_form(s: Side) -> dict[str, Any]:
    return {
        "code": _sample_str("element"),
        "category": "1",
        "service": _sample_str("service"),
        "monthly_amount": "10.00",
        "key_kind": "equal",
        "rounding": "none",
    }


BODIES.update(
    {
        ("POST", "/fakturering/kjoringer"): lambda s: {"month": _billable_month(s)},
        ("POST", "/api/v1/billing/runs"): lambda s: {"month": _billable_month(s)},
        ("POST", "/fakturering/priser/import"): lambda s: {"file": _price_yaml(s)},
        ("POST", "/api/v1/billing/price-models"): lambda s: {"file": _price_yaml(s)},
        ("POST", "/fakturering/priser/ny"): _new_version,
        ("POST", "/fakturering/priser/{version_id:int}/rediger"): lambda s: {
            "valid_from": s.get("version_id").valid_from.isoformat(),
            "valid_to": s.get("version_id").valid_to.isoformat(),
            "note": _sample_str("note"),
        },
        ("POST", "/fakturering/priser/{version_id:int}/elementer/ny"): _element_form,
        ("POST", "/fakturering/priselementer/{element_id:int}"): _element_form,
        ("POST", "/fakturering/kjoringer/{run_id:int}/utkast"): lambda s: _billable(s),
        ("POST", "/fakturering/fakturaer/{invoice_id:int}/krediter"): lambda s: {
            "reason": _sample_str("reason")
        },
        ("POST", "/fakturering/tellinger/import"): lambda s: {
            "month": "1999-01",
            "file": _count_file(s),
        },
        ("POST", "/api/v1/billing/counts"): lambda s: {"month": "1999-01", "file": _count_file(s)},
        ("POST", "/fakturering/tellinger/registre"): lambda s: {"month": "1999-02"},
        ("POST", "/api/v1/billing/transparency/key-comparison"): lambda s: {
            "month": _version_month(s),
            "pool": "100.00",
            "key_a": "equal",
            "key_b": {"mix": [{"key": "equal", "weight": "1"}]},
        },
    }
)
_ISSUE_COVERED = (
    "issues only a reviewed run whose inputs are unchanged since its draft; "
    "tests/billing/test_pages_admin.py and tests/billing/test_api_billing.py cover it"
)
NO_ADMIN_CONTROL.update(
    {
        ("POST", "/fakturering/kjoringer/{run_id:int}/utsted"): _ISSUE_COVERED,
        ("POST", "/api/v1/billing/runs/{run_id}/issue"): _ISSUE_COVERED,
    }
)


# ---- service agreements (sla) --------------------------------------------------------------------
# A kommune's agreement is its own (kommune-A people see A's and the unit's default, never B's);
# each made or imported agreement gets its own year, so versions of one kommune never overlap.


#: Each side's service agreement gets a year of its own, so versions never overlap.
_years = itertools.count(2101)


def _sla_agreement_data(s: Side) -> dict[str, Any]:
    year = next(_years)
    targets = {p: {"response": 60, "resolution": 240} for p in (1, 2, 3, 4)}
    return {
        "agreements": [
            {
                "name": s.name("agreement"),
                "kommune": s.get("kommune_id").slug,
                "valid_from": f"{year}-01-01",
                "valid_to": f"{year}-12-31",
                "default_level": "std",
                "levels": [
                    {"key": "std", "name": "Std", "calendar": "service_desk", "targets": targets}
                ],
            }
        ]
    }


def _sla_agreement(s: Side) -> Any:
    from sla.importer import import_agreements
    from sla.schemas import AgreementsIn

    model = AgreementsIn.model_validate(_sla_agreement_data(s))
    with s.make.session() as session:
        (row,) = import_agreements(session, model)
        session.commit()
        return row


def _sla_yaml(s: Side) -> tuple[str, bytes, str]:
    return ("avtaler.yaml", json.dumps(_sla_agreement_data(s)).encode(), "application/yaml")


OBJECTS_OF_B["agreement_id"] = _sla_agreement
BODIES.update(
    {
        ("POST", "/tjenesteavtaler/import"): lambda s: {"file": _sla_yaml(s)},
        ("POST", "/api/v1/sla/agreements/import"): _sla_agreement_data,
    }
)


# ---- routes and requests -----------------------------------------------------------------------


@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str
    route: APIRoute

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def is_page(self) -> bool:
        return not self.path.startswith("/api/")

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)(?::\w+)?}", self.path)

    def registry_key(self, param: str) -> str | None:
        key = PATH_ALIASES.get(self.path, {}).get(param, param)
        return key if key in OBJECTS_OF_B else None

    @property
    def names_b(self) -> bool:
        """Whether the path names an object of a kommune (not only shared ones)."""
        return any(self.registry_key(p) not in SHARED_KEYS for p in self.params)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def route_cases(app: FastAPI) -> list[RouteCase]:
    """Every (method, route) of the app; included routers are walked like the app walks them."""
    cases = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        for method in sorted((context.methods or set()) - {"HEAD", "OPTIONS"}):
            cases.append(RouteCase(method, str(context.path), route))
    return cases


def known_cases(app: FastAPI) -> list[RouteCase]:
    """The routes whose path parameters all have objects; the others fail
    test_every_path_parameter_has_an_object, and the rest of the matrix still runs."""
    return [c for c in route_cases(app) if all(c.registry_key(p) is not None for p in c.params)]


def _params(dependant: Any, kind: str) -> list[Any]:
    found = list(getattr(dependant, kind))
    for sub in dependant.dependencies:
        found += _params(sub, kind)
    return found


def _strip(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            annotation = next(a for a in get_args(annotation) if a is not NoneType)
        else:
            return annotation


def sample_value(name: str, annotation: Any, side: Side) -> Any:
    if name in FIELD_SAMPLES:
        return FIELD_SAMPLES[name]()
    if name in REFERENCES:
        return side.id(REFERENCES[name])
    kind = _strip(annotation)
    origin = get_origin(kind)
    if origin in (list, set, frozenset, tuple):
        return [sample_value(name, get_args(kind)[0], side)]
    if isinstance(kind, type):
        if issubclass(kind, Enum):
            return next(iter(kind)).value
        if issubclass(kind, BaseModel):
            return sample_model(kind, side)
        samples: dict[type, Callable[[], Any]] = {
            bool: lambda: True,
            int: lambda: 1,
            float: lambda: 1.0,
            Decimal: lambda: "1.00",
            str: lambda: _sample_str(name),
            date: lambda: "2030-12-31",
            datetime: lambda: "2030-12-31T12:00:00+00:00",
        }
        for base, sample in samples.items():
            if issubclass(kind, base):
                return sample()
    raise AssertionError(
        f"cannot make up a value for {name!r} ({annotation!r}): add it to FIELD_SAMPLES or BODIES"
    )


def sample_model(model: type[BaseModel], side: Side) -> dict[str, Any]:
    """Required fields, plus every field that refers to another object (pointed at ``side``).
    An update schema whose fields are all optional gets its first text field."""
    body: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if info.is_required() or name in REFERENCES:
            body[name] = sample_value(name, info.annotation, side)
    if not body:
        for name, info in model.model_fields.items():
            if _strip(info.annotation) is str:
                body[name] = sample_value(name, info.annotation, side)
                break
    return body


def make_body(case: RouteCase, side: Side) -> tuple[str, dict[str, Any]] | None:
    """("json" | "form", body) for the route, or None when it takes no body."""
    if case.key in BODIES:
        body = BODIES[case.key](side)
        as_form = case.is_page or any(isinstance(v, tuple) for v in body.values())
        return ("form" if as_form else "json"), body
    params = _params(case.route.dependant, "body_params")
    if not params:
        return ("form", {}) if case.is_page and case.method in UNSAFE else None
    forms = [p for p in params if isinstance(p.field_info, Form)]
    if forms:
        fields = [p for p in forms if p.field_info.is_required() or p.name in REFERENCES]
        return "form", {
            p.alias: sample_value(p.name, p.field_info.annotation, side) for p in fields
        }
    if len(params) == 1 and not getattr(params[0].field_info, "embed", False):
        model = _strip(params[0].field_info.annotation)
        if isinstance(model, type) and issubclass(model, BaseModel):
            return "json", sample_model(model, side)
    return "json", {p.alias: sample_value(p.name, p.field_info.annotation, side) for p in params}


def query_for(case: RouteCase, side: Side) -> dict[str, Any]:
    """Query parameters that refer to objects point at ``side``; required ones are sampled."""
    query = {}
    for param in _params(case.route.dependant, "query_params"):
        if param.name in REFERENCES or param.field_info.is_required():
            query[param.alias] = sample_value(param.name, param.field_info.annotation, side)
    return query


@dataclass
class Request:
    case: RouteCase
    path: str
    query: dict[str, Any]
    body: tuple[str, dict[str, Any]] | None

    def text(self) -> str:
        return f"{self.path} {json.dumps(self.query)} {json.dumps(self.body, default=str)}"


def build_request(case: RouteCase, path_side: Side, body_side: Side | None = None) -> Request:
    body_side = body_side or path_side
    path = case.path
    for param in case.params:
        key = case.registry_key(param)
        if key is None:
            raise AssertionError(
                f"{case}: the matrix has no object for the path parameter {param!r}; add a "
                f"maker to OBJECTS_OF_B (or an entry to PATH_ALIASES) in {Path(__file__).name}"
            )
        path = re.sub(rf"{{{param}(?::\w+)?}}", str(path_side.id(key)), path)
    query = query_for(case, body_side) if case.method == "GET" else {}
    body = make_body(case, body_side) if case.method in UNSAFE else None
    return Request(case, path, query, body)


def send(client: TestClient, request: Request) -> httpx.Response:
    """Send ``request``; a form carries the CSRF token, and (name, bytes, type) values in it
    go as uploaded files."""
    kw: dict[str, Any] = {"params": request.query, "follow_redirects": False}
    if request.body is not None:
        kind, body = request.body
        if kind == "form":
            files = {k: v for k, v in body.items() if isinstance(v, tuple)}
            kw["data"] = {"csrf_token": getattr(client, "csrf", "")} | {
                k: v for k, v in body.items() if k not in files
            }
            if files:
                kw["files"] = files
        else:
            kw["json"] = body
    return client.request(request.case.method, request.path, **kw)


# ---- the world ---------------------------------------------------------------------------------


@dataclass
class World:
    app: FastAPI
    engine: Engine
    make: Factory
    a: Side
    b: Side
    users: dict[Role, User]
    tokens: dict[Role, TestClient]
    browsers: dict[Role, Browser]
    b_ids: frozenset[int] = frozenset()
    b_strings: frozenset[str] = frozenset()

    def client(self, role: Role, case: RouteCase) -> TestClient:
        return self.browsers[role] if case.is_page else self.tokens[role]

    def leaks(self, request: Request, response: httpx.Response) -> list[str]:
        """B's names and ids in a response, except those the request itself carried."""
        sent = request.text()
        # A download names its file in a header (a PDF's own text is compressed).
        text = response.text + response.headers.get("content-disposition", "")
        found = sorted(s for s in self.b_strings if s not in sent and s in text)
        found += [
            f"id {i}"
            for i in sorted(self.b_ids)
            if str(i) not in sent and re.search(rf"(?<!\d){i}(?!\d)", text)
        ]
        return found


def _bump_sequences(engine: Engine) -> None:
    """Move every id sequence far on, each to its own range: B's ids are then unmistakable."""
    with engine.begin() as connection:
        names = connection.execute(
            sa.text("SELECT schemaname, sequencename FROM pg_sequences ORDER BY sequencename")
        ).all()
        for number, (schema, name) in enumerate(names, start=1):
            connection.execute(
                sa.text("SELECT setval(:seq, :value, false)"),
                {"seq": f'"{schema}"."{name}"', "value": 9_000_001 + number * 10_000},
            )


def _strings_of(objects: list[Any], tag: str) -> frozenset[str]:
    found = set()
    for obj in objects:
        for value in obj.model_dump().values():
            if isinstance(value, str) and tag in value.lower():
                found.add(value)
    return frozenset(found)


def _role_holders(make: Factory, a: Side) -> dict[Role, User]:
    users = {}
    for role in Role:
        kommune = None if role in DRIFT_ROLES else a.get("kommune_id")
        name = f"{A_TAG if kommune else 'drift'}-{role.value}"
        # Only the admin signs in with a password (argon2 is slow); the others get a session.
        user = make.user(
            kommune, role, username=name, password=PASSWORD if role == Role.ADMIN else None
        )
        if role in SYSTEM_ROLES:
            data = ResponsibilityIn(user_id=user.id, kind=role.value)  # type: ignore[arg-type]
            make.run(cmdb.add_responsibility, a.id("ci_id"), data)
        users[role] = user
    # Named on B's TLP:RED change (see _change), so drift staff reach it as participants.
    make.created["drift_people"] = [users[r].id for r in sorted(DRIFT_ROLES)]
    return users


def _browser(stack: ExitStack, app: FastAPI, make: Factory, user: User) -> Browser:
    browser = stack.enter_context(Browser(app, base_url="http://testserver"))
    if user.password_hash:
        browser.login(user.username)
        return browser
    new = make.run(auth.start_session, app.state.settings, user)
    browser.cookies.set(SESSION_COOKIE, new.cookie_value)
    browser.csrf = new.csrf_token
    browser.headers["X-CSRF-Token"] = new.csrf_token
    return browser


def _token_client(stack: ExitStack, app: FastAPI, make: Factory, user: User) -> TestClient:
    _token, raw = make.run(auth.issue_token, user.id, "matrix", frozenset({"read", "write"}))
    client = stack.enter_context(TestClient(app, base_url="http://testserver"))
    client.headers["Authorization"] = f"Bearer {raw}"
    return client


@pytest.fixture(scope="module")
def world(
    pg_server: PostgresServer,
    pg_admin: Engine,
    pg_template: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    with fresh_database(pg_server, pg_admin, pg_template) as url, ExitStack() as stack:
        settings = load_settings(
            database_url=url,
            data_dir=tmp_path_factory.mktemp("matrix"),
            secret_key=SECRET,
            base_url="http://testserver",
        )
        app = create_app(settings)
        engine = app.state.engine
        stack.callback(engine.dispose)
        make = Factory(engine)
        make.created["settings"] = settings  # for makers that store files
        a = Side(make, A_TAG)
        for key in OBJECTS_OF_B:
            a.get(key)
        users = _role_holders(make, a)
        tokens = {role: _token_client(stack, app, make, u) for role, u in users.items()}
        browsers = {role: _browser(stack, app, make, u) for role, u in users.items()}
        _bump_sequences(engine)
        b = Side(make, B_TAG)
        objects = [b.get(key) for key in OBJECTS_OF_B if key not in SHARED_KEYS]
        yield World(
            app,
            engine,
            make,
            a,
            b,
            users,
            tokens,
            browsers,
            b_ids=frozenset(int(o.id) for o in objects),
            b_strings=_strings_of(objects, B_TAG),
        )


# ---- the checks --------------------------------------------------------------------------------

A_ROLES = [r for r in Role if r not in DRIFT_ROLES]
SORTED_DRIFT_ROLES = sorted(DRIFT_ROLES)


def _body_refers_to_b(world: World, request: Request) -> bool:
    if request.body is None:
        return False
    values = json.dumps(request.body[1], default=str)
    return any(str(i) in values for i in world.b_ids) or B_TAG in values.lower()


def _requests_of(world: World, case: RouteCase) -> list[tuple[Request, bool]]:
    """The requests a kommune-A user makes on ``case``, each with whether it must be refused:
    B's objects in the path (always refused), and for writes also A's own object in the path
    with B's objects in the body (e.g. B's site for A's user; refused)."""
    plain = build_request(case, world.b)
    requests = [
        (plain, case.names_b or (case.method in UNSAFE and _body_refers_to_b(world, plain)))
    ]
    if case.params and case.method in UNSAFE:
        mixed = build_request(case, world.a, world.b)
        if _body_refers_to_b(world, mixed):
            requests.append((mixed, True))
    return requests


def attempt(
    world: World, role: Role, request: Request, failures: list[str]
) -> httpx.Response | None:
    """Send ``request`` as ``role``; a crash or a server error is recorded as a failure (and
    the matrix goes on with the other routes)."""
    where = f"{role.value}: {request.case.method} {request.path}"
    try:
        response = send(world.client(role, request.case), request)
    except Exception as exc:
        failures.append(f"{where} raised {type(exc).__name__}: {exc}")
        return None
    if response.status_code >= 500:
        failures.append(f"{where} -> {response.status_code} (server error)")
        return None
    return response


def check_kommune_role(world: World, role: Role, cases: list[RouteCase]) -> list[str]:
    """Everything a kommune-A user does with B's objects: refused, and nothing of B shown."""
    failures: list[str] = []
    for case in cases:
        if case.key in NOT_RUN:
            continue
        try:
            requests = _requests_of(world, case)
        except AssertionError as exc:
            failures.append(f"{case}: {exc}")
            continue
        for request, must_refuse in requests:
            response = attempt(world, role, request, failures)
            if response is None:
                continue
            where = f"{role.value}: {case.method} {request.path} {request.body or ''}"
            if must_refuse and response.status_code not in REFUSED:
                failures.append(f"{where} -> {response.status_code}, expected a refusal")
            if leaked := world.leaks(request, response):
                failures.append(f"{where} -> {response.status_code} shows B: {leaked[:5]}")
    return failures


def _still_signed_in(world: World, role: Role) -> list[str]:
    out = []
    if world.tokens[role].get("/api/v1/me").status_code != 200:
        out.append(f"{role.value}: the token client lost its token during the run")
    if world.browsers[role].get("/profil", follow_redirects=False).status_code != 200:
        out.append(f"{role.value}: the browser was signed out during the run")
    return out


def _report(failures: list[str]) -> str:
    return f"{len(failures)} isolation failures:\n" + "\n".join(failures)


def test_every_path_parameter_has_an_object(world: World) -> None:
    unknown = sorted(
        f"{case}: {param}"
        for case in route_cases(world.app)
        for param in case.params
        if case.registry_key(param) is None
    )
    assert not unknown, (
        "path parameters without an object of kommune B (add makers to OBJECTS_OF_B or "
        "entries to PATH_ALIASES):\n" + "\n".join(unknown)
    )


def test_the_matrix_covers_the_api_and_the_pages(world: World) -> None:
    cases = route_cases(world.app)
    paths = {c.path for c in cases}
    assert {
        "/api/v1/sites/{site_id}",
        "/api/v1/cis/{ci_id}/usage",
        "/kommuner/{kommune_id}",
    } <= paths
    assert sum(1 for c in cases if c.params) >= 30
    stale = [k for k in [*BODIES, *NOT_RUN, *NO_ADMIN_CONTROL] if k not in {c.key for c in cases}]
    assert not stale, f"entries for routes that no longer exist: {stale}"
    assert set(Role) == set(world.users), "every role needs a holder"


@pytest.mark.parametrize("role", A_ROLES, ids=[r.value for r in A_ROLES])
def test_kommune_a_people_never_reach_kommune_b(world: World, role: Role) -> None:
    failures = check_kommune_role(world, role, known_cases(world.app))
    failures += _still_signed_in(world, role)
    assert not failures, _report(failures)


@pytest.mark.parametrize("role", SORTED_DRIFT_ROLES, ids=[r.value for r in SORTED_DRIFT_ROLES])
def test_drift_roles_see_kommune_b(world: World, role: Role) -> None:
    """Drift staff see every kommune: no 404 on B's objects; an admin gets each of them, and
    what the admin gets shows B (so the leak check of the kommune-A run can see a leak)."""
    failures: list[str] = []
    for case in known_cases(world.app):
        if case.method != "GET" or not case.names_b:
            continue
        request = build_request(case, world.b)
        response = attempt(world, role, request, failures)
        if response is None:
            continue
        where = f"{role.value}: GET {request.path}"
        allowed = {200} if role == Role.ADMIN else {200, 403}
        if any(case.registry_key(p) in PERSONAL_KEYS for p in case.params):
            allowed = {404}
        if response.status_code not in allowed:
            failures.append(f"{where} -> {response.status_code}, expected {sorted(allowed)}")
        elif response.status_code == 200 and not world.leaks(request, response):
            failures.append(f"{where} shows nothing of B: is the object in OBJECTS_OF_B right?")
    assert not failures, _report(failures)


def test_admin_control_every_request_of_the_matrix_is_plausible(world: World) -> None:
    """Each write of the matrix succeeds for an admin (on fresh objects of B), so the refusals
    above are about access, not about a malformed request. Runs last: it changes B."""
    failures: list[str] = []
    for case in known_cases(world.app):
        if case.method not in UNSAFE or case.key in NOT_RUN or case.key in NO_ADMIN_CONTROL:
            continue
        try:
            request = build_request(case, world.b.fresh())
        except AssertionError as exc:
            failures.append(f"{case}: {exc}")
            continue
        response = attempt(world, Role.ADMIN, request, failures)
        if response is not None and response.status_code >= 400:
            failures.append(
                f"{case} as admin -> {response.status_code} {response.text[:300]!r}; "
                f"fix its body (BODIES) or its objects (OBJECTS_OF_B)"
            )
        if case.key == ("PUT", "/api/v1/me/password"):
            # Changing one's password through the API ends one's sign-ins in browsers (issue
            # 14, item 11): the admin's browser signs in again for the pages after it.
            admin = world.browsers[Role.ADMIN]
            admin.headers.pop("X-CSRF-Token", None)  # the ended session's
            admin.cookies.delete(SESSION_COOKIE)
            admin.login(world.users[Role.ADMIN].username)
    assert not failures, _report(failures)


# ---- the matrix itself can fail ------------------------------------------------------------------

leaky = APIRouter()


@leaky.get("/api/v1/leaky/sites/{site_id}")
def _leaky_site(db: PageDb, site_id: int) -> dict[str, Any]:
    """What a route that forgets the access layer would do: read as the system."""
    from register.access import Principal, bind

    with bind(Session(db.get_bind()), Principal.system("leak")) as system:
        site = system.get(Site, site_id)
        names = system.exec(select(Site.name)).all()
        return {"site": site.model_dump() if site else None, "all": list(names)}


def test_the_matrix_catches_a_route_that_bypasses_the_access_layer(world: World) -> None:
    app = create_app(world.app.state.settings)
    app.include_router(leaky)
    cases = [c for c in route_cases(app) if "/leaky/" in c.path]
    assert len(cases) == 1
    with TestClient(app, base_url="http://testserver") as client:
        client.headers.update(world.tokens[Role.END_USER].headers)
        view = World(**{**world.__dict__, "tokens": {Role.END_USER: client}})
        failures = check_kommune_role(view, Role.END_USER, cases)
    assert any("expected a refusal" in f for f in failures), failures
    assert any("shows B" in f for f in failures), failures
