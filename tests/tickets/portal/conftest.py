"""Portal fixtures: a small upload limit, a service catalogue, and page helpers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session

from fellesdrift.kernel.settings import Settings, load_settings
from servicedesk.tickets.models import CatalogueItem
from servicedesk.tickets.service import catalogue
from servicedesk.tickets.service.catalogue import CatalogueItemIn, FormField
from tests.support.factories import Factory
from tests.support.fixtures import SECRET
from tests.tickets.conftest import World

#: Small, so an oversized upload is quick to make.
UPLOAD_LIMIT = 64 * 1024


@pytest.fixture
def settings(pg_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=pg_url,
        data_dir=tmp_path / "var",
        secret_key=SECRET,
        base_url="http://testserver",
        upload_max_bytes=UPLOAD_LIMIT,
    )


@dataclass
class Catalogue:
    plain: CatalogueItem  # no approval; one field of each kind
    access: CatalogueItem  # approved by the systemeier of the shared system
    pc: CatalogueItem  # approved by the requester's leader (kommune contact)


def _item(session: Session, key: str, approval: str, ci_id: int | None = None) -> CatalogueItem:
    fields = [
        FormField(name="for_whom", label="Hvem gjelder det", label_en="For whom", required=True),
        FormField(
            name="level",
            label="Tilgangsnivå",
            label_en="Access level",
            type="select",
            required=True,
            options=[
                {"value": "read", "label": "Lese", "label_en": "Read"},  # type: ignore[list-item]
                {"value": "write", "label": "Skrive", "label_en": "Write"},  # type: ignore[list-item]
            ],
        ),
        FormField(name="from_date", label="Fra dato", label_en="From", type="date"),
        FormField(name="count", label="Antall", label_en="How many", type="number", min=1, max=10),
        FormField(name="why", label="Hvorfor", label_en="Why", type="textarea", max=100),
    ]
    data = CatalogueItemIn(
        key=key,
        name=f"Bestilling {key}",
        name_en=f"Order {key}",
        category="Tilgang",
        description="Beskrivelse av tjenesten.",
        approval=approval,  # type: ignore[arg-type]
        ci_id=ci_id,
        fields=fields,
    )
    return catalogue.create_item(session, data)


@pytest.fixture
def items(make: Factory, world: World) -> Catalogue:
    with make.session() as s:
        plain = _item(s, "plain", "none")
        access = _item(s, "access", "systemeier", world.shared.id)
        pc = _item(s, "pc", "leader")
        s.commit()
    return Catalogue(plain, access, pc)
