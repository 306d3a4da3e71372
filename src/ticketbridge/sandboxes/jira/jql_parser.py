"""JQL syntax: a tokenizer and a recursive-descent parser that build a small syntax tree.

Only syntax is checked here. A query that parses may still name an unknown field, value or function;
`jql.py` reports those when it compiles the tree. Messages copy Jira Cloud's wording, including its
inconsistency: errors about an operand start "Error in JQL Query", all others "Error in the JQL Query".
Errors at a token carry its "(line L, character C)", 1-based; errors at the end of the query carry none.

Precedence is NOT > AND > OR. `&&`/`&`, `||`/`|` and `!` are accepted as AND, OR and NOT, as in Jira.
The history operators WAS, WAS NOT, WAS IN, WAS NOT IN and CHANGED take predicates after their operand
(`status WAS Done BY currentUser() AFTER -1w`, `assignee CHANGED FROM a TO b DURING ("2026-01-01",
"2026-02-01")`); `cf[10100]` names a custom field by number.

The literals inside values have their own small syntax, also read here: dates and periods
(`parse_date`), the increments of date functions (`apply_increment`) and the words and phrases of a
text search (`text_terms`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SYNTAX = "Error in the JQL Query:"
#: Jira's prefix for operand errors lacks "the"; captured Cloud responses show both forms.
OPERAND_SYNTAX = "Error in JQL Query:"
VALID_OPERATORS = (
    "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'."
)
VALID_ESCAPES = "The valid escape sequences are \\', \\\", \\t, \\n, \\r, \\\\, '\\ ' and \\uXXXX."

#: Words with a meaning in the grammar; they are never read as a field name or a value unless quoted.
GRAMMAR_WORDS = frozenset({"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"})
#: Jira's reserved words (Atlassian's "Reserved characters and words" list) outside the grammar.
_RESERVED_WORDS_TEXT = """
    abort access add after alias all alter any as audit avg before begin between boolean break byte catch cf
    char character check checkpoint collate collation column commit connect continue count create current
    date decimal declare decrement default defaults define delete delimiter difference distinct divide do
    double drop else encoding end equals escape exclusive exec execute exists explain false fetch file
    field first float for from function go goto grant greater group having identified if immediate
    increment index initial inner inout input insert int integer intersect intersection into isempty
    isnull join last left less like limit lock long max min minus mode modify modulo more multiply next
    noaudit notin nowait number object of on option outer output power previous prior privileges public
    raise raw remainder rename resource return returns revoke right row rowid rownum rows select session
    set share size sqrt start strict string subtract sum synonym table then to trans transaction trigger
    true uid union unique update user validate values view when whenever where while with
"""
RESERVED_WORDS = frozenset(_RESERVED_WORDS_TEXT.split())
HISTORY_OPERATORS = frozenset({"was", "changed"})
#: The words that start a predicate of a history clause.
PREDICATE_WORDS = frozenset({"after", "before", "by", "during", "on", "from", "to"})
_CUSTOM_FIELD_REF = re.compile(r"cf\[\d+\]", re.IGNORECASE)
_KEYWORDS = GRAMMAR_WORDS | HISTORY_OPERATORS
_RESERVED_CHARS = frozenset("{}*/%+^$#@?;[]")
#: Characters that end an unquoted word.
_WORD_STOP = frozenset(" \t\r\n\"'()=!<>~,|&") | _RESERVED_CHARS
_ESCAPES = {"'": "'", '"': '"', "t": "\t", "n": "\n", "r": "\r", "\\": "\\", " ": " "}
_COMPARISONS = ("!=", "!~", "<=", ">=", "=", "<", ">", "~")


class JqlError(Exception):
    """Jira refused the query; `messages` become the response's `errorMessages`, in order."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "word", "string", "op", "bool", "(", ")", ",", "end"
    text: str  # as written, for messages
    value: str  # unescaped; for "bool" tokens one of "and", "or", "not"
    position: int  # 0-based offset in the query

    @property
    def keyword(self) -> str | None:
        """The grammar word this token stands for, if any (quoted strings never do)."""
        if self.kind == "bool":
            return self.value
        if self.kind == "word" and self.text.lower() in _KEYWORDS:
            return self.text.lower()
        return None


