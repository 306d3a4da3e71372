"""Atlassian Document Format to Markdown, and to plain text: tree walks over the ADF JSON.

The Markdown is what `adf_from_markdown` reads back into the same document. Text is escaped only
where CommonMark would read it as syntax, so `snake_case_name` stays legible. Nodes Markdown has no
syntax for are kept as text (`@mention`, `:emoji:`, a panel's paragraphs); unknown nodes give their
text content. Input comes from Jira, so malformed nodes are skipped rather than raised on, and
anything still unexpected (nesting too deep to walk, say) falls back to the document's plain text,
logged with the error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ticketbridge.domain.tickets import storable
from ticketbridge.observability import get_logger

log = get_logger("ticketbridge.connectors.jira.adf")
Node = dict[str, Any]

#: Node types that sit inside a paragraph; a node whose children include one holds inline content.
INLINE_TYPES = frozenset(
    {"text", "hardBreak", "mention", "emoji", "date", "status", "inlineCard", "placeholder", "mediaInline"}
)
LIST_TYPES = frozenset({"bulletList", "orderedList"})
#: CommonMark reads at most nine digits as an ordered list's start number.
MAX_LIST_START = 999_999_999


def adf_to_markdown(document: dict[str, Any] | None) -> str:
    """CommonMark (with GFM strikethrough and tables) for `document`; `None` gives ""."""
    if not isinstance(document, dict):
        return ""
    try:
        # Storable strings first: NUL is this module's emphasis sentinel (`EM`).
        clean: Node = storable(document)
        return _blocks(_children(clean) if _kind(clean) == "doc" else [clean])
    except Exception as exc:  # vendor input: any failure degrades to text, loudly
        log.warning("connector.jira.adf_fallback", error=f"{type(exc).__name__}: {exc}"[:300])
        return _flat_text(document)


def adf_plain_text(document: dict[str, Any] | None) -> str:
    """The document's text without formatting, one line per block (for search and display)."""
    if not isinstance(document, dict):
        return ""
    try:
        text: str = _plain(storable(document)).strip()
        return text
    except Exception as exc:
        log.warning("connector.jira.adf_fallback", error=f"{type(exc).__name__}: {exc}"[:300])
        return _flat_text(document)


def _flat_text(document: Node) -> str:
    """Every text leaf of `document`, a line per block, walked with a stack (no recursion, so no
    depth can break it): the fallback when the document cannot be converted."""
    parts: list[str] = []
    stack: list[object] = [document]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if _kind(node) == "text":
            parts.append(_text(node))
        elif _kind(node) not in INLINE_TYPES and parts and parts[-1] != "\n":
            parts.append("\n")
        content = node.get("content")
        if isinstance(content, list):
            stack.extend(reversed(content))
    return "".join(parts).replace(EM, "").strip()


def _kind(node: Node) -> str:
    """The node's `type`, or "" when it is missing or not a string (`{"type": []}` is not hashable)."""
    kind = node.get("type")
    return kind if isinstance(kind, str) else ""


def _children(node: Node) -> list[Node]:
    content = node.get("content")
    return [child for child in content if isinstance(child, dict)] if isinstance(content, list) else []


def _attrs(node: Node) -> dict[str, Any]:
    value = node.get("attrs")
    return value if isinstance(value, dict) else {}


def _atom_text(node: Node) -> str:
    """What an inline node other than text shows, as text: `@Jane Doe`, `:smile:`, a date."""
    kind, values = _kind(node), _attrs(node)
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        name = str(values.get("text") or values.get("id") or "")
        return name if name.startswith("@") else f"@{name}"
    if kind == "emoji":
        return str(values.get("shortName") or values.get("text") or "")
    if kind == "date":
        return _date(values.get("timestamp"))
    if kind == "inlineCard":
        return str(values.get("url") or "")
    if "text" in values:
        return str(values["text"])
    return "".join(_atom_text(child) if _kind(child) != "text" else _text(child) for child in _children(node))


