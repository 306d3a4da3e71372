"""The sandbox's JQL engine: compiles a query once into a predicate and sort keys over `SearchDoc`s.

`compile_jql` parses (`jql_parser.py`), then checks fields, operators and values the way Jira Cloud
validates, collecting every such message before raising one `JqlError`. Each clause becomes a closure
over plain attribute reads, so filtering 100,000 documents costs a few tens of milliseconds.

Semantics kept from Jira:
- `NOT` is pushed down to the clauses (`NOT a = x` is `a != x`), and `!=`/`NOT IN` never match an
  empty field: `assignee != bob` leaves out unassigned issues, as Jira does.
- Names of projects, statuses, issue types, priorities and status categories, issue keys and labels
  match case-insensitively; a project, status, issue type or priority may also be given by id.
  Account ids match exactly. `key`, `issuekey`, `id` and `issue` are one field: a number is an id.
- Dates are read in UTC (the sandbox user's zone) at minute precision, like Jira: `created =
  "2026-01-31 14:00"` matches 14:00:00 to 14:00:59, `created > "2026-01-31"` includes that day.
- `~` is word-based and case-insensitive: every word of the query must occur in the field, with
  light English stemming ("issues" finds "issue"), `*`/`?` wildcards inside a word, and `"exact
  phrase"` within the value for words in sequence.
- Without ORDER BY, results come newest first: `created DESC, key DESC`, as `/search/jql` does.
  Empty values (no assignee, no priority) sort first ascending and last descending.
- History (`WAS`, `WAS IN`, `WAS NOT`, `WAS NOT IN`, `CHANGED`) works on status, assignee, reporter,
  priority, resolution and fixVersion, as in Jira, over the change groups each document carries: a
  value counts from the change that set it (the creation, by the reporter, for the first value) to the
  change that replaced it. `WAS NOT` is "never had the value" (within the predicates' period).
- `resolution = Unresolved` is `resolution IS EMPTY`; `parentEpic = E` finds the epic, its children
  and their sub-tasks; `linkedIssues(K[, type])` the issues linked to K (by that link phrase or type).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter, ge, gt, le, lt
from typing import Any

from ticketbridge.sandboxes.jira.history import ChangeGroup
from ticketbridge.sandboxes.jira.jql_parser import (
    And,
    Clause,
    Empty,
    Function,
    HistoryPredicate,
    JqlError,
    Node,
    Not,
    Operand,
    SortKey,
    TextTerm,
    Value,
    ValueList,
    apply_increment,
    parse,
    parse_date,
    period_start,
    shift,
    text_terms,
)

__all__ = ["CompiledQuery", "JqlContext", "JqlError", "LinkRef", "SearchDoc", "compile_jql"]


@dataclass(frozen=True, slots=True)
class LinkRef:
    """One link of an issue: the other issue, the phrase from each side (lower case) and the type name."""

    other_id: int
    other_key: str
    phrase: str  # how this issue relates to the other ("blocks")
    other_phrase: str  # how the other relates to this one ("is blocked by")
    type_name: str


@dataclass(frozen=True, slots=True)
class JqlContext:
    """What a query needs to know of the site besides values: custom fields by lower-cased JQL name
    (name and `cf[N]`) -> (field id, type), groups (lower-cased) -> members, issue types by kind,
    and each sprint's state."""

    custom_fields: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    subtask_types: frozenset[str] = frozenset()
    standard_types: frozenset[str] = frozenset()
    sprint_states: Mapping[int, str] = field(default_factory=dict)
    #: Lower-cased sprint name -> id.
    sprint_names: Mapping[str, int] = field(default_factory=dict)
    #: Custom field id -> its options' lower-cased values and ids (select and multi-select fields).
    custom_options: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(slots=True)
class SearchDoc:
    """One issue as search sees it; `text` is the summary, description and comments as plain text."""

    id: int
    key: str
    project_key: str
    project_id: str
    summary: str
    text: str
    status_name: str
    status_id: str
    status_category_key: str
    status_category_name: str
    issuetype_name: str
    issuetype_id: str
    assignee_account_id: str | None
    reporter_account_id: str | None
    labels: tuple[str, ...]
    priority_name: str | None
    priority_id: str | None
    created: datetime  # tz-aware UTC
    updated: datetime  # tz-aware UTC
    resolution_id: str | None = None
    resolution_name: str | None = None
    resolved: datetime | None = None
    duedate: datetime | None = None  # UTC midnight
    #: (id, name) pairs.
    components: tuple[tuple[str, str], ...] = ()
    fix_versions: tuple[tuple[str, str], ...] = ()
    affected_versions: tuple[tuple[str, str], ...] = ()
    parent_id: int | None = None
    parent_key: str | None = None
    epic_key: str | None = None
    watcher_ids: tuple[str, ...] = ()
    has_attachments: bool = False
    links: tuple[LinkRef, ...] = ()
    sprint_ids: tuple[int, ...] = ()
    #: Custom field id -> its value as JQL compares it (see `Site.custom_search_values`).
    custom: Mapping[str, Any] | None = None
    rank: int = 0
    history: tuple[ChangeGroup, ...] = ()


Predicate = Callable[[SearchDoc], bool]