@dataclass(frozen=True, slots=True)
class Value:
    text: str
    quoted: bool


@dataclass(frozen=True, slots=True)
class Empty:
    """EMPTY or NULL."""


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    args: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ValueList:
    items: tuple[Value | Empty | Function, ...]


Operand = Value | Empty | Function | ValueList


@dataclass(frozen=True, slots=True)
class HistoryPredicate:
    word: str  # lower case: "after", "before", "by", "during", "on", "from", "to"
    operand: Operand


@dataclass(frozen=True, slots=True)
class Clause:
    field: str  # as written
    #: lower case: "=", "!=", "<", "<=", ">", ">=", "~", "!~", "in", "not in", "is", "is not",
    #: "was", "was not", "was in", "was not in", "changed"
    operator: str
    operand: Operand  # an empty ValueList for CHANGED, which takes none
    predicates: tuple[HistoryPredicate, ...] = ()


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


Node = Clause | And | Or | Not


@dataclass(frozen=True, slots=True)
class SortKey:
    field: str  # as written
    descending: bool | None  # None: the field's default direction


@dataclass(frozen=True, slots=True)
class Query:
    where: Node | None
    order_by: tuple[SortKey, ...]


def parse(text: str) -> Query:
    """Parse a JQL query; raises `JqlError` with Jira's message for the first syntax error."""
    return _Parser(text).query()


def error_at(text: str, position: int, message: str, prefix: str = SYNTAX) -> JqlError:
    line = text.count("\n", 0, position) + 1
    character = position - (text.rfind("\n", 0, position) + 1) + 1
    return JqlError([f"{prefix} {message} (line {line}, character {character})"])


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, length = 0, len(text)
    while i < length:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "(),":
            tokens.append(Token(char, char, char, i))
            i += 1
        elif char in "\"'":
            token = _quoted(text, i)
            tokens.append(token)
            i += len(token.text)
        elif char in "&|":
            width = 2 if text.startswith(char * 2, i) else 1
            tokens.append(Token("bool", text[i : i + width], "and" if char == "&" else "or", i))
            i += width
        elif op := next((op for op in _COMPARISONS if text.startswith(op, i)), None):
            tokens.append(Token("op", op, op, i))
            i += len(op)
        elif char == "!":
            tokens.append(Token("bool", "!", "not", i))
            i += 1
        elif (char in "cC") and (ref := _CUSTOM_FIELD_REF.match(text, i)):
            tokens.append(Token("word", ref.group(), ref.group().lower(), i))
            i = ref.end()
        elif char in _RESERVED_CHARS:
            raise error_at(
                text,
                i,
                f"The character '{char}' is a reserved JQL character. "
                f"You must enclose it in a string or use the escape '\\u{ord(char):04x}' instead.",
            )
        else:
            token = _word(text, i)
            tokens.append(token)
            i += len(token.text)
    tokens.append(Token("end", "", "", length))
    return tokens


def _quoted(text: str, start: int) -> Token:
    quote, chars, i = text[start], [], start + 1
    while i < len(text) and text[i] != quote:
        if text[i] == "\\":
            char, i = _escape(text, i)
            chars.append(char)
        else:
            chars.append(text[i])
            i += 1
    if i >= len(text):
        raise error_at(text, start, f"The quoted string '{text[start + 1 :]}' has not been completed.")
    return Token("string", text[start : i + 1], "".join(chars), start)


def _word(text: str, start: int) -> Token:
    chars, i = [], start
    while i < len(text) and text[i] not in _WORD_STOP:
        if text[i] == "\\":
            char, i = _escape(text, i)
            chars.append(char)
        else:
            chars.append(text[i])
            i += 1
    return Token("word", text[start:i], "".join(chars), start)