def _text(node: Node) -> str:
    text = node.get("text")
    return text if isinstance(text, str) else ""


def _date(timestamp: object) -> str:
    # ADF dates are milliseconds since the epoch, as a string; a day, shown in UTC as Jira does.
    try:
        return datetime.fromtimestamp(int(str(timestamp)) / 1000, UTC).date().isoformat()
    except (ValueError, OverflowError, OSError):
        return str(timestamp or "")


def _has_inline_content(node: Node) -> bool:
    return any(_kind(child) in INLINE_TYPES for child in _children(node))


def _blocks(nodes: list[Node], *, in_list_item: bool = False) -> str:
    rendered: list[str] = []
    previous: Node | None = None
    alternate = False
    for node in nodes:
        # Two lists in a row would read back as one unless the second uses other markers.
        alternate = not alternate if previous is not None and _kind(previous) == _kind(node) else False
        text = _block(node, alternate=alternate)
        if not text:
            continue
        if rendered and in_list_item and _can_follow_tightly(previous, node, text):
            rendered[-1] = f"{rendered[-1]}\n{text}"
        else:
            rendered.append(text)
        previous = node
    return "\n\n".join(rendered)


def _can_follow_tightly(previous: Node | None, node: Node, text: str) -> bool:
    # `- item` then `  - sub` on the next line: a list may interrupt a paragraph only if it is a
    # bullet list or starts at 1, and its first item is not empty; otherwise a blank line is needed.
    if previous is None or _kind(previous) != "paragraph" or _kind(node) not in LIST_TYPES:
        return False
    first_item_empty = " " not in text.split("\n", 1)[0]
    return not first_item_empty and (_kind(node) == "bulletList" or _attrs(node).get("order", 1) == 1)


def _block(node: Node, *, alternate: bool) -> str:
    kind = _kind(node)
    if kind == "paragraph":
        return _inline(_children(node))
    if kind == "heading":
        return _heading(node)
    if kind in LIST_TYPES:
        return _list(node, alternate=alternate)
    if kind == "codeBlock":
        return _code_block(node)
    if kind == "blockquote":
        return _quote(_blocks(_children(node)))
    if kind == "rule":
        return "---"
    if kind == "table":
        return _table(node)
    if kind in {"taskList", "decisionList"}:
        return "\n".join(_hang(_item_marker(item), _inline(_children(item))) for item in _children(node))
    if kind == "panel":
        # No Markdown for a panel; a quote keeps its text set apart from the rest.
        return _quote(_blocks(_children(node)))
    return _unknown_block(node)


def _unknown_block(node: Node) -> str:
    if _has_inline_content(node):
        return _inline(_children(node))
    if _children(node):
        title = _attrs(node).get("title")
        body = _blocks(_children(node))
        return f"{_inline([{'type': 'text', 'text': title}])}\n\n{body}" if title else body
    return _inline([{"type": "text", "text": _atom_text(node)}])


def _heading(node: Node) -> str:
    level = _attrs(node).get("level")
    hashes = "#" * (level if isinstance(level, int) and 1 <= level <= 6 else 1)
    text = _inline(_children(node), heading=True)
    return f"{hashes} {text}" if text else hashes


def _list(node: Node, *, alternate: bool) -> str:
    ordered = _kind(node) == "orderedList"
    start = _attrs(node).get("order", 1)
    start = start if isinstance(start, int) and 0 <= start <= MAX_LIST_START else 1
    lines: list[str] = []
    for number, item in enumerate(_children(node), start=start):
        marker = (f"{number})" if alternate else f"{number}.") if ordered else ("*" if alternate else "-")
        lines.append(_hang(marker, _blocks(_children(item), in_list_item=True)))
    return "\n".join(lines)


def _item_marker(item: Node) -> str:
    return "- [x]" if str(_attrs(item).get("state")) in {"DONE", "DECIDED"} else "- [ ]"