DEFAULT_ORDER: list[tuple[str, bool]] = [("created", True), ("key", True)]
DATE_FORMATS = (
    "Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
    "or a period format e.g. '-5d', '4w 2d'."
)
#: Jira's default priority scheme, highest first: the name and id of each.
_DEFAULT_PRIORITIES = (("highest", "1"), ("high", "2"), ("medium", "3"), ("low", "4"), ("lowest", "5"))
PRIORITY_RANKS = {alias: 5 - index for index, aliases in enumerate(_DEFAULT_PRIORITIES) for alias in aliases}
#: Status category key by key, name and id (Jira Cloud's fixed categories).
STATUS_CATEGORIES = {
    "undefined": "undefined", "no category": "undefined", "1": "undefined",
    "new": "new", "to do": "new", "2": "new",
    "indeterminate": "indeterminate", "in progress": "indeterminate", "4": "indeterminate",
    "done": "done", "3": "done",
}  # fmt: skip
_CATEGORY_ORDER = {"undefined": 0, "new": 1, "indeterminate": 2, "done": 3}
_MINUTE = timedelta(minutes=1)
_ISSUE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*-\d+")
_ORDERING = frozenset({"<", "<=", ">", ">="})
_EQUALITY = frozenset({"=", "!=", "in", "not in"})
_EMPTY_TESTS = frozenset({"is", "is not"})
_LIST_OPERATORS = frozenset({"in", "not in", "was in", "was not in"})
_COMPARE: dict[str, Callable[[int, int], bool]] = {"<": lt, "<=": le, ">": gt, ">=": ge}
_NEGATED = {
    "=": "!=", "!=": "=", "in": "not in", "not in": "in", "is": "is not", "is not": "is",
    "~": "!~", "!~": "~", "<": ">=", ">=": "<", ">": "<=", "<=": ">",
}  # fmt: skip


class _Invalid(Exception):
    """One validation message; compilation goes on to find the others."""


def compile_jql(
    text: str,
    *,
    current_account_id: str | None,
    now: datetime,
    known_values: Mapping[str, Container[str]] | None = None,
    context: JqlContext | None = None,
) -> CompiledQuery:
    """Compile `text`; raises `JqlError` with Jira's messages if it cannot be run.

    `known_values` maps "project", "status", "issuetype", "priority", "user" (assignee and reporter)
    and "key" to the lower-cased names and ids that exist; a value outside its set is refused as
    Jira refuses it, and a field missing from the map is not checked. "statuscategory" defaults to
    Jira's fixed categories. With None, no value is checked. `currentUser()` matches nothing when
    `current_account_id` is None (an anonymous caller). `context` tells custom fields, groups, issue
    type kinds and sprints; without it, none exist.
    """
    query = parse(text)
    compiler = _Compiler(current_account_id, now, known_values, context or JqlContext())
    predicate = compiler.predicate(query.where, negated=False) if query.where is not None else None
    order_by = compiler.order_by(query.order_by) if query.order_by else list(DEFAULT_ORDER)
    if compiler.errors:
        raise JqlError(compiler.errors)
    return CompiledQuery(predicate, order_by)


class CompiledQuery:
    """A compiled query; `order_by` is the effective order, `(field, descending)` pairs."""

    __slots__ = ("_predicate", "order_by")

    def __init__(self, predicate: Predicate | None, order_by: list[tuple[str, bool]]) -> None:
        self._predicate = predicate
        self.order_by = order_by

    def matches(self, doc: SearchDoc) -> bool:
        return self._predicate is None or self._predicate(doc)

    def apply(self, docs: Iterable[SearchDoc]) -> list[SearchDoc]:
        """Filter, then sort. Sorts are stable, so ties keep the input order."""
        selected = list(docs) if self._predicate is None else list(filter(self._predicate, docs))
        for name, descending in reversed(self.order_by):
            selected.sort(key=SORT_KEYS[name], reverse=descending)
        return selected


def _key_order(doc: SearchDoc) -> tuple[str, int]:
    project, _, number = doc.key.rpartition("-")
    return project, int(number)


def _priority_rank(doc: SearchDoc) -> int:
    if doc.priority_name is None:
        return -1
    return PRIORITY_RANKS.get(doc.priority_name.lower(), 0)


def _optional(get: Callable[[SearchDoc], str | None]) -> Callable[[SearchDoc], tuple[bool, str]]:
    def key(doc: SearchDoc) -> tuple[bool, str]:
        value = get(doc)
        return value is not None, value or ""

    return key


SORT_KEYS: dict[str, Callable[[SearchDoc], Any]] = {
    "created": attrgetter("created"),
    "updated": attrgetter("updated"),
    "key": _key_order,
    "id": attrgetter("id"),
    "priority": _priority_rank,
    "status": lambda doc: doc.status_name.casefold(),
    "statusCategory": lambda doc: _CATEGORY_ORDER.get(doc.status_category_key, 0),
    "issuetype": lambda doc: doc.issuetype_name.casefold(),
    "project": attrgetter("project_key"),
    "summary": lambda doc: doc.summary.casefold(),
    "assignee": _optional(attrgetter("assignee_account_id")),
    "reporter": _optional(attrgetter("reporter_account_id")),
    "rank": attrgetter("rank"),
    "duedate": lambda doc: (doc.duedate is not None, doc.duedate or datetime.min.replace(tzinfo=UTC)),
    "resolved": lambda doc: (doc.resolved is not None, doc.resolved or datetime.min.replace(tzinfo=UTC)),
    "resolution": _optional(lambda doc: doc.resolution_name.casefold() if doc.resolution_name else None),
}
_SORT_NAMES = {name.lower(): name for name in SORT_KEYS} | {
    "issuekey": "key", "type": "issuetype", "createddate": "created", "updateddate": "updated",
    "due": "duedate", "resolutiondate": "resolved",
}  # fmt: skip
_DESCENDING_BY_DEFAULT = frozenset({"created", "updated", "priority"})

