"""The Rezolve sandbox's field configuration control: what an administrator does in Rezolve's ticket type
designer (docs/helpdesk/setup/ticket-types.md), so tests can give a type required fields and options.

PUT /__sandbox__/ticket-types/{typeId}/fields   {tenantId?, fields: [{name, label, type, required?,
                                                 options?: [{value, label}], defaultValue?,
                                                 requiredOnTransitionTo?: [statusKey]}]}

Each field is matched by `name`: an existing one is reconfigured in place (its UUID kept, as the
designer keeps it), a new one is added with a fresh UUID; system fields cannot be changed. Answers
`{"fields": {name: uuid}}` for the fields given. Ticket creates and updates validate against the new
configuration at once (validation.py), and GET /ticket-type shows it. `requiredOnTransitionTo` puts
the field in the `requiredFields` of every workflow transition into those statuses (and takes it out
of the others').
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ticketbridge.sandboxes.control import PREFIX
from ticketbridge.sandboxes.rezolve.demo import DEMO_TENANT_ID
from ticketbridge.sandboxes.rezolve.deps import RuntimeDep
from ticketbridge.sandboxes.rezolve.errors import input_validation_failure, not_found, tenant_not_found
from ticketbridge.sandboxes.rezolve.models import FieldDef, FieldKind, FieldOption

router = APIRouter(prefix=PREFIX)


class FieldConfig(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    label: str = Field(min_length=1, max_length=255)
    type: FieldKind
    required: bool = False
    options: list[FieldOption] | None = None
    defaultValue: Any = None
    requiredOnTransitionTo: list[str] = Field(default_factory=list)


class FieldsConfig(BaseModel):
    tenantId: str = DEMO_TENANT_ID
    fields: list[FieldConfig] = Field(min_length=1, max_length=100)


@router.put("/ticket-types/{type_id}/fields")
async def configure_fields(type_id: str, config: FieldsConfig, state: RuntimeDep) -> dict[str, dict[str, str]]:
    tenant = state.tenant(config.tenantId)
    if tenant is None:
        raise tenant_not_found()
    with state.writing():
        ticket_type = tenant.ticket_type(type_id)
        if ticket_type is None:
            raise not_found(f"Ticket type not found ({type_id})")
        system = [f.name for f in config.fields if (old := ticket_type.field_named(f.name)) and old.system]
        if system:
            raise input_validation_failure({name: "System fields cannot be reconfigured" for name in system})
        ids: dict[str, str] = {}
        for wanted in config.fields:
            existing = ticket_type.field_named(wanted.name)
            field = FieldDef(
                id=existing.id if existing else str(uuid4()), **wanted.model_dump(exclude={"requiredOnTransitionTo"})
            )
            if existing is None:
                ticket_type.fields.append(field)
            else:
                ticket_type.fields[ticket_type.fields.index(existing)] = field
            # Copies, not edits in place: the demo's workflows are shared by every reset.
            transitions = [
                t.model_copy(
                    update={
                        "requiredFields": [f for f in t.requiredFields if f != field.id]
                        + ([field.id] if t.to in wanted.requiredOnTransitionTo else [])
                    }
                )
                for t in ticket_type.workflow.transitions
            ]
            ticket_type.workflow = ticket_type.workflow.model_copy(update={"transitions": transitions})
            ids[field.name] = field.id
    return {"fields": ids}
