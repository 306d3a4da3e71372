"""What the API's documentation says vendor by vendor, written from the default registry's specs
(sites, credentials models, `conditional_writes`), so that a vendor added to the registry is
documented with no edit in api/, and api/ imports no connectors module. The routers and models read
these texts once, when they are defined."""

from __future__ import annotations

import inspect

from ticketbridge.connectors import default_registry


def update_description() -> str:
    """The update's If-Match guarantee, vendor by vendor, from each spec's `conditional_writes`."""
    specs = default_registry().values()
    guarded = ", ".join(spec.title for spec in specs if spec.capabilities.conditional_writes)
    racy = ", ".join(spec.title for spec in specs if not spec.capabilities.conditional_writes)
    text = (
        "Changes only the fields given, in the vendor first. With If-Match, answers 412 when the stored "
        "ticket is no longer at that version, or the vendor's ticket changed since in a field being written."
    )
    if guarded:
        text += f" {guarded}: the vendor itself refuses a write to a changed ticket, so no change is overwritten."
    if racy:
        text += (
            f" {racy}: the vendor has no conditional write, so the check reads the vendor's ticket, compares, "
            "then writes; a change made in the vendor between that read and the write, to a field this update "
            "also writes, is overwritten (changes to other fields survive)."
        )
    return text


def base_url_description() -> str:
    """A connection's `base_url`: each vendor's site hint, then the rules every site URL follows."""
    sites = "; ".join(f"{spec.vendor}: {spec.base_url_hint}" for spec in default_registry().values())
    return (
        f"The vendor's site ({sites}). Absolute https (http only for loopback hosts unless "
        "TICKETBRIDGE_ALLOW_HTTP_VENDORS), a host on TICKETBRIDGE_VENDOR_HOSTS if set, no user:password@, "
        "query or fragment"
    )


def credentials_description() -> str:
    """Each vendor's credentials model: its fields (`?` when optional) and its docstring's first sentence."""
    parts = []
    for spec in default_registry().values():
        model = spec.credentials_model
        fields = ", ".join(name + ("" if info.is_required() else "?") for name, info in model.model_fields.items())
        paragraph = " ".join(inspect.cleandoc(model.__doc__ or "").split("\n\n")[0].split())
        summary = paragraph.split(". ")[0].rstrip(".")
        parts.append(f"{spec.vendor}: {{{fields}}}" + (f" ({summary})" if summary else "") + ".")
    return " ".join(parts)