def _hang(marker: str, body: str) -> str:
    """`body` after `marker`, its later lines indented to line up with the first."""
    indent = " " * (len(marker) + 1)
    first, *rest = body.split("\n")
    lines = [f"{marker} {first}".rstrip()] + [f"{indent}{line}" if line else "" for line in rest]
    return "\n".join(lines)


def _quote(body: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in body.split("\n")) if body else ""


def _code_block(node: Node) -> str:
    code = "".join(_text(child) for child in _children(node))
    # Only the first word of an info string is read back as the language.
    language = "".join(str(_attrs(node).get("language") or "").split()[:1])
    # A backtick fence's info string may not contain a backtick; a tilde fence's may.
    char = "~" if "`" in language else "`"
    fence = char * max(3, _longest_run(code, char) + 1)
    return f"{fence}{language}\n{code}\n{fence}" if code else f"{fence}{language}\n{fence}"


def _longest_run(text: str, char: str) -> int:
    longest = current = 0
    for each in text:
        current = current + 1 if each == char else 0
        longest = max(longest, current)
    return longest


def _table(node: Node) -> str:
    rows = [[_cell(cell) for cell in _children(row)] for row in _children(node)]
    width = max((len(row) for row in rows), default=0)
    if width == 0:
        return ""
    # GFM needs a header row; ADF's first row is used whether or not its cells are headers.
    padded = [row + [""] * (width - len(row)) for row in rows]
    lines = [_table_line(padded[0]), _table_line(["---"] * width)]
    lines += [_table_line(row) for row in padded[1:]]
    return "\n".join(lines)


def _table_line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cell(cell: Node) -> str:
    parts: list[str] = []
    for block in _children(cell):
        if _has_inline_content(block):
            parts.append(_inline(_children(block), table_cell=True))
        else:
            parts.append(_inline([{"type": "text", "text": _plain(block)}], table_cell=True))
    return " ".join(part for part in parts if part)


def _plain(node: Node) -> str:
    if _kind(node) == "text":
        return _text(node)
    if _kind(node) in INLINE_TYPES:
        return _atom_text(node)
    if _has_inline_content(node):
        return "".join(_plain(child) for child in _children(node))
    parts = [_plain(child) for child in _children(node)] or [_atom_text(node)]
    return "\n".join(part for part in parts if part)


# Inline content. A paragraph is cut into lines at hard breaks; each line is a run of text leaves
# whose marks are written as nested spans, the mark that lasts longest outermost (so a bold
# sentence with one italic word is `**a *b* c**`, not three bold pieces).


@dataclass(frozen=True)
class _Mark:
    kind: str
    href: str = ""
    title: str = ""


@dataclass(frozen=True)
class _Leaf:
    text: str
    marks: frozenset[_Mark]
    starts_line: bool = False


