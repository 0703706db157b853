"""Factories for test data: real rows through the real service functions."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from register import auth
from register.access import Principal, bind
from register.choices import Role
from register.identifiers import orgnr_check_digit
from register.models import ConfigItem, Kommune, Site, User
from register.schemas import CICreate, KommuneCreate, SiteIn, UserCreate
from register.service import cmdb, kommuner, people

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


@cache
def _password_hash(password: str) -> str:
    """A real argon2id hash with the production parameters, made once per password and test
    process: hashing costs about as much as a sign-in (0.1-1 s), and a test world has many
    people. Signing in still verifies against it as in production."""
    return auth.hash_password(password)


def valid_orgnr(n: int) -> str:
    """A mod-11 valid organisasjonsnummer, different for each ``n``."""
    base = 910_000_000 // 10 + n
    while True:
        first8 = str(base)[:8]
        check = orgnr_check_digit(first8)
        if check is not None:
            return first8 + str(check)
        base += 1


@dataclass
class Factory:
    """Creates rows as the system; each call commits so the web app sees them at once."""

    engine: Engine
    created: dict[str, Any] = field(default_factory=dict)

    def session(self) -> Session:
        return bind(Session(self.engine, expire_on_commit=False), Principal.system("factory"))

    def kommune(self, name: str | None = None, **kw: Any) -> Kommune:
        n = next(_seq)
        name = name or f"Testkommune {n}"
        data = {
            "slug": name.lower().replace(" ", "-"),
            "name": name,
            "kommunenummer": f"{(n % 89) + 10:02d}{n % 100:02d}",
            "orgnr": valid_orgnr(n * 7),
            "inhabitants": 1000 * n,
            "inhabitants_date": date(2026, 1, 1),
            "valid_from": date(2000, 1, 1),
        } | kw
        with self.session() as s:
            k = kommuner.create_kommune(s, KommuneCreate(**data))
            s.commit()
            return k

    def site(self, kommune: Kommune, code: str | None = None, **kw: Any) -> Site:
        code = code or f"site-{next(_seq)}"
        with self.session() as s:
            site = kommuner.create_site(
                s, SiteIn(kommune_id=kommune.id, code=code, name=kw.pop("name", code), **kw)
            )
            s.commit()
            return site

    def user(
        self,
        kommune: Kommune | None,
        *roles: Role | str,
        username: str | None = None,
        password: str | None = PASSWORD,
        **kw: Any,
    ) -> User:
        roles = roles or ((Role.END_USER,) if kommune else (Role.AGENT,))
        username = username or f"user{next(_seq)}"
        with self.session() as s:
            u = people.create_user(
                s,
                UserCreate(
                    username=username,
                    full_name=kw.pop("full_name", username.title()),
                    kommune_id=kommune.id if kommune else None,
                    roles=[Role(r) for r in roles],
                    **kw,
                ),
            )
            if password:
                u.password_hash = _password_hash(password)
                s.add(u)
            s.commit()
            return u

    def ci(self, key: str | None = None, **kw: Any) -> ConfigItem:
        key = key or f"ci-{next(_seq)}"
        data = {"name": key.upper(), "kind": "server"} | kw
        with self.session() as s:
            ci = cmdb.create_ci(s, CICreate(key=key, **data))
            s.commit()
            return ci

    def run(self, fn: Any, *args: Any, **kw: Any) -> Any:
        """Call a service function as the system and commit."""
        with self.session() as s:
            result = fn(s, *args, **kw)
            s.commit()
            return result
