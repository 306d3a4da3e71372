"""Encoded queries (`sysparm_query`): parsing, then matching and ordering rows.

    query     := group ("^NQ" group)*              groups are OR'ed
    group     := term ("^" term)*                  terms are AND'ed; "^OR<cond>" ORs with the term before
    term      := <field><OP><value> | ORDERBY<field> | ORDERBYDESC<field> | EQ
    OP        := = != LIKE NOT LIKE STARTSWITH ENDSWITH IN NOT IN ISEMPTY ISNOTEMPTY ANYTHING
                 > >= < <= BETWEEN (a@b)

Fields may dot-walk references (`assignment_group.name=Network`). A term naming an unknown field or
operator is invalid: ServiceNow drops it and runs the rest, or, with the instance property
`glide.invalid_query.returns_no_rows=true`, returns no rows at all (`Query.invalid`).

String comparisons ignore case, as the instance's database collation does; `!=`, `NOT IN` and
`NOT LIKE` never match an empty value (SQL's NULL semantics). Datetime values may be written as
`javascript:gs.dateGenerate('YYYY-MM-DD','HH:MM:SS')`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cmp_to_key

from ticketbridge.sandboxes.servicenow.schema import TABLES, Column
from ticketbridge.sandboxes.servicenow.state import Instance, Row

OPERATORS = (
    "NOT LIKE",
    "NOT IN",
    "ISNOTEMPTY",
    "ISEMPTY",
    "STARTSWITH",
    "ENDSWITH",
    "ANYTHING",
    "BETWEEN",
    "LIKE",
    "IN",
    "!=",
    ">=",
    "<=",
    "=",
    ">",
    "<",
)
_TERM = re.compile(
    r"^(?P<field>[a-z_][a-z0-9_.]*?)(?P<op>" + "|".join(re.escape(o) for o in OPERATORS) + r")(?P<value>.*)$", re.S
)
_DATE_GENERATE = re.compile(r"^javascript:\s*gs\.dateGenerate\(\s*'([^']*)'\s*,\s*'([^']*)'\s*\)$")


@dataclass(frozen=True, slots=True)
class Condition:
    path: str
    op: str
    value: str


@dataclass
class Query:
    #: OR of groups; each group is an AND of clauses; each clause is an OR of conditions.
    groups: list[list[list[Condition]]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


Resolver = Callable[[Row, str], tuple[Column | None, str]]


def parse(table: str, text: str) -> Query:
    query = Query()
    for raw_group in text.split("^NQ") if text else []:
        group: list[list[Condition]] = []
        for term in raw_group.split("^"):
            if not term or term == "EQ":
                continue
            if term.startswith("ORDERBYDESC"):
                _order(query, table, term[len("ORDERBYDESC") :], descending=True)
            elif term.startswith("ORDERBY"):
                _order(query, table, term[len("ORDERBY") :], descending=False)
            elif term.startswith("OR") and group and (cond := _condition(table, term[2:])) is not None:
                group[-1].append(cond)
            elif (cond := _condition(table, term)) is not None:
                group.append([cond])
            else:
                query.invalid.append(term)
        if group:
            query.groups.append(group)
    return query


def _order(query: Query, table: str, path: str, *, descending: bool) -> None:
    if column_at(table, path) is None:
        query.invalid.append(("ORDERBYDESC" if descending else "ORDERBY") + path)
    else:
        query.order.append((path, descending))


def _condition(table: str, term: str) -> Condition | None:
    match = _TERM.match(term)
    if match is None or column_at(table, match["field"]) is None:
        return None
    return Condition(match["field"], match["op"], match["value"])


def column_at(table: str, path: str) -> Column | None:
    """The column a dot-walked path ends on, or None when a hop is not a reference or not a column."""
    current = TABLES.get(table)
    column: Column | None = None
    for i, part in enumerate(path.split(".")):
        if current is None:
            return None
        column = current.column(part)
        if column is None:
            return None
        if i < path.count("."):
            current = TABLES.get(column.reference or "")
    return column


def resolver(instance: Instance, table: str) -> Resolver:
    def resolve(row: Row, path: str) -> tuple[Column | None, str]:
        current_table = table
        current: Row | None = row
        parts = path.split(".")
        column: Column | None = None
        for i, part in enumerate(parts):
            if current is None:
                return column, ""
            column = TABLES[current_table].column(part)
            if column is None:
                return None, ""
            value = current.get(part, "")
            if i == len(parts) - 1:
                return column, value
            current_table = column.reference or ""
            current = instance.row(current_table, value) if value else None
        return column, ""

    return resolve


def matches(query: Query, row: Row, resolve: Resolver) -> bool:
    if not query.groups:
        return True
    return any(all(any(_holds(c, *resolve(row, c.path)) for c in clause) for clause in group) for group in query.groups)


def run(instance: Instance, table: str, query: Query, rows: Iterable[Row]) -> list[Row]:
    """Rows matching `query`, in its order; none when it has an invalid part and the instance says so."""
    if query.invalid and instance.property_is_true("glide.invalid_query.returns_no_rows"):
        return []
    resolve = resolver(instance, table)
    found = [r for r in rows if matches(query, r, resolve)]
    if query.order:
        found.sort(key=cmp_to_key(lambda a, b: _compare_rows(a, b, query.order, resolve)))
    return found


def _compare_rows(a: Row, b: Row, order: list[tuple[str, bool]], resolve: Resolver) -> int:
    for path, descending in order:
        column, left = resolve(a, path)
        _, right = resolve(b, path)
        result = _compare(column, left, right)
        if result:
            return -result if descending else result
    return 0


def _compare(column: Column | None, left: str, right: str) -> int:
    if left == right:
        return 0
    if not left or not right:  # empty sorts first, as NULL does
        return -1 if not left else 1
    if column is not None and column.is_numeric:
        try:
            lf, rf = float(left), float(right)
        except ValueError:
            pass
        else:
            return (lf > rf) - (lf < rf)
    lk, rk = left.lower(), right.lower()
    return (lk > rk) - (lk < rk)


def _literal(column: Column | None, value: str) -> str:
    if column is not None and column.internal_type == "glide_date_time":
        generated = _DATE_GENERATE.match(value.strip())
        if generated:
            return f"{generated[1]} {generated[2]}"
    return value


def _holds(cond: Condition, column: Column | None, actual: str) -> bool:
    op, value = cond.op, _literal(column, cond.value)
    low, target = actual.lower(), value.lower()
    if op == "ANYTHING":
        return True
    if op == "ISEMPTY":
        return actual == ""
    if op == "ISNOTEMPTY":
        return actual != ""
    if op == "=":
        return _compare(column, actual, value) == 0 if actual and value else actual == value
    if op == "IN":
        return any(_compare(column, actual, v) == 0 for v in value.split(",") if actual and v)
    if op == "LIKE":
        return target in low
    if op == "STARTSWITH":
        return low.startswith(target)
    if op == "ENDSWITH":
        return low.endswith(target)
    if not actual:  # the negations and comparisons never match an empty (NULL) value
        return False
    if op == "!=":
        return _compare(column, actual, value) != 0
    if op == "NOT IN":
        return all(_compare(column, actual, v) != 0 for v in value.split(","))
    if op == "NOT LIKE":
        return target not in low
    if op == "BETWEEN":
        low_bound, _, high_bound = value.partition("@")
        low_bound, high_bound = _literal(column, low_bound), _literal(column, high_bound)
        return _compare(column, actual, low_bound) >= 0 and _compare(column, actual, high_bound) <= 0
    result = _compare(column, actual, value)
    return {">": result > 0, ">=": result >= 0, "<": result < 0, "<=": result <= 0}[op]