#: Canonical field -> (operators it accepts, whether it can be empty).
_FIELDS: dict[str, tuple[frozenset[str], bool]] = {
    "project": (frozenset({"=", "!=", "in", "not in", "is", "is not"}), False),
    "status": (frozenset({"=", "!=", "in", "not in"}), False),
    "statuscategory": (frozenset({"=", "!=", "in", "not in"}), False),
    "issuetype": (frozenset({"=", "!=", "in", "not in"}), False),
    "priority": (frozenset({"=", "!=", "in", "not in", "is", "is not", "<", "<=", ">", ">="}), True),
    "key": (frozenset({"=", "!=", "in", "not in", "<", "<=", ">", ">="}), False),
    "assignee": (frozenset({"=", "!=", "in", "not in", "is", "is not"}), True),
    "reporter": (frozenset({"=", "!=", "in", "not in", "is", "is not"}), True),
    "labels": (frozenset({"=", "!=", "in", "not in", "is", "is not"}), True),
    "created": (frozenset({"=", "!=", "in", "not in", "<", "<=", ">", ">="}), False),
    "updated": (frozenset({"=", "!=", "in", "not in", "<", "<=", ">", ">="}), False),
    "summary": (frozenset({"~", "!~"}), False),
    "text": (frozenset({"~"}), False),
    "resolution": (_EQUALITY | _EMPTY_TESTS, True),
    "duedate": (_EQUALITY | _EMPTY_TESTS | _ORDERING, True),
    "resolved": (_EQUALITY | _EMPTY_TESTS | _ORDERING, True),
    "component": (_EQUALITY | _EMPTY_TESTS, True),
    "fixversion": (_EQUALITY | _EMPTY_TESTS, True),
    "affectedversion": (_EQUALITY | _EMPTY_TESTS, True),
    "parent": (_EQUALITY, False),
    "parentepic": (_EQUALITY, False),
    "watcher": (_EQUALITY | _EMPTY_TESTS, True),
    "attachments": (_EMPTY_TESTS, True),
    "sprint": (_EQUALITY | _EMPTY_TESTS, True),
    "issuelinktype": (_EQUALITY | _EMPTY_TESTS, True),
}
_FIELD_ALIASES = {
    "type": "issuetype", "issue type": "issuetype", "issuekey": "key", "id": "key", "issue": "key",
    "createddate": "created", "updateddate": "updated", "status category": "statuscategory",
    "due": "duedate", "resolutiondate": "resolved", "components": "component", "fixversions": "fixversion",
    "fix version": "fixversion", "affectedversions": "affectedversion", "affected version": "affectedversion",
    "watchers": "watcher", "attachment": "attachments",
}  # fmt: skip
#: Operators of each custom field type.
_CUSTOM_OPERATORS: dict[str, frozenset[str]] = {
    "text": frozenset({"~", "!~", "is", "is not"}),
    "textarea": frozenset({"~", "!~", "is", "is not"}),
    "number": _EQUALITY | _EMPTY_TESTS | _ORDERING,
    "select": _EQUALITY | _EMPTY_TESTS,
    "multiselect": _EQUALITY | _EMPTY_TESTS,
    "user": _EQUALITY | _EMPTY_TESTS,
    "date": _EQUALITY | _EMPTY_TESTS | _ORDERING,
    "datetime": _EQUALITY | _EMPTY_TESTS | _ORDERING,
    "labels": _EQUALITY | _EMPTY_TESTS,
}
#: Fields with a history, and the field id their changelog items carry.
_HISTORY_FIELDS = {
    "status": "status", "assignee": "assignee", "reporter": "reporter", "priority": "priority",
    "resolution": "resolution", "fixversion": "fixVersions",
}  # fmt: skip
_PREDICATES = {
    "was": frozenset({"after", "before", "by", "during", "on"}),
    "changed": frozenset({"after", "before", "by", "during", "on", "from", "to"}),
}
_USER_FIELDS = frozenset({"assignee", "reporter", "watcher"})
_DATE_FIELDS = frozenset({"created", "updated", "duedate", "resolved"})
#: Where each field's existing values are found in `known_values`.
_KNOWN_VALUES_KEY = {
    "project": "project", "status": "status", "issuetype": "issuetype", "priority": "priority",
    "statuscategory": "statuscategory", "assignee": "user", "reporter": "user", "key": "key",
    "watcher": "user", "parent": "key", "parentepic": "key", "resolution": "resolution",
    "component": "component", "fixversion": "version", "affectedversion": "version", "sprint": "sprint",
}  # fmt: skip
#: (least, most) arguments; the period functions take an optional increment.
_ARITY = {
    "currentuser": (0, 0), "now": (0, 0), "membersof": (1, 1), "linkedissues": (1, 2),
    "standardissuetypes": (0, 0), "subtaskissuetypes": (0, 0),
    "opensprints": (0, 0), "closedsprints": (0, 0), "futuresprints": (0, 0),
}  # fmt: skip
#: Canonical spelling of each supported function, by lower-cased name.
_FUNCTIONS = {
    "currentuser": "currentUser", "now": "now", "membersof": "membersOf", "linkedissues": "linkedIssues",
    "standardissuetypes": "standardIssueTypes", "subtaskissuetypes": "subTaskIssueTypes",
    "opensprints": "openSprints", "closedsprints": "closedSprints", "futuresprints": "futureSprints",
} | {
    f"{edge}of{period}".lower(): f"{edge}Of{period}"
    for edge in ("start", "end")
    for period in ("Day", "Week", "Month", "Year")
}  # fmt: skip
#: What each non-date function returns; the others return dates.
_FUNCTION_KINDS = {
    "currentuser": "user", "membersof": "user", "linkedissues": "issue",
    "standardissuetypes": "issuetype", "subtaskissuetypes": "issuetype",
    "opensprints": "sprint", "closedsprints": "sprint", "futuresprints": "sprint",
}  # fmt: skip
#: The kind of function value each field takes (fields not listed take none, dates aside).
_FIELD_FUNCTION_KIND = {
    "assignee": "user", "reporter": "user", "watcher": "user", "key": "issue", "parent": "issue",
    "parentepic": "issue", "issuetype": "issuetype", "sprint": "sprint",
}  # fmt: skip
_SPRINT_STATES = {"opensprints": "active", "closedsprints": "closed", "futuresprints": "future"}


