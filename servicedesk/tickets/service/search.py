"""Full-text search over tickets and their replies and notes, in Norwegian.

Design (the schema is created by migration 0003, not by the models):

* **One search document per ticket.** People search for a *case*: "skriver toner" should find
  the ticket whose title says printer and whose third reply says toner. So the ticket's own
  text and the text of its replies and notes are kept together, one row per ticket, and a query
  is matched against that row. Searching tickets and entries separately would miss such hits
  and would need two index lookups and a merge for every query.
* **Two documents, because of who may read notes.** Internal notes are for the drift unit.
  The row holds ``public_doc`` (title, description, resolution, root cause, workaround, public
  replies) and ``all_doc`` (the same plus internal notes). Drift staff are matched against
  ``all_doc``, everybody else against ``public_doc``. Which *tickets* someone may see is not
  decided here: every query selects the ``Ticket`` entity, so the access layer adds its rules
  (tenant, TLP:RED) to the query as to any other.
* **PostgreSQL:** a plain table ``ticket_search`` of ``tsvector`` columns built with the
  ``norwegian`` configuration, a GIN index on each, kept current by triggers (a new or edited
  ticket rebuilds its row; a new reply or note is appended, which costs one small UPDATE). A
  generated column on ``ticket`` could not include the entries, and with an expression index
  every row a query tests outside the index (see :func:`_pg_page`) would be parsed again;
  stored vectors are tested without parsing and keep the ``ticket`` table, which every queue
  reads, narrow. The price is disk: about half the size of ``ticket`` again.
* **SQLite:** an FTS5 virtual table ``ticket_search`` (rowid = ticket id; columns title, body,
  replies, notes) kept in sync by triggers; public searches are limited to the first three
  columns with an FTS5 column filter.
* **Norwegian inflection.** Snowball stems "skriveren" to "skriver" but "skriver" to "skriv",
  so stemming both sides alone would not let "skriveren" find "skriver". Each query word is
  therefore stemmed, then stemmed once more (see :func:`second_stem`), and matched as a
  *prefix*: "skriveren" becomes ``skriv:*`` and finds skriver, skrivere and skriveren.
  PostgreSQL stems with its own dictionary (``norwegian_stem``); SQLite, which has no
  Norwegian stemmer, stems the query with :func:`stem` below (the same Snowball algorithm)
  and matches the stem as a prefix of the unstemmed words. Every word must match (AND);
  Norwegian stop words are ignored, as PostgreSQL does.

Results come newest first (see :func:`search`); pages are keyset pages on the ticket id. The
documents carry weights (title A, description and resolution B, replies and notes C) for a
ranking a later caller may want (``ts_rank``, FTS5 ``bm25``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, select

from fellesdrift.kernel.pagination import decode_cursor, encode_cursor
from fellesdrift.kernel.problems import FieldError, invalid
from register.access import ACCESS_CHECKED, principal_of
from servicedesk.tickets.models import Ticket, desk_ticket

#: The table (PostgreSQL) or FTS5 virtual table (SQLite) of migration 0003.
SEARCH_TABLE = "ticket_search"
MAX_TERMS = 12
MAX_QUERY_CHARS = 300


def is_search_table(name: str) -> bool:
    """Whether ``name`` is the search table or one of FTS5's shadow tables
    (``ticket_search_data``, ``_idx``, ...): schema objects the models do not describe."""
    return name == SEARCH_TABLE or name.startswith(SEARCH_TABLE + "_")


@dataclass(frozen=True)
class SearchPage:
    """One page of matching tickets; ``next`` is the cursor of the following page, or None."""

    tickets: list[Ticket]
    next: str | None
    #: The words that were searched for (stop words and punctuation removed).
    terms: list[str]


# ---- Norwegian stemming (for SQLite; PostgreSQL uses its own dictionary) -------------------------

#: PostgreSQL's tsearch_data/norwegian.stop (the Snowball project's list).
STOP_WORDS = frozenset(
    """og i jeg det at en et den til er som på de med han av ikke ikkje der så var meg seg men
    ett har om vi min mitt ha hadde hun nå over da ved fra du ut sin dem oss opp man kan hans
    hvor eller hva skal selv sjøl her alle vil bli ble blei blitt kunne inn når være kom noen
    noe ville dere deres kun ja etter ned skulle denne for deg si sine sitt mot å meget hvorfor
    dette disse uten hvordan ingen din ditt blir samme hvilken hvilke sånn inni mellom vår hver
    hvem vors hvis både bare enn fordi før mange også slik vært båe begge siden dykk dykkar dei
    deira deires deim di då eg ein eit eitt elles honom hjå ho hoe henne hennar hennes hoss
    hossen ingi inkje korleis korso kva kvar kvarhelst kven kvi kvifor me medan mi mine mykje
    no nokon noka nokor noko nokre sia sidan so somt somme um upp vere vore verte vort varte
    vart""".split()
)
_VOWELS = frozenset("aeiouyæåø")
_S_ENDING = frozenset("bcdfghjlmnoprtvyz")
_STEP1 = sorted(
    """a e ede ande ende ane ene hetene en heten ar er heter as es edes endes enes hetenes ens
    hetens ers ets et het ast""".split(),
    key=len,
    reverse=True,
)
_STEP3 = sorted("leg eleg ig eig lig elig els lov elov slov hetslov".split(), key=len, reverse=True)
_WORD = re.compile(r"[^\W_]+")


def _r1(word: str) -> int:
    """Start of region R1: after the first non-vowel that follows a vowel, at least 3."""
    for i in range(1, len(word)):
        if word[i] not in _VOWELS and word[i - 1] in _VOWELS:
            return max(i + 1, 3)
    return len(word)


def _stem_once(word: str) -> str:
    """The Snowball Norwegian stemmer (the classic algorithm PostgreSQL 15 ships)."""
    r1 = _r1(word)
    region = word[r1:]
    for suffix in ("erte", "ert"):
        if region.endswith(suffix):
            word = word[: -len(suffix)] + "er"
            break
    else:
        for suffix in _STEP1:
            if region.endswith(suffix):
                word = word[: -len(suffix)]
                break
        else:
            if region.endswith("s") and len(word) > 1:
                before = word[-2]
                k_rule = before == "k" and len(word) > 2 and word[-3] not in _VOWELS
                if before in _S_ENDING or k_rule:
                    word = word[:-1]
    if word[r1:].endswith(("dt", "vt")):
        word = word[:-1]
    for suffix in _STEP3:
        if word[r1:].endswith(suffix):
            return word[: -len(suffix)]
    return word


def second_stem(first: str, second: str | None) -> str:
    """Which of a word's stem and its stem's stem to match as a prefix (see the module
    docstring). The shorter one finds more inflections ("skriveren" -> "skriver" -> "skriv"),
    and sometimes a word that only shares the root ("lisenser" -> "lis" also finds "liste");
    in a search where every word must match, a hit too many costs less than a missed case.
    Roots shorter than three letters are not used: they would match almost anything."""
    if second and len(second) >= 3:
        return second
    return first


def stem(word: str) -> str:
    """The prefix a query word is matched with on SQLite."""
    first = _stem_once(word.lower())
    return second_stem(first, _stem_once(first))


#: A hyphen between two letters: "e-post" is one word, written as "epost" as often.
_HYPHEN = re.compile(r"(?<=[^\W_\d])-(?=[^\W_\d])")
#: Words up to this long are also looked for with a hyphen at each place (see ``splits``).
MAX_SPLIT = 24


def words(text: str) -> list[str]:
    """The searchable words of ``text``: lower case, no punctuation, no stop words, and a
    hyphenated word as one ("e-post" is "epost")."""
    joined = _HYPHEN.sub("", text.lower())
    seen = dict.fromkeys(w for w in _WORD.findall(joined) if w not in STOP_WORDS)
    return list(seen)[:MAX_TERMS]


def splits(prefix: str) -> list[tuple[str, str]]:
    """Where a hyphen could stand in a word searched for: "epost" may be written "e-post"
    (or "ep-ost"...). The documents keep the words as written, hyphen and all, so a query
    word also matches each of its hyphenated forms; only whole letters are split."""
    if len(prefix) > MAX_SPLIT or not prefix.isalpha():
        return []
    return [(prefix[:i], prefix[i:]) for i in range(1, len(prefix))]


# ---- queries -------------------------------------------------------------------------------------


def _sees_internal(session: Session) -> bool:
    p = principal_of(session)
    return p.is_system or p.is_drift


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _pg_prefixes(session: Session, text: str) -> list[str]:
    """The query's lexemes as PostgreSQL stems them, each perhaps stemmed once more."""
    rows = session.execute(
        sa.text(
            "SELECT DISTINCT lex, (ts_lexize('norwegian_stem', lex))[1] "
            "FROM unnest(tsvector_to_array(to_tsvector('norwegian'::regconfig, :q))) AS lex"
        ),
        {"q": text},
        execution_options={ACCESS_CHECKED: True},  # stems the query: reads no table
    )
    return sorted({second_stem(str(lex), again) for lex, again in rows if lex})[:MAX_TERMS]


