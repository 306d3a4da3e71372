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
from collections.abc import Callable, Iterable, Mapping
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
    known_values: Mapping[str, set[str]] | None = None,
) -> CompiledQuery:
    """Compile `text`; raises `JqlError` with Jira's messages if it cannot be run.

    `known_values` maps "project", "status", "issuetype", "priority", "user" (assignee and reporter)
    and "key" to the lower-cased names and ids that exist; a value outside its set is refused as
    Jira refuses it, and a field missing from the map is not checked. "statuscategory" defaults to
    Jira's fixed categories. With None, no value is checked. `currentUser()` matches nothing when
    `current_account_id` is None (an anonymous caller).
    """
    query = parse(text)
    compiler = _Compiler(current_account_id, now, known_values)
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
        for field, descending in reversed(self.order_by):
            selected.sort(key=SORT_KEYS[field], reverse=descending)
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
        self, current_account_id: str | None, now: datetime, known_values: Mapping[str, set[str]] | None
    ) -> None:
        self.current_account_id = current_account_id
        self.now = now.astimezone(UTC)
        self.known_values = known_values
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
        if field not in _FIELDS:
            raise _Invalid(f"Field '{clause.field}' does not exist or you do not have permission to view it.")
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
        if field in ("created", "updated"):
            return self.date_clause(clause, attrgetter(field), operator)
        if field in ("summary", "text"):
            return _text_clause(clause, self.single_value(clause, field), attrgetter(field), operator)
        if field == "key" and operator in _ORDERING:
            return self.key_range(clause, self.single_value(clause, field), operator)
        if field == "priority" and operator in _ORDERING:
            return self.priority_range(clause, self.single_value(clause, field), operator)
        if operator in ("is", "is not"):
            return _equality(operator, _never, _equality_tests(field, set())[1], with_empty=False)
        values, with_empty = self.values(clause, field)
        hits, is_empty = _equality_tests(field, values)
        return _equality(operator, hits, is_empty, with_empty)

    def single_value(self, clause: Clause, field: str) -> Value:
        """The operand of a clause that takes one literal; the shape and EMPTY checks have run."""
        operand = clause.operand
        if isinstance(operand, Empty):
            raise _Invalid(f"The field '{clause.field}' does not support searching for EMPTY values.")
        if isinstance(operand, Function):
            self.check_function(operand, clause, returns=None)
        assert isinstance(operand, Value)  # check_function raised for a function
        return operand

    def values(self, clause: Clause, field: str) -> tuple[set[str], bool]:
        """The lower-cased values a clause names (functions resolved, checked), and whether EMPTY is one."""
        items = clause.operand.items if isinstance(clause.operand, ValueList) else (clause.operand,)
        values: set[str] = set()
        with_empty = False
        for item in items:
            if isinstance(item, Empty):
                if not _FIELDS[field][1]:
                    raise _Invalid(f"The field '{clause.field}' does not support searching for EMPTY values.")
                with_empty = True
            elif isinstance(item, Function):
                self.check_function(item, clause, returns="user" if field in ("assignee", "reporter") else None)
                if self.current_account_id is not None:
                    values.add(self.current_account_id)
            else:
                values.add(self.checked(clause, field, item.text))
        return values, with_empty

    def checked(self, clause: Clause, field: str, text: str) -> str:
        value = text if field in ("assignee", "reporter") else text.lower()
        if field == "key" and text.isdigit():  # an issue id
            return value
        if field == "key" and not _ISSUE_KEY.fullmatch(text):
            raise _Invalid(f"The issue key '{text}' for field '{clause.field}' is invalid.")
        existing = self.existing(field)
        if existing is not None and value.lower() not in existing:
            if field == "key":
                raise _Invalid(f"An issue with key '{text}' does not exist for field '{clause.field}'.")
            raise _Invalid(f"The value '{text}' does not exist for the field '{clause.field}'.")
        return value

    def existing(self, field: str) -> set[str] | None:
        if self.known_values is None or field not in _KNOWN_VALUES_KEY:  # e.g. labels: any label may be asked
            return None
        found = self.known_values.get(_KNOWN_VALUES_KEY[field])
        if found is None and field == "statuscategory":
            return set(STATUS_CATEGORIES)
        return found

    def check_function(self, function: Function, clause: Clause, *, returns: str | None) -> None:
        """Check a function exists, returns what the field holds ("user", "date", None: neither) and arity."""
        name = function.name.lower()
        if name not in _FUNCTIONS:
            raise _Invalid(f"Unable to find JQL function '{function.name}()'.")
        canonical = _FUNCTIONS[name]
        if returns != ("user" if name in _USER_FUNCTIONS else "date"):
            raise _Invalid(f"A value provided by the function '{canonical}' is invalid for the field '{clause.field}'.")
        least, most = _ARITY.get(name, (0, 1))
        if not least <= len(function.args) <= most:
            expected = f"'{most}'" if least == most else f"between '{least}' and '{most}'"
            raise _Invalid(f"Function '{canonical}' expected {expected} arguments but received '{len(function.args)}'.")

    def date_clause(self, clause: Clause, get: Callable[[SearchDoc], datetime], operator: str) -> Predicate:
        items = clause.operand.items if isinstance(clause.operand, ValueList) else (clause.operand,)
        moments = [self.moment(clause, item) for item in items]
        if operator in ("in", "not in", "=", "!="):
            inside = _any_of([_between(get, moment, _minute_after(moment)) for moment in moments])
            return inside if operator in ("in", "=") else _negation(inside)
        # Whole minutes: "<= 14:00" takes 14:00:59, "> 14:00" starts at 14:01.
        moment, next_minute = moments[0], _minute_after(moments[0])
        if operator == "<":
            return lambda doc: get(doc) < moment
        if operator == "<=":
            return lambda doc: get(doc) < next_minute
        if operator == ">":
            return lambda doc: get(doc) >= next_minute
        return lambda doc: get(doc) >= moment

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
