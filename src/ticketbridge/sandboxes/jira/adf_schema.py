"""The ADF JSON schema compiled once into plain Python checks (`compile_schema`).

Why not jsonschema at request time: its `Draft4Validator` walks the schema afresh for every
document, resolving each `$ref` and collecting every error of every failed `anyOf` branch (a
content item is tried against some thirty node types). That cost ~20 ms per description, so a bulk
create of 50 spent a second in validation. Here the schema becomes closures once per process, and
an `anyOf` whose branches are node types (an object whose required `type` property is an enum)
tries only the branches for the item's `type`: the answer is the same, since every other branch
fails on that enum.

Only the Draft 4 keywords the vendored ADF schema uses are supported, with jsonschema's semantics
(`true` is not `1`, `1.0` is `1`, `$ref` siblings are ignored, keywords skip values of other
types); any other keyword raises `UnsupportedSchema` at compile time rather than being ignored. A
test checks the answers against jsonschema's on valid and broken documents.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

#: Keywords that carry no constraint.
_ANNOTATIONS = frozenset({"$schema", "description", "definitions", "title", "default"})
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


class UnsupportedSchema(ValueError):
    """The schema uses a keyword or form this compiler does not implement."""


def compile_schema(root: Mapping[str, Any]) -> Check:
    """A predicate answering what `jsonschema.Draft4Validator(root).is_valid` answers."""
    return _Compiler(root).compile(root)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _enum_check(values: list[Any]) -> Check:
    strings = frozenset(v for v in values if isinstance(v, str))
    numbers = [v for v in values if _is_number(v)]
    if len(strings) + len(numbers) != len(values):
        raise UnsupportedSchema(f"enum values other than strings and numbers: {values!r}")
    if not numbers:
        return lambda v: isinstance(v, str) and v in strings
    return lambda v: (isinstance(v, str) and v in strings) or (_is_number(v) and any(v == n for n in numbers))


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self._root = root
        self._refs: dict[str, Check] = {}
        self._compiling: set[str] = set()
        self._schemas: dict[str, Mapping[str, Any]] = {}

    def compile(self, schema: Mapping[str, Any]) -> Check:
        if "$ref" in schema:  # Draft 4: a $ref replaces its siblings
            return self._ref(schema["$ref"])
        unknown = set(schema) - _ANNOTATIONS - _KEYWORDS.keys()
        if unknown:
            raise UnsupportedSchema(f"unsupported keywords {sorted(unknown)}")
        # Cheap, discriminating checks first: a failing anyOf branch stops at its `type` enum.
        made = [_KEYWORDS[k](self, schema[k], schema) for k in _ORDER if k in schema]
        checks = [c for c in made if c is not None]
        if len(checks) == 1:
            return checks[0]

        def every_check(v: Any) -> bool:
            # Loops, not all(generator): this runs for every node, and a generator costs a frame.
            for check in checks:  # noqa: SIM110
                if not check(v):
                    return False
            return True

        return every_check

    def resolve(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#/"):
            raise UnsupportedSchema(f"only local references are supported: {ref!r}")
        if ref not in self._schemas:
            node: Any = self._root
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            self._schemas[ref] = node
        return self._schemas[ref]

    def _ref(self, ref: str) -> Check:
        if ref in self._compiling:
            # A definition reached from itself: looked up when called, by then it is compiled.
            compiled = self._refs
            return lambda v: compiled[ref](v)
        if ref not in self._refs:
            self._compiling.add(ref)
            self._refs[ref] = self.compile(self.resolve(ref))
            self._compiling.discard(ref)
        return self._refs[ref]

    def target(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """`schema` with its $ref chain followed."""
        while "$ref" in schema:
            schema = self.resolve(schema["$ref"])
        return schema

    # --- keywords: each returns a check, or None when the keyword constrains nothing ---------

    def type_(self, value: Any, _: Mapping[str, Any]) -> Check:
        if not isinstance(value, str) or value not in _TYPES:
            raise UnsupportedSchema(f"unsupported type {value!r}")
        return _TYPES[value]

    def enum(self, value: list[Any], _: Mapping[str, Any]) -> Check:
        return _enum_check(value)

    def required(self, value: list[str], _: Mapping[str, Any]) -> Check:
        names = tuple(value)
        return lambda v: not isinstance(v, dict) or all(name in v for name in names)

    def properties(self, value: Mapping[str, Any], _: Mapping[str, Any]) -> Check:
        # `type` first: it tells node types apart.
        props = sorted(((name, self.compile(sub)) for name, sub in value.items()), key=lambda p: p[0] != "type")

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for name, sub in props:  # noqa: SIM110
                if name in v and not sub(v[name]):
                    return False
            return True

        return check

    def additional_properties(self, value: Any, schema: Mapping[str, Any]) -> Check | None:
        if value is True:
            return None
        if value is not False or "patternProperties" in schema:
            raise UnsupportedSchema(f"additionalProperties {value!r}")
        allowed = frozenset(schema.get("properties", {}))
        return lambda v: not isinstance(v, dict) or allowed.issuperset(v)

    def items(self, value: Any, _: Mapping[str, Any]) -> Check:
        if isinstance(value, list):  # positional; additionalItems is absent, so extra items pass
            positional = [self.compile(sub) for sub in value]
            return lambda v: not isinstance(v, list) or all(sub(x) for sub, x in zip(positional, v, strict=False))
        each = self.compile(value)

        def every_item(v: Any) -> bool:
            if isinstance(v, list):
                for x in v:
                    if not each(x):
                        return False
            return True

        return every_item

    def min_items(self, value: int, _: Mapping[str, Any]) -> Check:
        return lambda v: not isinstance(v, list) or len(v) >= value

    def max_items(self, value: int, _: Mapping[str, Any]) -> Check:
        return lambda v: not isinstance(v, list) or len(v) <= value

    def min_length(self, value: int, _: Mapping[str, Any]) -> Check:
        return lambda v: not isinstance(v, str) or len(v) >= value

    def pattern(self, value: str, _: Mapping[str, Any]) -> Check:
        search = re.compile(value).search
        return lambda v: not isinstance(v, str) or search(v) is not None

    def minimum(self, value: float, schema: Mapping[str, Any]) -> Check:
        if "exclusiveMinimum" in schema:
            raise UnsupportedSchema("exclusiveMinimum")
        return lambda v: not _is_number(v) or v >= value

    def maximum(self, value: float, schema: Mapping[str, Any]) -> Check:
        if "exclusiveMaximum" in schema:
            raise UnsupportedSchema("exclusiveMaximum")
        return lambda v: not _is_number(v) or v <= value

    def all_of(self, value: list[Mapping[str, Any]], _: Mapping[str, Any]) -> Check:
        subs = [self.compile(sub) for sub in value]
        return lambda v: all(sub(v) for sub in subs)

    def any_of(self, value: list[Mapping[str, Any]], _: Mapping[str, Any]) -> Check:
        branches = [self.compile(sub) for sub in value]
        by_type: dict[str, list[Check]] | None = None
        undiscriminated: list[Check] = []

        def table() -> dict[str, list[Check]]:
            # Built on first use: the branches' $refs may point at definitions still compiling.
            nonlocal by_type
            by_type = {}
            for schema, branch in zip(value, branches, strict=True):
                names = self._node_types(schema)
                if names is None:
                    undiscriminated.append(branch)
                    continue
                for name in names:
                    by_type.setdefault(name, []).append(branch)
            return by_type

        def check(v: Any) -> bool:
            if isinstance(v, dict) and isinstance(v.get("type"), str):
                candidates = (by_type if by_type is not None else table()).get(v["type"], ())
                for branch in candidates:
                    if branch(v):
                        return True
                return any(b(v) for b in undiscriminated)
            return any(b(v) for b in branches)

        return check

    def _node_types(self, schema: Mapping[str, Any], seen: frozenset[int] = frozenset()) -> frozenset[str] | None:
        """The `type` values a branch can admit from a dict that has one: its `type` property's
        string enum, narrowed by every `allOf` member and widened over an `anyOf` (None: any)."""
        target = self.target(schema)
        if id(target) in seen:
            return None
        seen |= {id(target)}
        found: frozenset[str] | None = None
        enum = self.target(target.get("properties", {}).get("type", {})).get("enum")
        if isinstance(enum, list) and all(isinstance(e, str) for e in enum):
            found = frozenset(enum)
        for member in target.get("allOf", ()):
            names = self._node_types(member, seen)
            if names is not None:
                found = names if found is None else found & names
        if "anyOf" in target:
            options = [self._node_types(branch, seen) for branch in target["anyOf"]]
            if all(names is not None for names in options):
                union = frozenset().union(*(names for names in options if names is not None))
                found = union if found is None else found & union
        return found


_KEYWORDS: dict[str, Callable[[_Compiler, Any, Mapping[str, Any]], Check | None]] = {
    "type": _Compiler.type_,
    "enum": _Compiler.enum,
    "required": _Compiler.required,
    "properties": _Compiler.properties,
    "additionalProperties": _Compiler.additional_properties,
    "items": _Compiler.items,
    "minItems": _Compiler.min_items,
    "maxItems": _Compiler.max_items,
    "minLength": _Compiler.min_length,
    "pattern": _Compiler.pattern,
    "minimum": _Compiler.minimum,
    "maximum": _Compiler.maximum,
    "allOf": _Compiler.all_of,
    "anyOf": _Compiler.any_of,
}
_ORDER = (
    "type",
    "enum",
    "required",
    "properties",
    "additionalProperties",
    "minItems",
    "maxItems",
    "minLength",
    "pattern",
    "minimum",
    "maximum",
    "items",
    "allOf",
    "anyOf",
)