class _Compiler:
    def __init__(
        self,
        current_account_id: str | None,
        now: datetime,
        known_values: Mapping[str, Container[str]] | None,
        context: JqlContext,
    ) -> None:
        self.current_account_id = current_account_id
        self.now = now.astimezone(UTC)
        self.known_values = known_values
        self.context = context
        self.errors: list[str] = []

    def order_by(self, keys: tuple[SortKey, ...]) -> list[tuple[str, bool]]:
        order: list[tuple[str, bool]] = []
        for key in keys:
            name = _SORT_NAMES.get(key.field.lower())
            if name is None:
                self.errors.append(f"Not able to sort using field '{key.field}'.")
                continue
            default = name in _DESCENDING_BY_DEFAULT
            order.append((name, default if key.descending is None else key.descending))
        return order

    def predicate(self, node: Node, *, negated: bool) -> Predicate:
        if isinstance(node, Not):
            return self.predicate(node.child, negated=not negated)
        if isinstance(node, Clause):
            try:
                return self.clause(node, negated)
            except _Invalid as invalid:
                self.errors.append(str(invalid))
                return _never
        children = [self.predicate(child, negated=negated) for child in node.children]
        # De Morgan: a negated AND is an OR of negated children, and vice versa.
        if isinstance(node, And) != negated:
            return _all_of(children)
        return _any_of(children)

    def clause(self, clause: Clause, negated: bool) -> Predicate:
        name = clause.field.lower()
        field = _FIELD_ALIASES.get(name, name)
        if field not in _FIELDS and name in self.context.custom_fields:
            return self.custom_clause(clause, negated, *self.context.custom_fields[name])
        if field not in _FIELDS:
            raise _Invalid(f"Field '{clause.field}' does not exist or you do not have permission to view it.")
        if clause.operator == "changed" or clause.operator.startswith("was"):
            found = self.history_clause(clause, field)
            return _negation(found) if negated else found
        operators, can_be_empty = _FIELDS[field]
        operator, operand = clause.operator, clause.operand
        _check_shape(clause)  # before the operator, as Jira does: "summary in test" is a shape error
        if operator not in operators:
            raise _Invalid(f"The operator '{operator}' is not supported by the '{clause.field}' field.")
        if isinstance(operand, Empty) and operator in _ORDERING:
            raise _Invalid(
                f"The operator '{operator}' does not support searching for EMPTY values on the field '{clause.field}'."
            )
        if isinstance(operand, Empty) and operator in ("=", "!=") and not can_be_empty:
            raise _Invalid(f"The field '{clause.field}' does not support searching for EMPTY values.")
        if negated:
            operator = _NEGATED[operator]
        if field in _DATE_FIELDS:
            return self.date_clause(clause, _DATE_GETTERS[field], operator, can_be_empty)
        if field in ("summary", "text"):
            return _text_clause(clause, self.single_value(clause, field), attrgetter(field), operator)
        if field == "key" and operator in _ORDERING:
            return self.key_range(clause, self.single_value(clause, field), operator)
        if field == "priority" and operator in _ORDERING:
            return self.priority_range(clause, self.single_value(clause, field), operator)
        if operator in ("is", "is not"):
            return _equality(operator, _never, _equality_tests(field, set())[1], with_empty=False)
        selection = self.values(clause, field)
        hits, is_empty = _equality_tests(field, selection.values)
        if selection.extra:
            hits = _any_of([hits, *selection.extra])
        return _equality(operator, hits, is_empty, selection.with_empty)

    def custom_clause(self, clause: Clause, negated: bool, field_id: str, kind: str) -> Predicate:
        if clause.operator == "changed" or clause.operator.startswith("was"):
            raise _Invalid(f"The operator '{clause.operator}' is not supported by the '{clause.field}' field.")
        _check_shape(clause)
        operator, operand = clause.operator, clause.operand
        if operator not in _CUSTOM_OPERATORS[kind]:
            raise _Invalid(f"The operator '{operator}' is not supported by the '{clause.field}' field.")
        if isinstance(operand, Empty) and operator in _ORDERING:
            raise _Invalid(
                f"The operator '{operator}' does not support searching for EMPTY values on the field '{clause.field}'."
            )
        if negated:
            operator = _NEGATED[operator]

        def get(doc: SearchDoc) -> Any:
            return doc.custom.get(field_id) if doc.custom else None

        def is_empty(doc: SearchDoc) -> bool:
            return get(doc) in (None, (), "")

        if operator in ("is", "is not"):
            return _equality(operator, _never, is_empty, with_empty=False)
        if kind in ("text", "textarea"):
            return _text_clause(clause, self.single_value(clause, "text"), lambda doc: get(doc) or "", operator)
        if kind in ("date", "datetime"):
            return self.date_clause(clause, get, operator, True)
        if kind == "number":
            return self.number_clause(clause, get, operator)
        selection = self.custom_values(clause, field_id, kind)
        values = selection.values

        def hits(doc: SearchDoc) -> bool:
            value = get(doc)
            if value is None:
                return False
            if isinstance(value, tuple):
                return any(v in values for v in value)
            return value in values

        return _equality(operator, hits, is_empty, selection.with_empty)

    def custom_values(self, clause: Clause, field_id: str, kind: str) -> _Selection:
        items = clause.operand.items if isinstance(clause.operand, ValueList) else (clause.operand,)
        selection = _Selection()
        options = self.context.custom_options.get(field_id)
        for item in items:
            if isinstance(item, Empty):
                selection.with_empty = True
            elif isinstance(item, Function):
                self.check_function(item, clause, returns="user" if kind == "user" else None)
                selection.values |= self.function_values(item, clause, selection)
            elif kind == "user":
                selection.values.add(self.checked(clause, "assignee", item.text))
            else:
                value = item.text.lower()
                if options is not None and value not in options:
                    raise _Invalid(f"The option '{item.text}' for field '{clause.field}' is not valid.")
                selection.values.add(value)
        return selection

    def number_clause(self, clause: Clause, get: Callable[[SearchDoc], Any], operator: str) -> Predicate:
        items = clause.operand.items if isinstance(clause.operand, ValueList) else (clause.operand,)
        numbers: list[float] = []
        with_empty = False
        for item in items:
            if isinstance(item, Empty):
                with_empty = True
                continue
            if isinstance(item, Function):
                self.check_function(item, clause, returns=None)
            assert isinstance(item, Value)
            try:
                numbers.append(float(item.text))
            except ValueError:
                raise _Invalid(f"The value '{item.text}' does not exist for the field '{clause.field}'.") from None
        if operator in _ORDERING:
            compare, bound = _FLOAT_COMPARE[operator], numbers[0]
            return lambda doc: get(doc) is not None and compare(get(doc), bound)
        wanted = set(numbers)
        return _equality(operator, lambda doc: get(doc) in wanted, lambda doc: get(doc) is None, with_empty)

    def history_clause(self, clause: Clause, field: str) -> Predicate:
        operator = clause.operator
        if field not in _HISTORY_FIELDS:
            raise _Invalid(f"The operator '{operator}' is not supported by the '{clause.field}' field.")
        base = "changed" if operator == "changed" else "was"
        for found in clause.predicates:
            if found.word not in _PREDICATES[base]:
                raise _Invalid(
                    f"The predicate '{found.word.upper()}' is not supported by the '{base.upper()}' operator."
                )
        field_id = _HISTORY_FIELDS[field]
        by: set[str] | None = None
        windows: list[tuple[datetime, datetime]] = []
        changed_from = changed_to = None
        for found in clause.predicates:
            if found.word == "by":
                by = (by or set()) | self.values(_as_clause(clause, found), "assignee").values
            elif found.word in ("from", "to"):
                chosen = self.values(_as_clause(clause, found), field)
                changed_from, changed_to = (chosen, changed_to) if found.word == "from" else (changed_from, chosen)
            else:
                windows.append(self.window(clause, found))
        users = field in ("assignee", "reporter")
        current = _CURRENT[field]
        if base == "changed":
            return _changed(field_id, users, by, windows, changed_from, changed_to)
        if operator in ("was in", "was not in") and not isinstance(clause.operand, ValueList | Function):
            raise _Invalid(
                f"Operator '{operator}' does not support the non-list value '{_shown(clause.operand)}' "
                f"for field '{clause.field}'."
            )
        if operator in ("was", "was not") and isinstance(clause.operand, ValueList):
            raise _Invalid(
                f"Operator '{operator}' does not support the list value '{_shown(clause.operand)}' "
                f"for field '{clause.field}'."
            )
        selection = self.values(clause, field)

        def was(doc: SearchDoc) -> bool:
            for state, start, end, author in _timeline(doc, field_id, current(doc)):
                if not _state_matches(state, selection, users):
                    continue
                if by is not None and author not in by:
                    continue
                if all(start < high and (end is None or end > low) for low, high in windows):
                    return True
            return False

        return was if operator in ("was", "was in") else _negation(was)

    def window(self, clause: Clause, found: HistoryPredicate) -> tuple[datetime, datetime]:
        """The period a time predicate names, as [low, high)."""
        earliest, latest = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
        if found.word == "during":
            items = found.operand.items if isinstance(found.operand, ValueList) else ()
            if len(items) != 2:
                raise _Invalid(f"The 'DURING' predicate of the field '{clause.field}' takes a list of two dates.")
            return self.moment(clause, items[0]), _minute_after(self.moment(clause, items[1]))
        if isinstance(found.operand, ValueList):
            raise _Invalid(
                f"The '{found.word.upper()}' predicate does not support the list value '{_shown(found.operand)}' "
                f"for field '{clause.field}'."
            )
        moment = self.moment(clause, found.operand)
        if found.word == "after":
            return _minute_after(moment), latest
        if found.word == "before":
            return earliest, moment
        day = moment.replace(hour=0, minute=0)
        return day, day + timedelta(days=1)

    def single_value(self, clause: Clause, field: str) -> Value:
        """The operand of a clause that takes one literal; the shape and EMPTY checks have run."""
        operand = clause.operand
        if isinstance(operand, Empty):
            raise _Invalid(f"The field '{clause.field}' does not support searching for EMPTY values.")
        if isinstance(operand, Function):
            self.check_function(operand, clause, returns=None)
        assert isinstance(operand, Value)  # check_function raised for a function
        return operand

    def values(self, clause: Clause, field: str) -> _Selection:
        """The lower-cased values a clause names (functions resolved, checked), and whether EMPTY is one."""
        items = clause.operand.items if isinstance(clause.operand, ValueList) else (clause.operand,)
        selection = _Selection()
        unknown: list[str] = []  # Jira names every value it cannot find, not just the first
        for item in items:
            if isinstance(item, Empty):
                if not _FIELDS[field][1]:
                    raise _Invalid(f"The field '{clause.field}' does not support searching for EMPTY values.")
                selection.with_empty = True
            elif isinstance(item, Function):
                self.check_function(item, clause, returns=_FIELD_FUNCTION_KIND.get(field))
                selection.values |= self.function_values(item, clause, selection)
            elif field == "resolution" and item.text.lower() == "unresolved":
                selection.with_empty = True
            else:
                try:
                    value = self.checked(clause, field, item.text)
                except _Invalid as invalid:
                    unknown.append(str(invalid))
                    continue
                if field == "sprint" and not value.isdigit():
                    value = str(self.context.sprint_names.get(value, value))
                selection.values.add(value)
        if unknown:
            self.errors.extend(unknown[:-1])
            raise _Invalid(unknown[-1])
        return selection

    def function_values(self, function: Function, clause: Clause, selection: _Selection) -> set[str]:
        """The values a (checked) list or user function stands for; linkedIssues() adds a predicate."""
        name = function.name.lower()
        if name == "currentuser":
            return {self.current_account_id} if self.current_account_id is not None else set()
        if name == "membersof":
            members = self.context.groups.get(function.args[0].lower())
            if members is None:
                raise _Invalid(
                    f"Function 'membersOf' can not generate a list of usernames for group '{function.args[0]}'; "
                    "the group does not exist."
                )
            return set(members)
        if name == "linkedissues":
            selection.extra.append(self.linked_issues(function))
            return set()
        if name == "standardissuetypes":
            return set(self.context.standard_types)
        if name == "subtaskissuetypes":
            return set(self.context.subtask_types)
        state = _SPRINT_STATES[name]
        return {str(i) for i, s in self.context.sprint_states.items() if s == state}

    def linked_issues(self, function: Function) -> Predicate:
        target = function.args[0]
        known = self.existing("key")
        if not (_ISSUE_KEY.fullmatch(target) or target.isdigit()) or (
            known is not None and target.lower() not in known
        ):
            raise _Invalid(f"Issue '{target}' could not be found in function 'linkedIssues'.")
        wanted, phrase = target.lower(), function.args[1].lower() if len(function.args) > 1 else None

        def linked(doc: SearchDoc) -> bool:
            return any(
                (ref.other_key.lower() == wanted or str(ref.other_id) == wanted)
                and (phrase is None or phrase in (ref.other_phrase, ref.type_name))
                for ref in doc.links
            )

        return linked

    def checked(self, clause: Clause, field: str, text: str) -> str:
        value = text if field in _USER_FIELDS else text.lower()
        if field in ("key", "parent", "parentepic") and not (text.isdigit() or _ISSUE_KEY.fullmatch(text)):
            raise _Invalid(f"The issue key '{text}' for field '{clause.field}' is invalid.")
        existing = self.existing(field)
        if existing is not None and value.lower() not in existing:
            if field in ("key", "parent", "parentepic"):  # a key or an id (Jira names both a key)
                raise _Invalid(f"An issue with key '{text}' does not exist for field '{clause.field}'.")
            raise _Invalid(f"The value '{text}' does not exist for the field '{clause.field}'.")
        return value

    def existing(self, field: str) -> Container[str] | None:
        if self.known_values is None or field not in _KNOWN_VALUES_KEY:  # e.g. labels: any label may be asked
            return None
        found = self.known_values.get(_KNOWN_VALUES_KEY[field])
        if found is None and field == "statuscategory":
            return set(STATUS_CATEGORIES)
        return found

    def check_function(self, function: Function, clause: Clause, *, returns: str | None) -> None:
        """Check a function exists, returns what the field holds ("user", "date", "issue", "issuetype",
        "sprint", None: none of those) and its arity."""
        name = function.name.lower()
        if name not in _FUNCTIONS:
            raise _Invalid(f"Unable to find JQL function '{function.name}()'.")
        canonical = _FUNCTIONS[name]
        if returns != _FUNCTION_KINDS.get(name, "date"):
            raise _Invalid(f"A value provided by the function '{canonical}' is invalid for the field '{clause.field}'.")
        least, most = _ARITY.get(name, (0, 1))
        if not least <= len(function.args) <= most:
            expected = f"'{most}'" if least == most else f"between '{least}' and '{most}'"
            raise _Invalid(f"Function '{canonical}' expected {expected} arguments but received '{len(function.args)}'.")

    def date_clause(
        self, clause: Clause, get: Callable[[SearchDoc], datetime | None], operator: str, can_be_empty: bool
    ) -> Predicate:
        if operator in ("is", "is not"):
            return _equality(operator, _never, lambda doc: get(doc) is None, with_empty=False)
        items = clause.operand.items if isinstance(clause.operand, ValueList) else (clause.operand,)
        with_empty = can_be_empty and any(isinstance(item, Empty) for item in items)
        moments = [self.moment(clause, item) for item in items if not (with_empty and isinstance(item, Empty))]

        def known(test: Callable[[datetime], bool]) -> Predicate:
            def check(doc: SearchDoc) -> bool:
                value = get(doc)
                return value is not None and test(value)

            return check

        if operator in ("in", "not in", "=", "!="):
            inside = known(lambda v: any(m <= v < _minute_after(m) for m in moments))
            if operator in ("in", "="):
                return _any_of([inside, lambda doc: get(doc) is None]) if with_empty else inside
            return known(lambda v: not any(m <= v < _minute_after(m) for m in moments))
        # Whole minutes: "<= 14:00" takes 14:00:59, "> 14:00" starts at 14:01.
        moment, next_minute = moments[0], _minute_after(moments[0])
        if operator == "<":
            return known(lambda v: v < moment)
        if operator == "<=":
            return known(lambda v: v < next_minute)
        if operator == ">":
            return known(lambda v: v >= next_minute)
        return known(lambda v: v >= moment)

    def moment(self, clause: Clause, item: Value | Empty | Function) -> datetime:
        if isinstance(item, Empty):
            raise _Invalid(f"The field '{clause.field}' does not support searching for EMPTY values.")
        if isinstance(item, Function):
            self.check_function(item, clause, returns="date")
            return _truncate(self.date_function(item))
        moment = parse_date(item.text, self.now)
        if moment is None:
            raise _Invalid(f"Date value '{item.text}' for field '{clause.field}' is invalid. {DATE_FORMATS}")
        return _truncate(moment)

    def date_function(self, function: Function) -> datetime:
        name = function.name.lower()
        if name == "now":
            return self.now
        edge, _, period = name.partition("of")
        start = period_start(self.now, period)
        moment = start if edge == "start" else shift(start, period, 1) - timedelta(microseconds=1)
        if not function.args:
            return moment
        shifted = apply_increment(moment, function.args[0], period)
        if shifted is None:
            raise _Invalid(
                f"Duration for function '{_FUNCTIONS[name]}' should have the format (+/-)n(y|M|w|d|h|m), "
                "e.g. -1M for one month earlier."
            )
        return shifted

    def key_range(self, clause: Clause, value: Value, operator: str) -> Predicate:
        compare = _COMPARE[operator]
        if value.text.isdigit():
            bound = int(value.text)
            return lambda doc: compare(doc.id, bound)
        self.checked(clause, "key", value.text)
        project, _, number_text = value.text.lower().rpartition("-")
        number = int(number_text)

        def in_range(doc: SearchDoc) -> bool:
            doc_project, doc_number = _key_order(doc)
            return doc_project.lower() == project and compare(doc_number, number)

        return in_range

    def priority_range(self, clause: Clause, value: Value, operator: str) -> Predicate:
        self.checked(clause, "priority", value.text)
        bound = PRIORITY_RANKS.get(value.text.lower())
        if bound is None:  # a priority outside Jira's default scheme has no known rank
            return _never
        compare = _COMPARE[operator]
        # Empty and unknown priorities (ranks -1 and 0) are outside every range.
        return lambda doc: _priority_rank(doc) > 0 and compare(_priority_rank(doc), bound)


