"""Markdown (CommonMark + GFM strikethrough and tables) to Atlassian Document Format.

markdown-it-pyrs (markdown-it.rs, the Rust port of markdown-it) parses, with raw HTML off, and we
walk its syntax tree to emit ADF nodes. The dialect is markdown-it-py's, which adf_to_markdown
escapes against and connectors/rezolve and connectors/servicenow parse with, so where the Rust
parser reads Markdown otherwise, markdown-it-py parses instead, its tokens built into the same tree
shape (`_tree_of_tokens`). That is decided before parsing, from the text (`_fast_tree`: input
nesting 20 blocks deep, where markdown-it-py stops and the Rust parser recurses until its stack
overflows; longer than a Jira description; a lone surrogate; the constructs listed above
`_UNICODE_SPACE`), and after, from markup left in its text (`_check_text`). Both trees are walked
without recursion in inline content, which may nest thousands deep.

Markdown can nest blocks more freely than ADF: a list item holds only paragraphs, lists and code
blocks, a blockquote no headings, rules, quotes or tables. Blocks ADF refuses in a container are
flattened into ones it accepts (`_fit`), so every document we produce validates against the schema.
Images become links (ADF media needs an upload first); raw HTML is kept as literal text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from typing import Any, Protocol

import markdown_it_pyrs
from markdown_it import MarkdownIt
from markdown_it.token import Token

Node = dict[str, Any]
Mark = dict[str, Any]

#: The order marks are listed in, so that `**[x](u)**` and `[**x**](u)` give the same document.
MARK_ORDER = ("link", "em", "strong", "strike", "code")
LIST_ITEM_BLOCKS = frozenset({"paragraph", "bulletList", "orderedList", "codeBlock"})
BLOCKQUOTE_BLOCKS = frozenset({"paragraph", "bulletList", "orderedList", "codeBlock"})
TABLE_CELL_BLOCKS = frozenset({"paragraph"})
INLINE_MARKS = {"em": "em", "strong": "strong", "strikethrough": "strike"}
#: Tree nodes that are inline content. A tight list item holds its text directly, with no paragraph.
INLINE_NAMES = frozenset(
    {"text", "text_special", "softbreak", "hardbreak", "code_inline", "em", "strong", "strikethrough"}
    | {"link", "autolink", "image", "html_inline", "parsed_text"}
)
#: markdown-it-py's `maxNesting` for CommonMark: block containers deeper than this lose their content.
MAX_NESTING = 20
#: Longer input goes to markdown-it-py: emphasis nests up to half the length deep, and the Rust parser
#: recurses once per level. Jira takes no longer description (domain.inputs.MAX_DESCRIPTION).
MAX_FAST_LENGTH = 32_767
# A line opening with enough container syntax (quote markers, list markers, indentation) to nest deeply.
_CONTAINER_PREFIX = re.compile(r"^[ \t>*+\-0-9.)]{5,}", re.MULTILINE)
_ORDERED_MARKER = re.compile(r"[0-9]{1,9}[.)](?=[ \t\n]|\Z)")
_NEWLINES = re.compile(r"\r\n?")
# Where markdown-it.rs 0.6.0 reads Markdown otherwise than markdown-it-py 4 (found by comparing the two
# on generated input; markdown-it-py decides there): it trims Unicode spaces (Rust's `trim`) where
# CommonMark trims ASCII ones; its tables end at, begin after and take other lines (a lone list
# marker, a lazy quote line, a fence opener); a quote's paragraph ends at a list marker alone or a
# list not starting at 1 for one, not the other, and keeps the indentation of lazy lines (in code
# spans) for one only; a tab after `>` counts other columns; `~~~~` is strikethrough for one only;
# an unclosed fence keeps a trailing line of spaces in one only.
_UNICODE_SPACE = re.compile("[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_NEAR_DELIMITER = re.compile(r"[^\x00-\x7f](?=[*_~])|(?<=[*_~])[^\x00-\x7f]")
_DELIMITER_ROW = re.compile(r"^[ \t>]*[-:| \t]*-[-:| \t]*$", re.MULTILINE)
_EMPTY_ITEM = re.compile(r"^[ \t>]*(?:[-+*]|[0-9]{1,9}[.)])[ \t]*$", re.MULTILINE)
_SPACES_CODE_SPAN = re.compile(r"`[ \n>]+`")  # markdown-it.rs trims one space off each end of it
_DELIMITER_RUN = re.compile(r"\*+|_+|~~+")
_BRACKET_OR_BACKTICK = re.compile(r"[\[\]`]")
_TRAILING_BLANK_LINE = re.compile(r"\n[ \t>]*[ \t]\Z")
_QUOTE_THEN_OTHER_LINE = re.compile(
    # A quote's line, then one with no `>` (or, after a nested quote, any line): a lazy line or not.
    r"^[ \t]*(?:(?:[-+*]|[0-9]{1,9}[.)])[ \t]+)*>(?:(?:[ \t]*>)+.*\n[ \t]*\S|.*\n(?![ \t]*>)[ \t]*\S)",
    re.MULTILINE,
)
_TAB_BY_QUOTE = re.compile(r"^[ \t>*+\-0-9.)]*(?:>[ \t>*+\-0-9.)]*\t|\t[ \t>*+\-0-9.)]*>)", re.MULTILINE)


class TreeNode(Protocol):
    """A node of markdown-it-pyrs' tree, or of the same tree built from markdown-it-py's tokens."""

    @property
    def name(self) -> str: ...
    @property
    def meta(self) -> Mapping[str, Any]: ...
    @property
    def children(self) -> Sequence[TreeNode]: ...


@cache
def markdown_parser() -> MarkdownIt:
    """The parser both directions agree on: CommonMark, strikethrough and tables, no raw HTML.
    Built once (a third of a description's conversion was building it); `parse` keeps no state
    between calls, so one instance serves every caller. Here it parses what `_fast_tree` leaves."""
    return MarkdownIt("commonmark", {"html": False}).enable(["strikethrough", "table"])


@cache
def fast_parser() -> markdown_it_pyrs.MarkdownIt:
    """`markdown_parser`'s rules in Rust, parsing in about a fifteenth of its time. Without the html
    rules raw HTML is text, as markdown-it-py's `html: False` makes it."""
    return markdown_it_pyrs.MarkdownIt("zero").enable_many(
        [
            *("blockquote", "code", "fence", "heading", "hr", "lheading", "list", "paragraph", "reference"),
            *("autolink", "backticks", "emphasis", "entity", "escape", "image", "link", "newline"),
            *("strikethrough", "table"),
        ]
    )


def markdown_to_adf(markdown: str) -> Node:
    """An ADF `doc` for `markdown`; blank input gives a document with no content."""
    tree = _fast_tree(markdown)
    if tree is not None:
        try:
            return {"type": "doc", "version": 1, "content": _blocks(tree.children)}
        except _Doubt:
            pass
    tree = _tree_of_tokens(markdown_parser().parse(markdown))
    return {"type": "doc", "version": 1, "content": _blocks(tree.children)}


def _fast_tree(markdown: str) -> TreeNode | None:
    """markdown-it-pyrs' tree of `markdown`, or None where it may part from markdown-it-py."""
    if "\r" in markdown or "\x00" in markdown:
        # markdown-it-py's normalization (the Rust parser keeps NUL), before the checks read lines.
        markdown = _NEWLINES.sub("\n", markdown).replace("\x00", "\ufffd")
    if len(markdown) > MAX_FAST_LENGTH or _may_nest_deeply(markdown):
        return None
    if not markdown.isascii() and (_UNICODE_SPACE.search(markdown) or _symbol_by_delimiter(markdown)):
        return None
    if _maybe_table(markdown) or _EMPTY_ITEM.search(markdown):
        return None
    if _TRAILING_BLANK_LINE.search(markdown) or "~~~" in markdown or _SPACES_CODE_SPAN.search(markdown):
        return None
    if ">" in markdown and (_QUOTE_THEN_OTHER_LINE.search(markdown) or _TAB_BY_QUOTE.search(markdown)):
        return None
    if "`" in markdown and "[" in markdown and _backtick_in_brackets(markdown):
        return None  # where markdown-it.rs 0.6.0 panics (below), and would write its panic to stderr
    try:
        return fast_parser().tree(markdown)
    except UnicodeEncodeError:
        return None  # a lone surrogate, which a Rust string cannot hold
    except BaseException as error:
        # markdown-it.rs 0.6.0 panics on a code span it meets twice, e.g. in link text (`` [` ``);
        # fixed in 0.6.1, which no markdown-it-pyrs release bundles yet. Rust writes the panic to
        # stderr; PyO3 raises it as PanicException, a BaseException.
        if type(error).__name__ != "PanicException":
            raise
        return None


def _backtick_in_brackets(markdown: str) -> bool:
    """Whether a backtick follows an unclosed `[` (link text, an image's alt text, a reference):
    markdown-it.rs 0.6.0 scans such text twice, and panics on a code span there. Escapes are not
    told apart, so this may say yes where no link is (markdown-it-py then parses: slower, the same)."""
    depth = 0
    for match in _BRACKET_OR_BACKTICK.finditer(markdown):
        char = match.group()
        if char == "`" and depth:
            return True
        depth = depth + 1 if char == "[" else max(depth - 1, 0) if char == "]" else depth
    return False


def _maybe_table(markdown: str) -> bool:
    """Whether a line could be a table's delimiter row (`|---|:-:|`) for either parser: a pipe in the
    row or in the header line, or, for markdown-it.rs, a colon in the row alone (`a` over `:--`)."""
    rows = _DELIMITER_ROW.finditer(markdown)
    return any(":" in row.group() for row in rows) if "|" not in markdown else any(True for _ in rows)


def _symbol_by_delimiter(markdown: str) -> bool:
    """Whether a Unicode symbol stands next to `*`, `_` or `~`: CommonMark 0.31 (markdown-it-py)
    counts symbols as punctuation when it decides what a delimiter run may open or close, 0.30
    (markdown-it.rs) does not."""
    return any(unicodedata.category(match.group()).startswith("S") for match in _NEAR_DELIMITER.finditer(markdown))


class _Doubt(Exception):
    """markdown-it-pyrs' tree shows a sign of one of its bugs: markdown-it-py parses instead."""


def _check_text(text: str) -> None:
    """Raises `_Doubt` if `text`, from one of markdown-it-pyrs' `text` nodes, holds a backtick or a
    delimiter run that could open or close emphasis: markdown-it.rs 0.6.0 leaves such markup
    unparsed where markdown-it-py does not, its code spans after link text's (``[`5`e`)``), and
    emphasis after an unmatched closer inside another pair (`**0_0_** _0_`). A run between spaces
    opens and closes nothing, nor does an underscore between letters (`snake_case`)."""
    if "`" in text:
        raise _Doubt
    if "*" not in text and "_" not in text and "~" not in text:
        return
    for run in _DELIMITER_RUN.finditer(text):
        before = text[run.start() - 1] if run.start() else ""
        after = text[run.end()] if run.end() < len(text) else ""
        if before.isspace() and after.isspace():
            continue
        if run.group()[0] == "_" and before.isalnum() and after.isalnum():
            continue
        raise _Doubt


def _may_nest_deeply(markdown: str) -> bool:
    """Whether a block of `markdown` might sit `MAX_NESTING` levels deep (a quote is one level, a
    list item two: list and item). Every container around a block is opened or continued on the
    block's first line: by `>`, by a list marker, or by indentation at least as wide as the item's
    marker and space (two columns). So levels are at most the weight of the line's container prefix,
    a tab counting four (columns), a list marker two, anything else one."""
    for match in _CONTAINER_PREFIX.finditer(markdown):
        prefix, weight, at = match.group(), 0, 0
        while at < len(prefix) and weight < MAX_NESTING:
            char = prefix[at]
            if char in " >":
                weight, at = weight + 1, at + 1
            elif char == "\t":
                weight, at = weight + 4, at + 1
            elif char in "-+*" and markdown[match.start() + at + 1 : match.start() + at + 2] in ("", " ", "\t", "\n"):
                weight, at = weight + 2, at + 1
            elif (marker := _ORDERED_MARKER.match(markdown, match.start() + at)) is not None:
                weight, at = weight + 2, at + len(marker.group())
            else:
                break
        if weight >= MAX_NESTING:
            return True
    return False


class _TokenNode:
    """A markdown-it-py token (or a pair of them) as a node of markdown-it-pyrs' tree."""

    __slots__ = ("children", "meta", "name")

    def __init__(self, name: str, meta: dict[str, Any] | None = None) -> None:
        self.name = name
        self.meta = meta if meta is not None else {}
        self.children: list[_TokenNode] = []


def _tree_of_tokens(tokens: list[Token]) -> TreeNode:
    """markdown-it-py's token stream as the tree markdown-it-pyrs builds (names, `meta`, no inline
    node, no paragraph in a tight list item), without recursion: emphasis may nest thousands deep."""
    root = _TokenNode("root")
    stack = [root]
    for token in tokens:
        if token.nesting == -1:
            stack.pop()
        elif token.type == "inline":
            _add_inline_tokens(token.children or [], stack[-1])
        elif token.type == "paragraph_open" and token.hidden:
            stack.append(stack[-1])  # a tight item's text goes to the item itself
        else:
            node = _token_node(token)
            stack[-1].children.append(node)
            if token.nesting == 1:
                stack.append(node)
    return root


def _add_inline_tokens(tokens: list[Token], parent: _TokenNode) -> None:
    pending = [(tokens, parent)]  # an image's alt text is a token list of its own
    while pending:
        children, node = pending.pop()
        stack = [node]
        for token in children:
            if token.nesting == -1:
                stack.pop()
                continue
            child = _token_node(token)
            stack[-1].children.append(child)
            if token.nesting == 1:
                stack.append(child)
            elif token.type == "image":
                pending.append((token.children or [], child))
            elif token.type == "code_inline":
                child.children.append(_TokenNode("parsed_text", {"content": token.content}))


TOKEN_NAMES = {"tr": "trow", "th": "tcell", "td": "tcell", "s": "strikethrough"}


def _token_node(token: Token) -> _TokenNode:
    name = token.type.removesuffix("_open")
    name = TOKEN_NAMES.get(name, name)
    meta: dict[str, Any] = {}
    match name:
        case "heading":
            meta["level"] = int(token.tag[1])
        case "ordered_list":
            meta["start"] = int(token.attrs.get("start", 1))
        case "fence" | "code_block":
            meta["content"] = token.content
            meta["info"] = token.info
        case "text" | "text_special":
            # Text markdown-it-py gave, which `_check_text` has no need to doubt.
            name = "parsed_text"
            meta["content"] = token.content
        case "link":
            meta["url"] = token.attrs["href"]
            meta["title"] = token.attrs.get("title")
        case "image":
            meta["url"] = token.attrs["src"]
    return _TokenNode(name, meta)


def _blocks(nodes: Sequence[TreeNode]) -> list[Node]:
    blocks: list[Node] = []
    for node in nodes:
        block = _block(node)
        # An image with neither alt text nor URL leaves an empty paragraph, which Markdown cannot
        # write back; dropping it here keeps the round trip stable.
        if block is not None and not _is_empty_paragraph(block):
            blocks.append(block)
    return blocks


def _block(node: TreeNode) -> Node | None:
    match node.name:
        case "paragraph":
            return {"type": "paragraph", "content": _inline(node.children)}
        case "heading" | "lheading":
            return {"type": "heading", "attrs": {"level": node.meta["level"]}, "content": _inline(node.children)}
        case "bullet_list":
            return {"type": "bulletList", "content": [_list_item(item) for item in node.children]}
        case "ordered_list":
            items = [_list_item(item) for item in node.children]
            return {"type": "orderedList", "attrs": {"order": int(node.meta["start"])}, "content": items}
        case "fence" | "code_block":
            return _code_block(node)
        case "blockquote":
            content = _fit(_blocks(node.children), BLOCKQUOTE_BLOCKS)
            # ADF has no empty quote; `>` alone or `> ---` quotes nothing it can hold.
            return {"type": "blockquote", "content": content} if content else None
        case "hr":
            return {"type": "rule"}
        case "table":
            return _table(node)
    return None


def _list_item(node: TreeNode) -> Node:
    content = _fit(_blocks(list(_paragraphs(node.children))), LIST_ITEM_BLOCKS)
    # Atlassian's editor schema wants a list item to open with a paragraph or a code block
    # (`- - x` opens with a list; `-` alone has nothing at all).
    if not content or content[0]["type"] not in {"paragraph", "codeBlock"}:
        content.insert(0, {"type": "paragraph", "content": []})
    return {"type": "listItem", "content": content}


class _Paragraph:
    """The paragraph a tight list item's text stands for."""

    __slots__ = ("children",)
    name = "paragraph"
    meta: dict[str, Any] = {}  # noqa: RUF012 (never written)

    def __init__(self, children: list[TreeNode]) -> None:
        self.children = children


def _paragraphs(nodes: Sequence[TreeNode]) -> Iterator[TreeNode]:
    """`nodes` with each run of inline nodes wrapped in a paragraph."""
    run: list[TreeNode] = []
    for node in nodes:
        if node.name in INLINE_NAMES:
            run.append(node)
            continue
        if run:
            yield _Paragraph(run)
            run = []
        yield node
    if run:
        yield _Paragraph(run)


def _code_block(node: TreeNode) -> Node:
    # Markdown ends every code block with a newline that is not part of the code.
    text = node.meta["content"].removesuffix("\n")
    block: Node = {"type": "codeBlock", "content": [{"type": "text", "text": text}] if text else []}
    language = "".join(node.meta["info"].split()[:1]) if node.name == "fence" else ""
    if language:
        block["attrs"] = {"language": language}
    return block


def _table(node: TreeNode) -> Node:
    rows = [(row, section.name == "thead") for section in node.children for row in section.children]
    return {"type": "table", "content": [_table_row(row, header) for row, header in rows]}


def _table_row(row: TreeNode, header: bool) -> Node:
    kind = "tableHeader" if header else "tableCell"
    return {
        "type": "tableRow",
        "content": [
            {"type": kind, "content": [{"type": "paragraph", "content": _inline(cell.children)}]}
            for cell in row.children
        ],
    }


def _fit(blocks: list[Node], allowed: frozenset[str]) -> list[Node]:
    """`blocks`, with those `allowed` does not include replaced by ones it does, or dropped."""
    fitted: list[Node] = []
    for block in blocks:
        kind = block["type"]
        if kind in allowed:
            fitted.append(block)
        elif kind == "heading":
            fitted.append({"type": "paragraph", "content": block["content"]})
        elif kind in {"blockquote", "table", "tableRow", "tableHeader", "tableCell"}:
            # Empty table cells would leave empty paragraphs, which Markdown cannot write back.
            fitted.extend(each for each in _fit(block["content"], allowed) if not _is_empty_paragraph(each))
        # What is left is a rule, which has no text to keep.
    return fitted


def _is_empty_paragraph(block: Node) -> bool:
    return block["type"] == "paragraph" and not block["content"]


def _inline(nodes: Sequence[TreeNode]) -> list[Node]:
    """ADF inline nodes for a paragraph's, heading's or cell's `nodes`, neighbouring texts with the
    same marks joined. Walked with a stack, not recursion: emphasis may nest thousands deep.

    `marks` is a set (`***x***` nests em in strong, `**a **b** c**` strong in strong): a mark already
    there (the outer one) is kept, and the list is always in `MARK_ORDER`."""
    content: list[Node] = []
    emitted = 0  # texts and breaks added so far, joined or not
    # Each frame: the nodes left, their marks, and for a link `emitted` at its start and its address.
    stack: list[tuple[Iterator[TreeNode], list[Mark], tuple[int, str] | None]] = [(iter(nodes), [], None)]
    while stack:
        remaining, marks, link = stack[-1]
        node = next(remaining, None)
        if node is None:
            stack.pop()
            if link is not None and emitted == link[0]:
                # `[](url)` would leave no text to carry the link: show the address instead.
                emitted += _add_text(content, link[1], marks)
            continue
        match node.name:
            case "text":
                text = node.meta["content"]
                _check_text(text)
                emitted += _add_text(content, text, marks)
            case "text_special" | "parsed_text":  # an escape or entity; markdown-it-py's text
                emitted += _add_text(content, node.meta["content"], marks)
            case "softbreak":
                # CommonMark renders a soft line break as a space.
                emitted += _add_text(content, " ", marks)
            case "hardbreak":
                content.append({"type": "hardBreak"})
                emitted += 1
            case "code_inline":
                # ADF lets `code` share a text node only with `link`.
                kept = [mark for mark in marks if mark["type"] == "link"]
                code = "".join(child.meta["content"] for child in node.children)
                emitted += _add_text(content, code, [*kept, {"type": "code"}])
            case "em" | "strong" | "strikethrough":
                stack.append((iter(node.children), _with(marks, {"type": INLINE_MARKS[node.name]}), None))
            case "link" | "autolink":
                href = str(node.meta["url"])
                attrs = {"href": href}
                if node.meta.get("title"):
                    attrs["title"] = str(node.meta["title"])
                link_marks = _with(marks, {"type": "link", "attrs": attrs})
                stack.append((iter(node.children), link_marks, (emitted, href)))
            case "image" if any(mark["type"] == "link" for mark in marks):
                # A linked image (a badge): ADF allows one link per text, so keep the outer one.
                stack.append((iter(node.children), marks, None))
            case "image":
                src = str(node.meta["url"])
                image_marks = _with(marks, {"type": "link", "attrs": {"href": src}})
                stack.append((iter(node.children), image_marks, (emitted, src)))
            case _:
                stack.append((iter(node.children), marks, None))
    return content


def _with(marks: list[Mark], mark: Mark) -> list[Mark]:
    if any(each["type"] == mark["type"] for each in marks):
        return marks
    return sorted([*marks, mark], key=lambda each: MARK_ORDER.index(each["type"]))


def _add_text(content: list[Node], text: str, marks: list[Mark]) -> int:
    """Appends a text node, or extends the previous one if it has the same marks; 1 if there was text."""
    if not text:
        return 0
    previous = content[-1] if content else None
    if previous is not None and previous["type"] == "text" and previous.get("marks", []) == marks:
        previous["text"] += text
    else:
        node: Node = {"type": "text", "text": text}
        if marks:
            node["marks"] = list(marks)
        content.append(node)
    return 1
