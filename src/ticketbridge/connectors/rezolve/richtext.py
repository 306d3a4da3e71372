"""Rezolve's richtext (HTML, e.g. the seed's `<p>Updated description text.</p>`) to and from the
Markdown our model keeps.

Markdown is rendered by markdown-it-py with the same dialect as the Jira connector (CommonMark,
strikethrough, tables, raw HTML off, so a description cannot inject markup). HTML, which people may
also write in Rezolve's editor, is read back with the standard library's parser: the elements
markdown-it produces become their Markdown, other elements keep only their text. For that dialect
Markdown -> HTML -> Markdown gives back equivalent Markdown.

HTML comes from the vendor, so reading it never raises: attributes are read defensively, and on
anything unexpected (nesting too deep to walk, say) the description falls back to its plain text,
logged with the error so the converter can be fixed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from markdown_it import MarkdownIt

from ticketbridge.observability import get_logger

log = get_logger("ticketbridge.connectors.rezolve.richtext")

VOID_TAGS = frozenset({"br", "hr", "img", "input", "meta", "link", "wbr"})
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
BLOCK_TAGS = HEADINGS | {"p", "div", "section", "ul", "ol", "li", "pre", "blockquote", "hr", "table"}
INLINE_WRAPS = {"strong": "**", "b": "**", "em": "*", "i": "*", "s": "~~", "del": "~~", "strike": "~~"}
#: Stands for a hard line break until whitespace has been collapsed.
BREAK = "\x00"
ESCAPED = re.compile(r"([\\`*\[\]])|(?<!\w)_|_(?!\w)")
#: CommonMark reads at most nine digits as an ordered list's start number.
MAX_LIST_START = 999_999_999


def markdown_to_html(markdown: str) -> str:
    """HTML for Rezolve's richtext fields; blank Markdown gives "" (Rezolve's empty text value)."""
    if not markdown.strip():
        return ""
    parser = MarkdownIt("commonmark", {"html": False}).enable(["strikethrough", "table"])
    html: str = parser.render(markdown)
    return html.strip()


def html_to_markdown(html: str) -> str:
    """Markdown for Rezolve's HTML; never raises (plain text when the HTML cannot be converted)."""
    # NUL is this module's line-break sentinel, and no store keeps it anyway.
    html = str(html).replace(BREAK, "")
    try:
        builder = _TreeBuilder()
        builder.feed(html)
        builder.close()
        return "\n\n".join(_blocks(builder.root.children)).strip()
    except Exception as exc:  # vendor input: any failure degrades to text, loudly
        log.warning("connector.rezolve.richtext_fallback", error=f"{type(exc).__name__}: {exc}"[:300])
        return html_to_text(html)


def html_to_text(html: str) -> str:
    """The text of `html` without any markup (no tree, no recursion: it cannot fail on nesting)."""
    collector = _TextCollector()
    try:
        collector.feed(html)
        collector.close()
    except Exception:  # the parser itself choked: the tags stripped by pattern are text enough
        return re.sub(r"<[^>]*>", " ", html).strip()
    return re.sub(r"[^\S\n]+", " ", "".join(collector.parts)).strip()


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCK_TAGS or tag == "br":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


