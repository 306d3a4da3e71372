"""Markdown (CommonMark + GFM strikethrough and tables) to Atlassian Document Format.

markdown-it-py parses; we walk its syntax tree (built from the token stream) and emit ADF nodes.
Markdown can nest blocks more freely than ADF: a list item holds only paragraphs, lists and code
blocks, a blockquote no headings, rules, quotes or tables. Blocks ADF refuses in a container are
flattened into ones it accepts (`_fit`), so every document we produce validates against the schema.
Images become links (ADF media needs an upload first); raw HTML is kept as literal text.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

Node = dict[str, Any]
Mark = dict[str, Any]

#: The order marks are listed in, so that `**[x](u)**` and `[**x**](u)` give the same document.
MARK_ORDER = ("link", "em", "strong", "strike", "code")
LIST_ITEM_BLOCKS = frozenset({"paragraph", "bulletList", "orderedList", "codeBlock"})
BLOCKQUOTE_BLOCKS = frozenset({"paragraph", "bulletList", "orderedList", "codeBlock"})
TABLE_CELL_BLOCKS = frozenset({"paragraph"})
INLINE_MARKS = {"em": "em", "strong": "strong", "s": "strike"}


@cache
def markdown_parser() -> MarkdownIt:
    """The parser both directions agree on: CommonMark, strikethrough and tables, no raw HTML.
    Built once (a third of a description's conversion was building it); `parse` keeps no state
    between calls, so one instance serves every caller."""
    return MarkdownIt("commonmark", {"html": False}).enable(["strikethrough", "table"])


def markdown_to_adf(markdown: str) -> Node:
    """An ADF `doc` for `markdown`; blank input gives a document with no content."""
    tree = SyntaxTreeNode(markdown_parser().parse(markdown))
    return {"type": "doc", "version": 1, "content": _blocks(tree.children)}


def _blocks(nodes: list[SyntaxTreeNode]) -> list[Node]:
    blocks: list[Node] = []
    for node in nodes:
        block = _block(node)
        # An image with neither alt text nor URL leaves an empty paragraph, which Markdown cannot
        # write back; dropping it here keeps the round trip stable.
        if block is not None and not _is_empty_paragraph(block):
            blocks.append(block)
    return blocks


def _block(node: SyntaxTreeNode) -> Node | None:
    match node.type:
        case "paragraph":
            return {"type": "paragraph", "content": _inline_of(node)}
        case "heading":
            return {"type": "heading", "attrs": {"level": int(node.tag[1])}, "content": _inline_of(node)}
        case "bullet_list":
            return {"type": "bulletList", "content": [_list_item(item) for item in node.children]}
        case "ordered_list":
            order = int(node.attrs.get("start", 1))
            items = [_list_item(item) for item in node.children]
            return {"type": "orderedList", "attrs": {"order": order}, "content": items}
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


def _list_item(node: SyntaxTreeNode) -> Node:
    content = _fit(_blocks(node.children), LIST_ITEM_BLOCKS)
    # Atlassian's editor schema wants a list item to open with a paragraph or a code block
    # (`- - x` opens with a list; `-` alone has nothing at all).
    if not content or content[0]["type"] not in {"paragraph", "codeBlock"}:
        content.insert(0, {"type": "paragraph", "content": []})
    return {"type": "listItem", "content": content}


def _code_block(node: SyntaxTreeNode) -> Node:
    # Markdown ends every code block with a newline that is not part of the code.
    text = node.content.removesuffix("\n")
    block: Node = {"type": "codeBlock", "content": [{"type": "text", "text": text}] if text else []}
    language = "".join(node.info.split()[:1]) if node.type == "fence" else ""
    if language:
        block["attrs"] = {"language": language}
    return block


def _table(node: SyntaxTreeNode) -> Node:
    rows = [row for section in node.children for row in section.children]
    return {"type": "table", "content": [_table_row(row) for row in rows]}


def _table_row(row: SyntaxTreeNode) -> Node:
    cells: list[Node] = []
    for cell in row.children:
        paragraph: Node = {"type": "paragraph", "content": _inline_of(cell)}
        kind = "tableHeader" if cell.type == "th" else "tableCell"
        cells.append({"type": kind, "content": [paragraph]})
    return {"type": "tableRow", "content": cells}


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


def _inline_of(node: SyntaxTreeNode) -> list[Node]:
    inline = node.children[0] if node.children else None
    return _merge_text(_inline(inline.children, [])) if inline is not None else []


def _inline(nodes: list[SyntaxTreeNode], marks: list[Mark]) -> list[Node]:
    content: list[Node] = []
    for node in nodes:
        content.extend(_inline_node(node, marks))
    return content


def _inline_node(node: SyntaxTreeNode, marks: list[Mark]) -> list[Node]:
    match node.type:
        case "text" | "text_special":
            return _text(node.content, marks)
        case "softbreak":
            # CommonMark renders a soft line break as a space.
            return _text(" ", marks)
        case "hardbreak":
            return [{"type": "hardBreak"}]
        case "code_inline":
            # ADF lets `code` share a text node only with `link`.
            kept = [mark for mark in marks if mark["type"] == "link"]
            return _text(node.content, [*kept, {"type": "code"}])
        case "em" | "strong" | "s":
            return _inline(node.children, [*marks, {"type": INLINE_MARKS[node.type]}])
        case "link":
            return _link(node, marks)
        case "image":
            return _image(node, marks)
    return _inline(node.children, marks)


def _link(node: SyntaxTreeNode, marks: list[Mark]) -> list[Node]:
    href = str(node.attrs["href"])
    attrs = {"href": href}
    if node.attrs.get("title"):
        attrs["title"] = str(node.attrs["title"])
    content = _inline(node.children, [*marks, {"type": "link", "attrs": attrs}])
    # `[](url)` would leave no text to carry the link: show the address instead.
    return content or _text(href, [*marks, {"type": "link", "attrs": attrs}])


def _image(node: SyntaxTreeNode, marks: list[Mark]) -> list[Node]:
    if any(mark["type"] == "link" for mark in marks):
        # A linked image (a badge): ADF allows one link per text, so keep the outer one.
        return _inline(node.children, marks)
    src = str(node.attrs["src"])
    image_link: Mark = {"type": "link", "attrs": {"href": src}}
    return _inline(node.children, [*marks, image_link]) or _text(src, [*marks, image_link])


def _text(text: str, marks: list[Mark]) -> list[Node]:
    if not text:
        return []
    node: Node = {"type": "text", "text": text}
    if marks:
        node["marks"] = sorted(_dedupe(marks), key=lambda mark: MARK_ORDER.index(mark["type"]))
    return [node]


def _dedupe(marks: list[Mark]) -> list[Mark]:
    # `***x***` nests em in strong, but `**a **b** c**` nests strong in strong: ADF marks are a set.
    unique: list[Mark] = []
    for mark in marks:
        if all(mark["type"] != seen["type"] for seen in unique):
            unique.append(mark)
    return unique


def _merge_text(content: list[Node]) -> list[Node]:
    """`content` with neighbouring text nodes that carry the same marks joined into one."""
    merged: list[Node] = []
    for node in content:
        previous = merged[-1] if merged else None
        if previous is not None and _is_text(previous) and _is_text(node) and _same_marks(previous, node):
            merged[-1] = {**previous, "text": previous["text"] + node["text"]}
        else:
            merged.append(node)
    return merged


def _is_text(node: Node) -> bool:
    return bool(node["type"] == "text")


def _same_marks(first: Node, second: Node) -> bool:
    return bool(first.get("marks", []) == second.get("marks", []))