@dataclass(slots=True)
class _Selection:
    """The values a clause names: lower-cased names and ids, whether EMPTY is one of them, and the
    predicates of functions that name issues by a relation (linkedIssues())."""

    values: set[str] = field(default_factory=set)
    with_empty: bool = False
    extra: list[Predicate] = field(default_factory=list)


#: A history field's value(s) as (id, name) pairs: what it holds now, as the changelog writes it.
_Pairs = frozenset[tuple[str | None, str | None]]


def _pairs(*pairs: tuple[str | None, str | None]) -> _Pairs:
    return frozenset(p for p in pairs if p[0] is not None)


_CURRENT: dict[str, Callable[[SearchDoc], _Pairs]] = {
    "status": lambda doc: _pairs((doc.status_id, doc.status_name)),
    "assignee": lambda doc: _pairs((doc.assignee_account_id, None)),
    "reporter": lambda doc: _pairs((doc.reporter_account_id, None)),
    "priority": lambda doc: _pairs((doc.priority_id, doc.priority_name)),
    "resolution": lambda doc: _pairs((doc.resolution_id, doc.resolution_name)),
    "fixversion": lambda doc: frozenset(doc.fix_versions),
}
_DATE_GETTERS: dict[str, Callable[[SearchDoc], datetime | None]] = {
    "created": attrgetter("created"),
    "updated": attrgetter("updated"),
    "duedate": attrgetter("duedate"),
    "resolved": attrgetter("resolved"),
}
_FLOAT_COMPARE: dict[str, Callable[[float, float], bool]] = {"<": lt, "<=": le, ">": gt, ">=": ge}
_Period = tuple[_Pairs, datetime, "datetime | None", "str | None"]


