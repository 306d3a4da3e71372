"""The tables the sandbox serves and their columns, as sys_dictionary describes them.

Every stored value is a string, as the Table API answers them. `internal_type` is ServiceNow's
(`string`, `integer`, `boolean`, `glide_date_time`, `reference`, `journal_input`, `GUID`,
`sys_class_name`); `choice` marks columns whose labels live in sys_choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    label: str
    internal_type: str = "string"
    reference: str | None = None
    max_length: int = 40
    choice: bool = False
    #: Set by the instance (business rules, sys fields); a value in a write is ignored.
    read_only: bool = False

    @property
    def is_numeric(self) -> bool:
        return self.internal_type == "integer"


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    label: str
    #: The column whose value is the record's display value (references render it).
    display: str
    columns: dict[str, Column] = field(default_factory=dict)

    def column(self, name: str) -> Column | None:
        return self.columns.get(name)


SYS_COLUMNS = (
    Column("sys_id", "Sys ID", "GUID", max_length=32, read_only=True),
    Column("sys_created_on", "Created", "glide_date_time", read_only=True),
    Column("sys_created_by", "Created by", read_only=True),
    Column("sys_updated_on", "Updated", "glide_date_time", read_only=True),
    Column("sys_updated_by", "Updated by", read_only=True),
    Column("sys_mod_count", "Updates", "integer", read_only=True),
)


def _table(name: str, label: str, display: str, *columns: Column) -> Table:
    return Table(name, label, display, {c.name: c for c in (*columns, *SYS_COLUMNS)})


def _ref(name: str, label: str, table: str) -> Column:
    return Column(name, label, "reference", reference=table, max_length=32)


def _bool(name: str, label: str) -> Column:
    return Column(name, label, "boolean")


def _when(name: str, label: str, *, read_only: bool = False) -> Column:
    return Column(name, label, "glide_date_time", read_only=read_only)


INCIDENT = _table(
    "incident",
    "Incident",
    "number",
    Column("number", "Number", read_only=True),
    Column("short_description", "Short description", max_length=160),
    Column("description", "Description", max_length=4000),
    _ref("caller_id", "Caller", "sys_user"),
    _ref("opened_by", "Opened by", "sys_user"),
    _when("opened_at", "Opened"),
    Column("state", "State", "integer", choice=True),
    Column("incident_state", "Incident state", "integer", choice=True),
    Column("impact", "Impact", "integer", choice=True),
    Column("urgency", "Urgency", "integer", choice=True),
    Column("priority", "Priority", "integer", choice=True, read_only=True),
    Column("category", "Category", choice=True),
    Column("subcategory", "Subcategory", choice=True),
    _ref("assignment_group", "Assignment group", "sys_user_group"),
    _ref("assigned_to", "Assigned to", "sys_user"),
    Column("hold_reason", "On hold reason", "integer", choice=True),
    Column("close_code", "Resolution code", choice=True),
    Column("close_notes", "Resolution notes", max_length=4000),
    _when("resolved_at", "Resolved"),
    _ref("resolved_by", "Resolved by", "sys_user"),
    _when("closed_at", "Closed"),
    _ref("closed_by", "Closed by", "sys_user"),
    _bool("active", "Active"),
    Column("correlation_id", "Correlation ID", max_length=100),
    Column("correlation_display", "Correlation display", max_length=100),
    _ref("parent_incident", "Parent Incident", "incident"),
    Column("work_notes", "Work notes", "journal_input", max_length=4000),
    Column("comments", "Additional comments", "journal_input", max_length=4000),
    Column("sys_class_name", "Task type", "sys_class_name", max_length=80, read_only=True),
)

SYS_USER = _table(
    "sys_user",
    "User",
    "name",
    Column("user_name", "User ID", max_length=100),
    Column("first_name", "First name", max_length=50),
    Column("last_name", "Last name", max_length=50),
    Column("name", "Name", max_length=151, read_only=True),
    Column("email", "Email", max_length=100),
    Column("title", "Title", max_length=60),
    _bool("active", "Active"),
    _bool("locked_out", "Locked out"),
)

SYS_USER_GROUP = _table(
    "sys_user_group",
    "Group",
    "name",
    Column("name", "Name", max_length=80),
    Column("description", "Description", max_length=1000),
    Column("email", "Group email", max_length=100),
    _ref("manager", "Manager", "sys_user"),
    _bool("active", "Active"),
)

SYS_USER_GRMEMBER = _table(
    "sys_user_grmember",
    "Group Member",
    "sys_id",
    _ref("user", "User", "sys_user"),
    _ref("group", "Group", "sys_user_group"),
)

SYS_CHOICE = _table(
    "sys_choice",
    "Choices",
    "label",
    Column("name", "Table", max_length=80),
    Column("element", "Element", max_length=80),
    Column("language", "Language", max_length=40),
    Column("value", "Value", max_length=100),
    Column("label", "Label", max_length=100),
    Column("sequence", "Sequence", "integer"),
    _bool("inactive", "Inactive"),
    Column("dependent_value", "Dependent value", max_length=100),
)

SYS_DICTIONARY = _table(
    "sys_dictionary",
    "Dictionary Entry",
    "column_label",
    Column("name", "Table", max_length=80),
    Column("element", "Column name", max_length=80),
    Column("column_label", "Column label", max_length=80),
    Column("internal_type", "Type", max_length=40),
    Column("max_length", "Max length", "integer"),
    Column("reference", "Reference", max_length=80),
    _bool("mandatory", "Mandatory"),
    _bool("read_only", "Read only"),
    _bool("active", "Active"),
)

SYS_JOURNAL_FIELD = _table(
    "sys_journal_field",
    "Journal Entry",
    "value",
    Column("element_id", "Element ID", "GUID", max_length=32),
    Column("element", "Element", max_length=40),
    Column("name", "Table", max_length=80),
    Column("value", "Value", max_length=4000),
)

SYS_ATTACHMENT = _table(
    "sys_attachment",
    "Attachment",
    "file_name",
    Column("file_name", "File name", max_length=100),
    Column("table_name", "Table name", max_length=80),
    Column("table_sys_id", "Table sys ID", max_length=32),
    Column("content_type", "Content type", max_length=100),
    Column("size_bytes", "Size bytes", "integer"),
    Column("size_compressed", "Size compressed", "integer"),
    _bool("compressed", "Compressed"),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        INCIDENT,
        SYS_USER,
        SYS_USER_GROUP,
        SYS_USER_GRMEMBER,
        SYS_CHOICE,
        SYS_DICTIONARY,
        SYS_JOURNAL_FIELD,
        SYS_ATTACHMENT,
    )
}
#: Tables whose rows only the instance writes (journal entries, attachment metadata).
SYSTEM_WRITTEN = frozenset({"sys_journal_field", "sys_attachment"})