def _escape(text: str, i: int) -> tuple[str, int]:
    """Decode the escape at `text[i]` (a backslash); returns the character and the index after it."""
    code = text[i + 1 : i + 2]
    if code and code in _ESCAPES:
        return _ESCAPES[code], i + 2
    hex_digits = text[i + 2 : i + 6]
    if code == "u" and len(hex_digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in hex_digits):
        return chr(int(hex_digits, 16)), i + 6
    shown = text[i : i + 6] if code == "u" else text[i : i + 2]
    raise error_at(text, i, f"'{shown}' is an illegal JQL escape sequence. {VALID_ESCAPES}")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, token: Token, message: str, prefix: str = SYNTAX) -> JqlError:
        return error_at(self.text, token.position, message, prefix)

    def query(self) -> Query:
        where = None if self.peek().kind == "end" or self.peek().keyword == "order" else self.or_clause()
        order_by = self.order_by() if self.peek().keyword == "order" else ()
        token = self.peek()
        if token.kind != "end":
            raise self.fail(token, f"Expecting either 'OR' or 'AND' but got '{token.text}'.")
        return Query(where, order_by)

    def or_clause(self) -> Node:
        children = [self.and_clause()]
        while self.peek().keyword == "or":
            self.advance()
            children.append(self.and_clause())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_clause(self) -> Node:
        children = [self.not_clause()]
        while self.peek().keyword == "and":
            self.advance()
            children.append(self.not_clause())
        return children[0] if len(children) == 1 else And(tuple(children))

    def not_clause(self) -> Node:
        token = self.peek()
        if token.keyword == "not":
            self.advance()
            return Not(self.not_clause())
        if token.kind == "(":
            self.advance()
            node = self.or_clause()
            self.expect_close()
            return node
        return self.terminal()

    def expect_close(self) -> None:
        token = self.advance()
        if token.kind == "end":
            raise JqlError([f"{SYNTAX} Expecting ')' before the end of the query."])
        if token.kind != ")":
            raise self.fail(token, f"Expecting either 'OR' or 'AND' but got '{token.text}'.")

    def field_name(self) -> str:
        token = self.advance()
        if token.kind == "end":
            raise JqlError([f"{SYNTAX} Expecting a field name at the end of the query."])
        self.refuse_reserved(token)
        if token.kind == "string" or (token.kind == "word" and token.keyword is None):
            return token.value
        raise self.fail(
            token,
            f"Expecting a field name but got '{token.text}'. "
            f"You must surround '{token.text}' in quotation marks to use it as a field name.",
        )

    def refuse_reserved(self, token: Token) -> None:
        if token.kind == "word" and token.text.lower() in RESERVED_WORDS:
            raise self.fail(
                token,
                f"'{token.text}' is a reserved JQL word. You must surround it in quotation marks to use it in a query.",
            )

    def terminal(self) -> Clause:
        field = self.field_name()
        operator = self.operator(field)
        if operator == "changed":
            return Clause(field, operator, ValueList(()), self.predicates())
        operand = self.operand()
        if operator.startswith("was"):
            return Clause(field, operator, operand, self.predicates())
        return Clause(field, operator, operand)

    def predicates(self) -> tuple[HistoryPredicate, ...]:
        found: list[HistoryPredicate] = []
        while (token := self.peek()).kind == "word" and token.text.lower() in PREDICATE_WORDS:
            self.advance()
            found.append(HistoryPredicate(token.text.lower(), self.operand()))
        return tuple(found)

    def operator(self, field: str) -> str:
        token = self.advance()
        if token.kind == "op":
            return token.value
        keyword = token.keyword
        if keyword == "changed":
            return "changed"
        if keyword == "was":
            operator = "was"
            if self.peek().keyword == "not":
                self.advance()
                operator += " not"
            if self.peek().keyword == "in":
                self.advance()
                operator += " in"
            return operator
        if keyword == "in":
            return "in"
        if keyword == "is":
            if self.peek().keyword == "not":
                self.advance()
                return "is not"
            return "is"
        if keyword == "not" and self.peek().keyword == "in":
            self.advance()
            return "not in"
        if token.kind == "end":
            raise JqlError([f"{SYNTAX} Expecting operator before the end of the query. {VALID_OPERATORS}"])
        raise self.fail(token, f"Expecting operator but got '{token.text}'. {VALID_OPERATORS}")

    def operand(self) -> Operand:
        if self.peek().kind == "(":
            self.advance()
            items = [self.single_operand()]
            while self.peek().kind == ",":
                self.advance()
                items.append(self.single_operand())
            self.expect_list_end()
            return ValueList(tuple(items))
        return self.single_operand()

    def expect_list_end(self) -> None:
        token = self.advance()
        if token.kind == "end":
            raise JqlError([f"{SYNTAX} Expecting ')' before the end of the query."])
        if token.kind != ")":
            raise self.fail(token, f"Expecting either ',' or ')' but got '{token.text}'.")

    def single_operand(self) -> Value | Empty | Function:
        token = self.advance()
        if token.kind == "end":
            raise JqlError(
                [f"{OPERAND_SYNTAX} Expecting either a value, list or function before the end of the query."]
            )
        if token.keyword in ("empty", "null"):
            return Empty()
        self.refuse_reserved(token)
        if token.kind == "word" and token.keyword is None:
            if self.peek().kind == "(":
                return Function(token.value, self.arguments())
            return Value(token.value, quoted=False)
        if token.kind == "string":
            return Value(token.value, quoted=True)
        raise self.fail(
            token,
            f"Expecting either a value, list or function but got '{token.text}'. "
            f"You must surround '{token.text}' in quotation marks to use it as a value.",
            OPERAND_SYNTAX,
        )

    def arguments(self) -> tuple[str, ...]:
        self.advance()  # the "(" seen by the caller
        args: list[str] = []
        while self.peek().kind != ")":
            if args:
                self.expect_comma()
            token = self.advance()
            if token.kind == "end":
                raise JqlError([f"{SYNTAX} Expecting ')' before the end of the query."])
            if token.kind not in ("word", "string"):
                raise self.fail(token, f"Expecting a function argument but got '{token.text}'.")
            args.append(token.value)
        self.advance()
        return tuple(args)

    def expect_comma(self) -> None:
        token = self.advance()
        if token.kind == "end":
            raise JqlError([f"{SYNTAX} Expecting ')' before the end of the query."])
        if token.kind != ",":
            raise self.fail(token, f"Expecting either ',' or ')' but got '{token.text}'.")

    def order_by(self) -> tuple[SortKey, ...]:
        self.advance()  # ORDER
        token = self.advance()
        if token.kind == "end":
            raise JqlError([f"{SYNTAX} Expecting 'BY' before the end of the query."])
        if token.keyword != "by":
            raise self.fail(token, f"Expecting 'BY' but got '{token.text}'.")
        keys = [self.sort_key()]
        while self.peek().kind == ",":
            self.advance()
            keys.append(self.sort_key())
        return tuple(keys)

    def sort_key(self) -> SortKey:
        field = self.field_name()
        direction = self.peek().keyword
        descending = None
        if direction in ("asc", "desc"):
            self.advance()
            descending = direction == "desc"
        token = self.peek()
        if token.kind not in ("end", ","):
            expected = "either 'ASC' or 'DESC'" if descending is None else "','"
            raise self.fail(token, f"Expecting {expected} but got '{token.text}'.")
        return SortKey(field, descending)


