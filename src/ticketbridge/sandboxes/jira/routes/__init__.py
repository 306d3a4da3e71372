"""Jira's REST surface, one module per area; each route parses, calls `issues`/`bulk_ops`, renders."""
