"""Jira descriptions: Markdown to Atlassian Document Format and back.

ADF reference: https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/
The two directions live in `adf_from_markdown` and `adf_to_markdown`; callers import from here.
"""

from __future__ import annotations

from ticketbridge.connectors.jira.adf_from_markdown import markdown_to_adf
from ticketbridge.connectors.jira.adf_to_markdown import adf_plain_text, adf_to_markdown

__all__ = ["adf_plain_text", "adf_to_markdown", "markdown_to_adf"]