def _timeline(doc: SearchDoc, field_id: str, current: _Pairs) -> list[_Period]:
    """Each value the field held, newest first: (value, from, until or None for now, who set it).

    Walks the history backwards from the current value; the first value was set by the reporter at
    creation (Jira attributes it to the creator)."""
    periods: list[_Period] = []
    state, until = current, None
    for group in reversed(doc.history):
        items = [item for item in group.items if item.field_id == field_id]
        if not items:
            continue
        periods.append((state, group.created, until, group.author_account_id))
        before = set(state)
        for item in items:
            if item.to is not None or item.to_string is not None:
                before.discard((item.to, item.to_string))
                before = {p for p in before if p[0] != item.to}
            if item.from_ is not None or item.from_string is not None:
                before.add((item.from_, item.from_string))
        state, until = frozenset(before), group.created
    periods.append((state, doc.created, until, doc.reporter_account_id))
    return periods


def _pair_matches(value_id: str | None, text: str | None, selection: _Selection, users: bool) -> bool:
    if value_id is None and text is None:
        return selection.with_empty
    if users:
        return value_id in selection.values
    return (value_id or "").lower() in selection.values or (text or "").lower() in selection.values


def _state_matches(state: _Pairs, selection: _Selection, users: bool) -> bool:
    if not state:
        return selection.with_empty
    return any(_pair_matches(value_id, text, selection, users) for value_id, text in state)


