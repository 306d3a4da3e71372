"""Markdown to the plain text of an incident's `description` (a plain string field in ServiceNow).

Parsed with markdown-it-py in the dialect the other connectors use (CommonMark, strikethrough,
tables, raw HTML kept as literal text). Emphasis marks go, their text stays; a link becomes
`text (url)`; list items keep a `- ` or `1. ` prefix; code keeps its text; paragraphs and blocks are
separated by a blank line. ServiceNow's description is read back as it is: plain text is Markdown
too, so a description written as plain text reads back unchanged.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

_PARSER = MarkdownIt("commonmark", {"html": False}).enable(["strikethrough", "table"])


def markdown_to_text(markdown: str) -> str:
    tree = SyntaxTreeNode(_PARSER.parse(markdown))
    return "\n\n".join(block for block in (_block(node, "") for node in tree.children) if block).strip()


def _block(node: SyntaxTreeNode, indent: str) -> str:
    kind = node.type
    if kind in ("paragraph", "heading"):
        return indent + _inline_children(node).replace("\n", "\n" + indent)
    if kind in ("fence", "code_block"):
        return "\n".join(indent + line for line in node.content.rstrip("\n").split("\n"))
    if kind == "hr":
        return indent + "---"
    if kind in ("bullet_list", "ordered_list"):
        start = int(str(node.attrs.get("start", 1))) if kind == "ordered_list" else 1
        items = []
        for number, item in enumerate(node.children, start=start):
            prefix = f"{number}. " if kind == "ordered_list" else "- "
            inner = "\n".join(_block(child, "") for child in item.children)
            lines = inner.split("\n") if inner else [""]
            pad = " " * len(prefix)
            items.append("\n".join([indent + prefix + lines[0], *(indent + pad + line for line in lines[1:])]))
        return "\n".join(items)
    if kind == "blockquote":
        return "\n\n".join(_block(child, indent) for child in node.children)
    if kind == "table":
        rows = [row for section in node.children for row in section.children]
        return "\n".join(indent + " | ".join(_inline_children(cell) for cell in row.children) for row in rows)
    if kind == "html_block":
        return indent + node.content.rstrip("\n")
    return "\n\n".join(_block(child, indent) for child in node.children)


def _inline_children(node: SyntaxTreeNode) -> str:
    return "".join(_inline(child) for child in node.children)


def _inline(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind == "inline":
        return _inline_children(node)
    if kind in ("text", "code_inline", "html_inline"):
        return node.content
    if kind in ("softbreak", "hardbreak"):
        return "\n"
    if kind == "link":
        text = _inline_children(node)
        href = str(node.attrs.get("href", ""))
        return text if not href or href == text or href == f"mailto:{text}" else f"{text} ({href})"
    if kind == "image":
        alt = _inline_children(node) or node.content
        src = str(node.attrs.get("src", ""))
        return f"{alt} ({src})" if alt else src
    return _inline_children(node)