#: Ties between marks spanning the same text go to the earlier kind: `[**x**](u)`, not `**[x](u)**`.
MARK_RANK = ("link", "strong", "em", "strike")
SPAN_DELIMITERS = {"strong": "**", "strike": "~~"}
#: Stands for an em delimiter until the characters around it are known (see `_resolve_em`).
EM = "\x00"
ENTITY = re.compile(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
#: Addresses that read back unchanged from `<...>`: nothing markdown-it would encode or decode.
AUTOLINK = re.compile(r"(https?|mailto):[A-Za-z0-9\-._~:/?#@!$'()*+,;=]+")
ALWAYS_ESCAPED = frozenset("\\`*[]<|")
LINE_START_ESCAPED = frozenset("#>-+=~")


def _inline(nodes: list[Node], *, heading: bool = False, table_cell: bool = False) -> str:
    lines = _lines(_leaves(nodes))
    # A hard break at the very end would read back as a literal backslash.
    while lines and not lines[-1]:
        lines.pop()
    rendered = [_resolve_em(_run(line, frozenset(), heading=heading, table_cell=table_cell)) for line in lines]
    # Headings and table cells are one line in Markdown: a break there becomes a space.
    return _protect_edges((" " if heading or table_cell else "\\\n").join(rendered))


def _leaves(nodes: list[Node]) -> list[_Leaf | None]:
    """Text leaves, `None` standing for a line break; inline atoms become plain text."""
    leaves: list[_Leaf | None] = []
    for node in nodes:
        if _kind(node) == "text":
            leaves += _split_lines(_text(node), _marks(node))
        elif _kind(node) == "inlineCard" and _attrs(node).get("url"):
            url = str(_attrs(node)["url"])
            leaves.append(_Leaf(url, frozenset({_Mark("link", url)})))
        else:
            leaves += _split_lines(_atom_text(node), frozenset())
    return leaves


def _split_lines(text: str, marks: frozenset[_Mark]) -> list[_Leaf | None]:
    leaves: list[_Leaf | None] = []
    for number, line in enumerate(text.split("\n")):
        if number:
            leaves.append(None)
        if line:
            leaves.append(_Leaf(line, marks))
    return leaves


def _marks(node: Node) -> frozenset[_Mark]:
    marks: set[_Mark] = set()
    raw = node.get("marks")
    for mark in raw if isinstance(raw, list) else []:
        kind = _kind(mark) if isinstance(mark, dict) else None
        if kind == "link":
            values = _attrs(mark)
            marks.add(_Mark("link", str(values.get("href") or ""), str(values.get("title") or "")))
        elif kind in {"em", "strong", "strike", "code"}:
            marks.add(_Mark(kind))
    if _Mark("code") in marks:
        # Markdown code spans hold no formatting, as ADF allows none beside `code` except `link`.
        marks = {mark for mark in marks if mark.kind in {"code", "link"}}
    return frozenset(marks)


def _lines(leaves: list[_Leaf | None]) -> list[list[_Leaf]]:
    lines: list[list[_Leaf]] = [[]]
    for leaf in leaves:
        if leaf is None:
            lines.append([])
        elif lines[-1] and lines[-1][-1].marks == leaf.marks:
            lines[-1][-1] = replace(lines[-1][-1], text=lines[-1][-1].text + leaf.text)
        else:
            lines[-1].append(replace(leaf, starts_line=not lines[-1]))
    return lines


def _run(leaves: list[_Leaf], active: frozenset[_Mark], *, heading: bool, table_cell: bool) -> str:
    parts: list[str] = []
    index = 0
    while index < len(leaves):
        pending = [mark for mark in leaves[index].marks - active if mark.kind != "code"]
        if not pending:
            parts.append(_leaf(leaves[index], heading=heading, table_cell=table_cell))
            index += 1
            continue
        mark = max(pending, key=lambda each: (_extent(leaves, index, each), -MARK_RANK.index(each.kind)))
        end = index + _extent(leaves, index, mark)
        inner = _run(leaves[index:end], active | {mark}, heading=heading, table_cell=table_cell)
        parts.append(_span(mark, inner, leaves[index:end], active))
        index = end
    return "".join(parts)


def _extent(leaves: list[_Leaf], start: int, mark: _Mark) -> int:
    end = start
    while end < len(leaves) and mark in leaves[end].marks:
        end += 1
    return end - start


def _span(mark: _Mark, inner: str, leaves: list[_Leaf], active: frozenset[_Mark]) -> str:
    if mark.kind == "link":
        return _link(mark, inner, leaves, active)
    # `** x**` is not bold: delimiters must touch the text, so edge spaces go outside them.
    core = inner.strip(" \t")
    if not core:
        return inner
    lead, trail = inner[: len(inner) - len(inner.lstrip(" \t"))], inner[len(inner.rstrip(" \t")) :]
    delimiter = SPAN_DELIMITERS.get(mark.kind, EM)
    return f"{lead}{delimiter}{core}{delimiter}{trail}"


def _link(mark: _Mark, inner: str, leaves: list[_Leaf], active: frozenset[_Mark]) -> str:
    is_bare = len(leaves) == 1 and leaves[0].marks == active | {mark} and leaves[0].text == mark.href
    if is_bare and not mark.title and AUTOLINK.fullmatch(mark.href):
        return f"<{mark.href}>"
    title = ' "{}"'.format(mark.title.replace("\\", "\\\\").replace('"', '\\"')) if mark.title else ""
    return f"[{inner}]({_destination(mark.href)}{title})"


def _destination(href: str) -> str:
    href = href.replace("\n", "")
    if not href or any(char.isspace() or char in "<>" for char in href):
        escaped = "".join(f"\\{char}" if char in "<>\\" else char for char in href)
        return f"<{escaped}>"
    escaped = "".join(f"\\{char}" if char in "()\\" else char for char in href)
    return ENTITY.sub(lambda match: f"\\{match.group()}", escaped)


def _leaf(leaf: _Leaf, *, heading: bool, table_cell: bool) -> str:
    if _Mark("code") in leaf.marks:
        return _code_span(leaf.text, table_cell=table_cell)
    return _escape(leaf.text, starts_line=leaf.starts_line, heading=heading)


def _code_span(code: str, *, table_cell: bool) -> str:
    if table_cell:
        # GFM splits table rows at every unescaped pipe, code spans included.
        code = code.replace("|", "\\|")
    ticks = "`" * (_longest_run(code, "`") + 1)
    # CommonMark strips one space from each end of a code span that has both, and a backtick
    # at an end would merge with the fence: pad with a space in both cases.
    padded = code.startswith("`") or code.endswith("`") or (code[:1] == code[-1:] == " " and code.strip())
    return f"{ticks} {code} {ticks}" if padded else f"{ticks}{code}{ticks}"


def _escape(text: str, *, starts_line: bool, heading: bool) -> str:
    """`text` with a backslash before each character CommonMark could read as syntax."""
    text = text.replace(EM, "\ufffd")
    first = len(text) - len(text.lstrip(" \t")) if starts_line else -1
    digits_end = first
    while 0 <= digits_end < len(text) and text[digits_end] in "0123456789":
        digits_end += 1
    escaped: list[str] = []
    for index, char in enumerate(text):
        before, after = text[index - 1 : index], text[index + 1 : index + 2]
        needed = (
            char in ALWAYS_ESCAPED
            or (char == "_" and not (before.isalnum() and after.isalnum()))
            # A lone `~` is text, but one beside a delimiter or another `~` makes `~~`.
            or (char == "~" and not (before and after and "~" not in (before, after)))
            # `![` opens an image, and the `[` may come from a link that follows this text.
            or (char == "!" and after in ("", "["))
            or (char == "&" and ENTITY.match(text, index) is not None)
            or (char == "#" and heading)
            or (index == first and char in LINE_START_ESCAPED)
            or (index == digits_end > first and char in ".)")
        )
        escaped.append(f"\\{char}" if needed else char)
    return "".join(escaped)


def _resolve_em(text: str) -> str:
    # `_` cannot open or close emphasis inside a word, and `*` beside a `**` can pair wrongly;
    # so `_` unless a letter or digit touches the delimiter from outside.
    parts = text.split(EM)
    resolved = parts[0]
    for index in range(1, len(parts), 2):
        inner, after = parts[index], parts[index + 1] if index + 1 < len(parts) else ""
        delimiter = "*" if resolved[-1:].isalnum() or after[:1].isalnum() else "_"
        resolved += f"{delimiter}{inner}{delimiter}{after}"
    return resolved


def _protect_edges(text: str) -> str:
    # Markdown drops spaces at the start of a line and at the end of a paragraph; entities keep them.
    lines = [_entities(line[: len(line) - len(line.lstrip(" \t"))]) + line.lstrip(" \t") for line in text.split("\n")]
    last = lines[-1]
    core = last.rstrip(" \t")
    lines[-1] = core + _entities(last[len(core) :])
    return "\n".join(lines)


def _entities(whitespace: str) -> str:
    return "".join(f"&#{ord(char)};" for char in whitespace)