def _changed(
    field_id: str,
    users: bool,
    by: set[str] | None,
    windows: list[tuple[datetime, datetime]],
    changed_from: _Selection | None,
    changed_to: _Selection | None,
) -> Predicate:
    def changed(doc: SearchDoc) -> bool:
        for group in doc.history:
            if by is not None and group.author_account_id not in by:
                continue
            if not all(low <= group.created < high for low, high in windows):
                continue
            for item in group.items:
                if item.field_id != field_id:
                    continue
                if changed_from is not None and not _pair_matches(item.from_, item.from_string, changed_from, users):
                    continue
                if changed_to is not None and not _pair_matches(item.to, item.to_string, changed_to, users):
                    continue
                return True
        return False

    return changed


def _as_clause(clause: Clause, found: HistoryPredicate) -> Clause:
    """A predicate's operand as a clause of its own, so that its values are read and checked alike."""
    return Clause(clause.field, "in" if isinstance(found.operand, ValueList) else "=", found.operand)


def _check_shape(clause: Clause) -> None:
    """Lists go with IN and NOT IN only, and IS takes only EMPTY."""
    operator, operand = clause.operator, clause.operand
    if operator in ("in", "not in") and not isinstance(operand, ValueList | Function):
        raise _Invalid(
            f"Operator '{operator}' does not support the non-list value '{_shown(operand)}' for field '{clause.field}'."
        )
    if operator not in ("in", "not in") and isinstance(operand, ValueList):
        raise _Invalid(
            f"Operator '{operator}' does not support the list value '{_shown(operand)}' for field '{clause.field}'."
        )
    if operator in ("is", "is not") and not isinstance(operand, Empty):
        raise _Invalid(f"The operator '{operator}' only supports searching for EMPTY values.")


