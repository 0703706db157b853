"""ticket search: full-text documents of tickets and their replies and notes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 05:00:00

Hand-written: the objects below are not described by the models (``alembic check`` leaves them
alone through ``include_name`` in ``env.py``); ``servicedesk.tickets.service.search`` explains
the design and queries them.

PostgreSQL: a table ``ticket_search`` with one row per ticket and two ``tsvector`` documents
(Norwegian configuration) with a GIN index each: ``public_doc`` (title, description, resolution,
problem fields, public replies) and ``all_doc`` (the same plus internal notes). Triggers keep it
current: a new or edited ticket rebuilds its row, a new reply or note is appended.

SQLite: an FTS5 virtual table ``ticket_search`` (rowid = ticket id; columns title, body,
replies, notes) kept in sync by triggers.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Bytes of reply and note text indexed per ticket on PostgreSQL. A tsvector holds at most
#: 1 MB and takes up to about three bytes per byte of text; with the ticket's own fields
#: (at most ~160 kB) this keeps every document well inside the limit, so no insert can fail
#: on it. Text past the budget stays on the timeline but is not searchable.
ENTRY_BUDGET = 100_000

PG_UPGRADE = [
    """
    CREATE TABLE ticket_search (
        ticket_id integer NOT NULL,
        public_doc tsvector NOT NULL,
        all_doc tsvector NOT NULL,
        entry_bytes integer NOT NULL DEFAULT 0,
        CONSTRAINT pk_ticket_search PRIMARY KEY (ticket_id),
        CONSTRAINT fk_ticket_search_ticket_id_ticket FOREIGN KEY (ticket_id)
            REFERENCES ticket (id) ON DELETE CASCADE
    )
    """,
    # The ticket's own text: the title weighs most (A), the rest next (B); entries are C.
    """
    CREATE FUNCTION ticket_search_head(
        title text, description text, resolution text, root_cause text, workaround text
    ) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT setweight(to_tsvector('norwegian'::regconfig, coalesce(title, '')), 'A')
            || setweight(to_tsvector('norwegian'::regconfig,
                   concat_ws(' ', description, resolution, root_cause, workaround)), 'B')
    $$
    """,
    f"""
    CREATE FUNCTION ticket_search_rebuild(tid integer) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
        head tsvector;
        replies text;
        notes text;
        used integer;
    BEGIN
        SELECT ticket_search_head(t.title, t.description, t.resolution, t.root_cause,
                                  t.workaround)
          INTO head FROM ticket t WHERE t.id = tid;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        SELECT string_agg(e.body, ' ' ORDER BY e.id) FILTER (WHERE e.public),
               string_agg(e.body, ' ' ORDER BY e.id) FILTER (WHERE NOT e.public),
               coalesce(max(e.running), 0)
          INTO replies, notes, used
          FROM (SELECT body, public,
                       sum(octet_length(body)) OVER (ORDER BY id) AS running, id
                  FROM ticket_entry
                 WHERE ticket_id = tid AND kind IN ('reply', 'note') AND body <> '') e
         WHERE e.running <= {ENTRY_BUDGET};
        head := head || setweight(to_tsvector('norwegian'::regconfig, coalesce(replies, '')), 'C');
        INSERT INTO ticket_search (ticket_id, public_doc, all_doc, entry_bytes)
        VALUES (tid, head,
                head || setweight(to_tsvector('norwegian'::regconfig, coalesce(notes, '')), 'C'),
                used)
        ON CONFLICT (ticket_id) DO UPDATE
           SET public_doc = EXCLUDED.public_doc, all_doc = EXCLUDED.all_doc,
               entry_bytes = EXCLUDED.entry_bytes;
    END
    $$
    """,
    """
    CREATE FUNCTION ticket_search_ticket_added() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        head tsvector := ticket_search_head(NEW.title, NEW.description, NEW.resolution,
                                            NEW.root_cause, NEW.workaround);
    BEGIN
        INSERT INTO ticket_search (ticket_id, public_doc, all_doc) VALUES (NEW.id, head, head);
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION ticket_search_ticket_edited() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM ticket_search_rebuild(NEW.id);
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE FUNCTION ticket_search_entry_added() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        doc tsvector;
    BEGIN
        IF NEW.kind NOT IN ('reply', 'note') OR NEW.body = '' THEN
            RETURN NULL;
        END IF;
        doc := setweight(to_tsvector('norwegian'::regconfig, NEW.body), 'C');
        UPDATE ticket_search
           SET public_doc = CASE WHEN NEW.public THEN public_doc || doc ELSE public_doc END,
               all_doc = all_doc || doc,
               entry_bytes = entry_bytes + octet_length(NEW.body)
         WHERE ticket_id = NEW.ticket_id
           AND entry_bytes + octet_length(NEW.body) <= {ENTRY_BUDGET};
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION ticket_search_entry_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM ticket_search_rebuild(OLD.ticket_id);
        IF TG_OP = 'UPDATE' AND NEW.ticket_id <> OLD.ticket_id THEN
            PERFORM ticket_search_rebuild(NEW.ticket_id);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER ticket_search_ticket_insert AFTER INSERT ON ticket
        FOR EACH ROW EXECUTE FUNCTION ticket_search_ticket_added()
    """,
    # Only edits of the text columns: status changes and the like leave the document alone.
    """
    CREATE TRIGGER ticket_search_ticket_update
        AFTER UPDATE OF title, description, resolution, root_cause, workaround ON ticket
        FOR EACH ROW
        WHEN (OLD.title IS DISTINCT FROM NEW.title
              OR OLD.description IS DISTINCT FROM NEW.description
              OR OLD.resolution IS DISTINCT FROM NEW.resolution
              OR OLD.root_cause IS DISTINCT FROM NEW.root_cause
              OR OLD.workaround IS DISTINCT FROM NEW.workaround)
        EXECUTE FUNCTION ticket_search_ticket_edited()
    """,
    """
    CREATE TRIGGER ticket_search_entry_insert AFTER INSERT ON ticket_entry
        FOR EACH ROW EXECUTE FUNCTION ticket_search_entry_added()
    """,
    """
    CREATE TRIGGER ticket_search_entry_change AFTER UPDATE OR DELETE ON ticket_entry
        FOR EACH ROW EXECUTE FUNCTION ticket_search_entry_changed()
    """,
    # Existing tickets, set-based (a row at a time would take hours on a large database).
    f"""
    INSERT INTO ticket_search (ticket_id, public_doc, all_doc, entry_bytes)
    SELECT t.id,
           h.head || setweight(to_tsvector('norwegian'::regconfig, coalesce(e.replies, '')), 'C'),
           h.head || setweight(to_tsvector('norwegian'::regconfig, coalesce(e.replies, '')), 'C')
                  || setweight(to_tsvector('norwegian'::regconfig, coalesce(e.notes, '')), 'C'),
           coalesce(e.used, 0)
      FROM ticket t
     CROSS JOIN LATERAL (SELECT ticket_search_head(t.title, t.description, t.resolution,
                                                   t.root_cause, t.workaround) AS head) h
      LEFT JOIN (
            SELECT ticket_id,
                   string_agg(body, ' ' ORDER BY id) FILTER (WHERE public) AS replies,
                   string_agg(body, ' ' ORDER BY id) FILTER (WHERE NOT public) AS notes,
                   max(running) AS used
              FROM (SELECT ticket_id, id, body, public,
                           sum(octet_length(body))
                               OVER (PARTITION BY ticket_id ORDER BY id) AS running
                      FROM ticket_entry
                     WHERE kind IN ('reply', 'note') AND body <> '') x
             WHERE running <= {ENTRY_BUDGET}
             GROUP BY ticket_id
      ) e ON e.ticket_id = t.id
    """,
    "CREATE INDEX ix_ticket_search_public_doc ON ticket_search USING gin (public_doc)",
    "CREATE INDEX ix_ticket_search_all_doc ON ticket_search USING gin (all_doc)",
]

PG_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS ticket_search_entry_change ON ticket_entry",
    "DROP TRIGGER IF EXISTS ticket_search_entry_insert ON ticket_entry",
    "DROP TRIGGER IF EXISTS ticket_search_ticket_update ON ticket",
    "DROP TRIGGER IF EXISTS ticket_search_ticket_insert ON ticket",
    "DROP FUNCTION IF EXISTS ticket_search_entry_changed()",
    "DROP FUNCTION IF EXISTS ticket_search_entry_added()",
    "DROP FUNCTION IF EXISTS ticket_search_ticket_edited()",
    "DROP FUNCTION IF EXISTS ticket_search_ticket_added()",
    "DROP FUNCTION IF EXISTS ticket_search_rebuild(integer)",
    "DROP TABLE IF EXISTS ticket_search",
    "DROP FUNCTION IF EXISTS ticket_search_head(text, text, text, text, text)",
]

_SQLITE_ENTRIES = (
    "(SELECT group_concat(body, ' ') FROM (SELECT body FROM ticket_entry"
    " WHERE ticket_id = {tid} AND kind IN ('reply', 'note') AND body <> '' AND public = {public}"
    " ORDER BY id))"
)


def _sqlite_entries(tid: str, public: int) -> str:
    return f"coalesce({_SQLITE_ENTRIES.format(tid=tid, public=public)}, '')"


def _sqlite_upgrade() -> list[str]:
    # concat_ws came only with SQLite 3.44; || with coalesce works everywhere.
    body = " || ' ' || ".join(
        f"coalesce({{p}}.{c}, '')" for c in ("description", "resolution", "root_cause", "workaround")
    )
    refill = (
        "UPDATE ticket_search SET replies = {replies}, notes = {notes} WHERE rowid = {tid}"
    )
    return [
        # remove_diacritics 0: å, æ and ø are letters of their own in Norwegian, not accents.
        "CREATE VIRTUAL TABLE ticket_search USING fts5("
        "title, body, replies, notes, tokenize = 'unicode61 remove_diacritics 0')",
        f"""
        CREATE TRIGGER ticket_search_ticket_insert AFTER INSERT ON ticket BEGIN
            INSERT INTO ticket_search (rowid, title, body, replies, notes)
            VALUES (new.id, new.title, {body.format(p="new")}, '', '');
        END
        """,
        f"""
        CREATE TRIGGER ticket_search_ticket_update
        AFTER UPDATE OF title, description, resolution, root_cause, workaround ON ticket
        BEGIN
            UPDATE ticket_search SET title = new.title, body = {body.format(p="new")}
             WHERE rowid = new.id;
        END
        """,
        """
        CREATE TRIGGER ticket_search_ticket_delete AFTER DELETE ON ticket BEGIN
            DELETE FROM ticket_search WHERE rowid = old.id;
        END
        """,
        """
        CREATE TRIGGER ticket_search_entry_insert AFTER INSERT ON ticket_entry
        WHEN new.kind IN ('reply', 'note') AND new.body <> '' BEGIN
            UPDATE ticket_search
               SET replies = CASE WHEN new.public THEN replies || ' ' || new.body
                                  ELSE replies END,
                   notes = CASE WHEN new.public THEN notes ELSE notes || ' ' || new.body END
             WHERE rowid = new.ticket_id;
        END
        """,
        f"""
        CREATE TRIGGER ticket_search_entry_update AFTER UPDATE ON ticket_entry BEGIN
            {refill.format(replies=_sqlite_entries("old.ticket_id", 1),
                           notes=_sqlite_entries("old.ticket_id", 0), tid="old.ticket_id")};
            {refill.format(replies=_sqlite_entries("new.ticket_id", 1),
                           notes=_sqlite_entries("new.ticket_id", 0), tid="new.ticket_id")};
        END
        """,
        f"""
        CREATE TRIGGER ticket_search_entry_delete AFTER DELETE ON ticket_entry BEGIN
            {refill.format(replies=_sqlite_entries("old.ticket_id", 1),
                           notes=_sqlite_entries("old.ticket_id", 0), tid="old.ticket_id")};
        END
        """,
        f"""
        INSERT INTO ticket_search (rowid, title, body, replies, notes)
        SELECT t.id, t.title, {body.format(p="t")}, {_sqlite_entries("t.id", 1)},
               {_sqlite_entries("t.id", 0)}
          FROM ticket t
        """,
    ]


SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS ticket_search_entry_delete",
    "DROP TRIGGER IF EXISTS ticket_search_entry_update",
    "DROP TRIGGER IF EXISTS ticket_search_entry_insert",
    "DROP TRIGGER IF EXISTS ticket_search_ticket_delete",
    "DROP TRIGGER IF EXISTS ticket_search_ticket_update",
    "DROP TRIGGER IF EXISTS ticket_search_ticket_insert",
    "DROP TABLE IF EXISTS ticket_search",
]


def _statements(upgrade: bool) -> list[str]:
    name = op.get_bind().dialect.name
    if name == "postgresql":
        return PG_UPGRADE if upgrade else PG_DOWNGRADE
    if name == "sqlite":
        return _sqlite_upgrade() if upgrade else SQLITE_DOWNGRADE
    raise RuntimeError(f"ticket search supports PostgreSQL and SQLite, not {name}")


def upgrade() -> None:
    for statement in _statements(upgrade=True):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(upgrade=False):
        op.execute(statement)