_ABSOLUTE_DATE = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?")
_PERIOD = re.compile(r"([-+]?)\s*((?:\d+\s*[wdhm]\s*)+)")
_PERIOD_TERM = re.compile(r"(\d+)\s*([wdhm])")
_INCREMENT = re.compile(r"([-+]?)(\d+)([yMwdhm]?)")
_UNIT_PERIODS = {"y": "year", "M": "month", "w": "week", "d": "day", "h": "hour", "m": "minute"}
_STEPS = {
    "week": timedelta(weeks=1),
    "day": timedelta(days=1),
    "hour": timedelta(hours=1),
    "minute": timedelta(minutes=1),
}


def parse_date(text: str, now: datetime) -> datetime | None:
    """An absolute date ("2026-01-31", "2026/01/31 14:00", UTC) or a period from `now` ("-4w 2d")."""
    text = text.strip()
    try:
        if match := _ABSOLUTE_DATE.fullmatch(text):
            year, _, month, day, hour, minute = match.groups()
            return datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), tzinfo=UTC)
        if match := _PERIOD.fullmatch(text):
            sign, terms = match.groups()
            terms_found = _PERIOD_TERM.findall(terms)
            span = sum((int(count) * _STEPS[_UNIT_PERIODS[unit]] for count, unit in terms_found), timedelta())
            # A leading sign applies to the whole period; no sign means the future.
            return now - span if sign == "-" else now + span
    except (ValueError, OverflowError):
        return None
    return None


