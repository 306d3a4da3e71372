"""The store: tables, the queries over them, and migrations. ORM rows never leave this package."""