@dataclass(slots=True)
class _Element:
    tag: str
    attrs: dict[str, str]
    children: list[_Element | str] = field(default_factory=list)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("root", {})
        self._open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = _Element(tag, {name: value or "" for name, value in attrs})
        self._open[-1].children.append(element)
        if tag not in VOID_TAGS:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        # Close up to the matching open element; a stray end tag closes nothing.
        for depth in range(len(self._open) - 1, 0, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._open[-1].children.append(data)


def _blocks(nodes: list[_Element | str]) -> list[str]:
    """Block-level Markdown for `nodes`; runs of inline content between blocks become paragraphs."""
    blocks: list[str] = []
    run: list[_Element | str] = []

    def flush() -> None:
        text = _inline(run)
        if text:
            blocks.append(text)
        run.clear()

    for node in nodes:
        if isinstance(node, _Element) and node.tag in BLOCK_TAGS:
            flush()
            rendered = _block(node)
            if rendered:
                blocks.append(rendered)
        else:
            run.append(node)
    flush()
    return blocks


def _block(element: _Element) -> str:
    tag = element.tag
    if tag in HEADINGS:
        return f"{'#' * int(tag[1])} {_inline(element.children)}"
    if tag == "hr":
        return "---"
    if tag == "pre":
        code = next((c for c in element.children if isinstance(c, _Element) and c.tag == "code"), element)
        language = code.attrs.get("class", "").removeprefix("language-")
        return f"```{language}\n{_text(code).rstrip(chr(10))}\n```"
    if tag == "blockquote":
        inner = "\n\n".join(_blocks(element.children))
        return "\n".join(f"> {line}".rstrip() for line in inner.splitlines())
    if tag in ("ul", "ol"):
        return _list(element)
    if tag == "table":
        return _table(element)
    return "\n\n".join(_blocks(element.children))


def _list(element: _Element) -> str:
    items = [c for c in element.children if isinstance(c, _Element) and c.tag == "li"]
    # markdown-it wraps the items of a loose list (blank lines between items) in paragraphs.
    loose = any(isinstance(c, _Element) and c.tag == "p" for item in items for c in item.children)
    rendered: list[str] = []
    for number, item in enumerate(items, start=_list_start(element.attrs.get("start"))):
        marker = f"{number}. " if element.tag == "ol" else "- "
        first, *rest = ("\n\n" if loose else "\n").join(_blocks(item.children)).splitlines() or [""]
        lines = [marker + first, *(" " * len(marker) + line if line else "" for line in rest)]
        rendered.append("\n".join(lines))
    return ("\n\n" if loose else "\n").join(rendered)


def _list_start(value: str | None) -> int:
    """An `<ol start>` as CommonMark can write it; anything else (`"²"`, `"-3"`, `"1e9"`, ten
    digits) starts at 1. `str.isdigit` is true for `"²"`, which `int` refuses: ASCII digits only."""
    text = (value or "").strip()
    if text.isascii() and text.isdigit():
        number = int(text)
        if number <= MAX_LIST_START:
            return number
    return 1


def _table(element: _Element) -> str:
    rows = [row for row in _descendants(element) if row.tag == "tr"]
    if not rows:
        return ""
    cells = [
        [
            _inline(cell.children).replace("|", "\\|")
            for cell in row.children
            if isinstance(cell, _Element) and cell.tag in ("th", "td")
        ]
        for row in rows
    ]
    width = max(len(row) for row in cells)
    lines = ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in cells]
    lines.insert(1, "|" + " --- |" * width)
    return "\n".join(lines)


def _descendants(element: _Element) -> list[_Element]:
    found: list[_Element] = []
    for child in element.children:
        if isinstance(child, _Element):
            found.append(child)
            found.extend(_descendants(child))
    return found


def _inline(nodes: list[_Element | str]) -> str:
    raw = "".join(_inline_node(node) for node in nodes)
    # HTML whitespace collapses, but a newline stays one: in Markdown it is the same soft break.
    collapsed = re.sub(r"[^\S\n]+", " ", re.sub(r"\s*\n\s*", "\n", raw))
    return re.sub(rf"\s*{BREAK}\s*", "\\\\\n", collapsed).strip()


def _inline_node(node: _Element | str) -> str:
    if isinstance(node, str):
        return ESCAPED.sub(lambda m: "\\" + m.group(0), node)
    tag = node.tag
    if tag == "br":
        return BREAK
    if tag == "img":
        return f"![{node.attrs.get('alt', '')}]({node.attrs.get('src', '')})"
    if tag == "code":
        text = _text(node)
        fence = "``" if "`" in text else "`"
        return f"{fence}{text}{fence}"
    inner = "".join(_inline_node(child) for child in node.children)
    if tag == "a":
        return f"[{inner}]({node.attrs.get('href', '')})" if node.attrs.get("href") else inner
    wrap = INLINE_WRAPS.get(tag)
    return f"{wrap}{inner}{wrap}" if wrap and inner.strip() else inner


def _text(node: _Element | str) -> str:
    if isinstance(node, str):
        return node
    return "".join(_text(child) for child in node.children)