def period_start(now: datetime, period: str) -> datetime:
    """Start of the day, week (Sunday, Jira's default locale), month or year holding `now`."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        return day - timedelta(days=(day.weekday() + 1) % 7)
    if period == "month":
        return day.replace(day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    return day


def shift(moment: datetime, period: str, count: int) -> datetime:
    """Move by whole periods; months and years keep the day of month, clamped to the month's length."""
    if period in ("year", "month"):
        months = moment.month - 1 + count * (12 if period == "year" else 1)
        year, month = moment.year + months // 12, months % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day)
    return moment + count * _STEPS[period]


def apply_increment(moment: datetime, text: str, default_period: str) -> datetime | None:
    """Apply a date function's argument, `(+/-)n(y|M|w|d|h|m)`; None if it is malformed."""
    match = _INCREMENT.fullmatch(text.strip())
    if match is None:
        return None
    sign, count, unit = match.groups()
    try:
        period = _UNIT_PERIODS[unit] if unit else default_period
        return shift(moment, period, -int(count) if sign == "-" else int(count))
    except (ValueError, OverflowError):
        return None


#: Lucene's English stop words, which Jira's text search ignores.
_STOP_WORDS_TEXT = """
    a an and are as at be but by for if in into is it no not of on or such that the their then there these
    they this to was will with
"""
_STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())
_PHRASE_OR_CHUNK = re.compile(r'"([^"]*)"|([^\s"]+)')
_WORD = re.compile(r"[\w*?]+")
_STEM_SUFFIXES = ("ing", "ed", "es", "s", "e")


@dataclass(frozen=True, slots=True)
class TextTerm:
    """One word or phrase of a text search. `needle` is lower-case text that any match contains,
    so that a cheap substring test can skip most documents before the regex runs."""

    needle: str
    pattern: re.Pattern[str]


def text_terms(query: str) -> list[TextTerm]:
    """One term per word or "quoted phrase" of a `~` query; a document must match them all.

    Raises ValueError for a word that starts with a wildcard, which Jira refuses.
    """
    terms: list[TextTerm] = []
    words: list[str] = []
    for phrase, chunk in _PHRASE_OR_CHUNK.findall(query.lower()):
        if phrase:
            if phrase_words := _WORD.findall(phrase):
                terms.append(_term(phrase_words))
        else:
            words.extend(_WORD.findall(chunk))
    # A query made only of stop words still searches for them rather than for everything.
    meaningful = [word for word in words if word not in _STOP_WORDS] or words
    terms.extend(_term([word]) for word in meaningful)
    return terms


def _term(words: list[str]) -> TextTerm:
    pattern = r"(?<!\w)" + r"\W+".join(map(_word_regex, words)) + r"(?!\w)"
    needle = re.split(r"[*?]", _stem(words[0]))[0]
    return TextTerm(needle, re.compile(pattern, re.IGNORECASE))


def _word_regex(word: str) -> str:
    if word[0] in "*?":
        raise ValueError(word)
    if "*" in word or "?" in word:
        return "".join(r"\w*" if char == "*" else r"\w" if char == "?" else re.escape(char) for char in word)
    return re.escape(_stem(word)) + "(?:e|es|ed|ing|s)?"


def _stem(word: str) -> str:
    """Strip one common English suffix, so that "issues", "issued" and "issue" meet at "issu"."""
    for suffix in _STEM_SUFFIXES:
        keeps_double_s = suffix == "s" and word.endswith("ss")  # "class" is not a plural
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not keeps_double_s:
            return word[: -len(suffix)]
    return word