def _pg_lexeme(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "':*"


def _pg_tsquery(prefixes: Sequence[str]) -> str:
    """Every word (AND), each as written or with a hyphen ("epost" | "e-post", whose
    lexeme PostgreSQL keeps whole beside its parts)."""
    groups = []
    for p in prefixes:
        forms = [_pg_lexeme(p), *(_pg_lexeme(f"{a}-{b}") for a, b in splits(p))]
        groups.append("(" + " | ".join(forms) + ")")
    return " & ".join(groups)


def _fts5_query(terms: Sequence[str], internal: bool) -> str:
    """Every word (AND), each as written or split where a hyphen could stand: FTS5 splits
    "e-post" into "e" and "post", which the phrase "e post" finds."""

    def quoted(text: str) -> str:
        return '"' + text.replace('"', '""') + '"*'

    groups = []
    for t in terms:
        s = stem(t)
        forms = [quoted(s), *(quoted(f"{a} {b}") for a, b in splits(s))]
        groups.append("(" + " OR ".join(forms) + ")")
    phrase = " AND ".join(groups)
    return phrase if internal else "{title body replies} : (" + phrase + ")"


_pg_table = sa.table(
    SEARCH_TABLE,
    sa.column("ticket_id", sa.Integer),
    sa.column("public_doc"),
    sa.column("all_doc"),
)
_fts_table = sa.table(SEARCH_TABLE, sa.column("rowid", sa.Integer))

#: Tickets examined newest first before the index takes over (see ``_pg_page``).
PG_WINDOW = 5000


@dataclass(frozen=True)
class _Query:
    terms: list[str]
    internal: bool
    #: PostgreSQL: the tsquery text; SQLite: the FTS5 MATCH expression.
    match: str


def _query(session: Session, text: str) -> _Query | None:
    terms = words(text.strip()[:MAX_QUERY_CHARS])
    if not terms:
        return None
    internal = _sees_internal(session)
    if _dialect(session) == "postgresql":
        prefixes = _pg_prefixes(session, " ".join(terms))
        return _Query(terms, internal, _pg_tsquery(prefixes)) if prefixes else None
    return _Query(terms, internal, _fts5_query(terms, internal))


def _pg_doc_and_query(query: _Query) -> tuple[Any, Any]:
    doc = _pg_table.c.all_doc if query.internal else _pg_table.c.public_doc
    # The query's lexemes as they are (a cast parses no text: "e-post" stays one lexeme).
    return doc, sa.cast(query.match, postgresql.TSQUERY)


def matching_ids(session: Session, text: str) -> Any:
    """A subquery of the ids of tickets whose text matches ``text`` (for the queue filter); no
    ids when nothing searchable is left of ``text``. Visibility is the caller's query's."""
    query = _query(session, text)
    if query is None:
        return sa.select(sa.literal(None, sa.Integer)).where(sa.false())
    if _dialect(session) == "postgresql":
        doc, tsquery = _pg_doc_and_query(query)
        return sa.select(_pg_table.c.ticket_id).where(doc.op("@@")(tsquery))
    return sa.select(_fts_table.c.rowid).where(
        sa.literal_column(SEARCH_TABLE).op("MATCH")(query.match)
    )


def _pg_page(session: Session, query: _Query, limit: int, before: int | None) -> list[Ticket]:
    """Newest first, in two steps whose cost is bounded either way.

    A frequent word ("skriver") matches many tickets; the newest of them are found by walking
    the newest tickets and testing each one's document (``ts_match_vq``, the function behind
    ``@@``, which the planner cannot turn into an index scan). A rare word would make that walk
    cover the whole table, so after a window of ``PG_WINDOW`` tickets the GIN index supplies
    the rest: few ids, fetched by primary key. Left to itself the planner cannot tell the two
    apart, because it has no statistics for prefix matches.
    """
    doc, tsquery = _pg_doc_and_query(query)
    if before is None:
        top = session.execute(sa.select(sa.func.max(_pg_table.c.ticket_id))).scalar()
        before = (top or 0) + 1
    floor = before - PG_WINDOW
    walk = (
        select(Ticket)
        .join(_pg_table, _pg_table.c.ticket_id == col(Ticket.id))
        .where(sa.func.ts_match_vq(doc, tsquery), col(Ticket.id) < before, col(Ticket.id) >= floor)
        .where(desk_ticket())
        .order_by(col(Ticket.id).desc())
        .limit(limit)
    )
    found = list(session.exec(walk).all())
    if len(found) == limit or floor <= 1:
        return found
    older = sa.select(_pg_table.c.ticket_id).where(
        doc.op("@@")(tsquery), _pg_table.c.ticket_id < floor
    )
    rest = (
        select(Ticket)
        .where(col(Ticket.id) == sa.any_(sa.func.array(older.scalar_subquery())), desk_ticket())
        .order_by(col(Ticket.id).desc())
        .limit(limit - len(found))
    )
    return found + list(session.exec(rest).all())


def _sqlite_page(session: Session, query: _Query, limit: int, before: int | None) -> list[Ticket]:
    hits = (
        sa.select(_fts_table.c.rowid.label("ticket_id"))
        .where(sa.literal_column(SEARCH_TABLE).op("MATCH")(query.match))
        .subquery("hits")
    )
    stmt = select(Ticket).join(hits, hits.c.ticket_id == col(Ticket.id)).where(desk_ticket())
    if before is not None:
        stmt = stmt.where(col(Ticket.id) < before)
    return list(session.exec(stmt.order_by(col(Ticket.id).desc()).limit(limit)).all())


def search(session: Session, text: str, limit: int = 50, after: str | None = None) -> SearchPage:
    """Tickets matching ``text`` that the session's principal may see, newest first.

    ``after`` is the ``next`` cursor of the previous page. Replies are searched as far as the
    principal may read them: internal notes only for the drift unit. Newest first rather than
    by relevance: it is what people look for in a service desk (the current case about X), and
    it lets a frequent word be answered from the newest tickets without ranking every match."""
    query = _query(session, text)
    if query is None:
        return SearchPage([], None, [])
    before = _cursor(after)
    page = _pg_page if _dialect(session) == "postgresql" else _sqlite_page
    rows = page(session, query, limit + 1, before)
    tickets = rows[:limit]
    nxt = encode_cursor(tickets[-1].id) if len(rows) > limit else None
    return SearchPage(tickets, nxt, query.terms)


def _cursor(after: str | None) -> int | None:
    if not after:
        return None
    value = decode_cursor(after)
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(FieldError("after", "is not a cursor returned by this API", after))
    return value