def _shown(operand: Operand) -> str:
    """An operand as Jira quotes it in messages."""
    if isinstance(operand, ValueList):
        return "(" + ", ".join(_shown(item) for item in operand.items) + ")"
    if isinstance(operand, Function):
        return f"{operand.name}({', '.join(operand.args)})"
    if isinstance(operand, Empty):
        return "EMPTY"
    return f'"{operand.text}"'


def _equality_tests(field: str, values: set[str]) -> tuple[Predicate, Predicate | None]:
    """`hits(doc)`: the doc's value is one of `values` (never when empty); `is_empty` if the field can be."""
    if field == "project":
        return lambda doc: doc.project_id in values or doc.project_key.lower() in values, None
    if field == "status":
        return lambda doc: doc.status_id in values or doc.status_name.lower() in values, None
    if field == "issuetype":
        return lambda doc: doc.issuetype_id in values or doc.issuetype_name.lower() in values, None
    if field == "statuscategory":
        keys = {STATUS_CATEGORIES.get(value, value) for value in values}
        return lambda doc: doc.status_category_key in keys, None
    if field == "key":
        ids = {int(value) for value in values if value.isdigit()}
        return lambda doc: doc.id in ids or doc.key.lower() in values, None
    if field == "priority":
        return (
            lambda doc: (
                doc.priority_name is not None and (doc.priority_name.lower() in values or doc.priority_id in values)
            ),
            lambda doc: doc.priority_name is None,
        )
    if field == "labels":
        return (
            lambda doc: any(label.lower() in values for label in doc.labels),
            lambda doc: not doc.labels,
        )
    if field == "resolution":
        return (
            lambda doc: (
                doc.resolution_id is not None
                and (doc.resolution_id in values or (doc.resolution_name or "").lower() in values)
            ),
            lambda doc: doc.resolution_id is None,
        )
    if field in ("component", "fixversion", "affectedversion"):
        get_pairs = attrgetter(
            {"component": "components", "fixversion": "fix_versions"}.get(field, "affected_versions")
        )
        return (
            lambda doc: any(i in values or n.lower() in values for i, n in get_pairs(doc)),
            lambda doc: not get_pairs(doc),
        )
    if field == "parent":
        return lambda doc: str(doc.parent_id) in values or (doc.parent_key or "").lower() in values, None
    if field == "parentepic":
        epic_ids = {value for value in values if value.isdigit()}
        return (
            lambda doc: (
                str(doc.id) in epic_ids
                or any((k or "").lower() in values for k in (doc.key, doc.parent_key, doc.epic_key))
            ),
            None,
        )
    if field == "watcher":
        return lambda doc: any(w in values for w in doc.watcher_ids), lambda doc: not doc.watcher_ids
    if field == "attachments":
        return _never, lambda doc: not doc.has_attachments
    if field == "sprint":
        return lambda doc: any(str(s) in values for s in doc.sprint_ids), lambda doc: not doc.sprint_ids
    if field == "issuelinktype":
        return (
            lambda doc: any(ref.phrase in values for ref in doc.links),
            lambda doc: not doc.links,
        )
    get = attrgetter(f"{field}_account_id")  # assignee, reporter
    return lambda doc: get(doc) in values, lambda doc: get(doc) is None


def _equality(operator: str, hits: Predicate, is_empty: Predicate | None, with_empty: bool) -> Predicate:
    if operator in ("=", "in"):
        return _any_of([hits, is_empty]) if with_empty and is_empty is not None else hits
    if operator in ("!=", "not in"):
        # Jira never matches an empty field with != or NOT IN.
        if is_empty is None:
            return _negation(hits)
        return lambda doc: not is_empty(doc) and not hits(doc)
    if is_empty is None:  # IS [NOT] EMPTY on a field that always has a value
        return _never if operator == "is" else _always
    return is_empty if operator == "is" else _negation(is_empty)


def _text_clause(clause: Clause, operand: Value, get: Callable[[SearchDoc], str], operator: str) -> Predicate:
    try:
        terms = text_terms(operand.text)
    except ValueError:
        raise _Invalid(
            f"The text query '{operand.text}' for field '{clause.field}' is not valid: "
            "probably your use of wild cards is incorrect."
        ) from None
    if not terms:
        raise _Invalid(f"The field '{clause.field}' does not support searching for an empty string.")
    found = _all_of([_contains(get, term) for term in terms])
    return found if operator == "~" else _negation(found)


def _contains(get: Callable[[SearchDoc], str], term: TextTerm) -> Predicate:
    needle, search = term.needle, term.pattern.search

    def contains(doc: SearchDoc) -> bool:
        text = get(doc)
        return needle in text.lower() and search(text) is not None

    return contains


def _between(get: Callable[[SearchDoc], datetime], low: datetime, high: datetime) -> Predicate:
    return lambda doc: low <= get(doc) < high


def _all_of(predicates: list[Predicate]) -> Predicate:
    first, *rest = predicates
    if not rest:
        return first
    others = _all_of(rest)
    return lambda doc: first(doc) and others(doc)


def _any_of(predicates: list[Predicate]) -> Predicate:
    first, *rest = predicates
    if not rest:
        return first
    others = _any_of(rest)
    return lambda doc: first(doc) or others(doc)


def _negation(predicate: Predicate) -> Predicate:
    return lambda doc: not predicate(doc)


def _never(doc: SearchDoc) -> bool:
    return False


def _always(doc: SearchDoc) -> bool:
    return True


def _minute_after(moment: datetime) -> datetime:
    try:
        return moment + _MINUTE
    except OverflowError:  # the last minute of year 9999
        return datetime.max.replace(tzinfo=UTC)


def _truncate(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)
