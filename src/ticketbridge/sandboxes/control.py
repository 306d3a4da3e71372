"""The one `/__sandbox__/` control router every sandbox serves, with the same answers everywhere.

Like moto's `/moto-api/`, one control plane for all the emulated services, apart from their vendor
surfaces: no auth, never faulted nor throttled (each app's fault and rate-limit layers exempt
`is_control` paths). A sandbox plugs in a `Controls` (its state reset, seed format, rate-limit config
and search lag) as `app.state.controls`, and adds its own vendor-specific control routes, under the same
prefix, in its `control.py`.

| route | body | answer |
|---|---|---|
| `POST /reset` | `{"seed_demo": bool?}` or none | 200 `{"issues": n}` |
| `POST /seed` | the vendor's seed format | 200 `{"created", "first_key", "last_key", "keys", ...}` |
| `GET /faults` | | 200 `FaultConfig` |
| `PUT /faults` | `FaultConfig` | 200 `FaultConfig` |
| `GET /faults/injected` | | 200 `{fault: n}` |
| `DELETE /faults/injected` | | 204 |
| `GET /calls` | | 200 `{operation: n}` |
| `DELETE /calls` | | 204 |
| `GET /rate-limits` | | 200 the vendor's `RateLimitConfig` |
| `PUT /rate-limits` | the vendor's `RateLimitConfig` | 200 the same |
| `GET /consistency` | | 200 `{"search_lag_ms": x}` |
| `PUT /consistency` | `{"search_lag_ms": x}` | 200 the same; 400 when the vendor has no lag and x != 0 |

A body that does not validate answers 400 in the vendor's error shape (each app's handler of
`RequestValidationError` renders it), as does a vendor's refusal (an unknown reference in a seed).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Annotated, Any, Generic, TypeVar, cast

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ticketbridge.sandboxes.calls import CallCounter
from ticketbridge.sandboxes.faults import FaultConfig, FaultMiddleware

PREFIX = "/__sandbox__"
#: `keys` lists the created objects only up to this many (a seed of 100k issues answers counts only).
LISTED_KEYS = 100

SeedT = TypeVar("SeedT", bound=BaseModel)
LimitsT = TypeVar("LimitsT", bound=BaseModel)
ModelT = TypeVar("ModelT", bound=BaseModel)


def is_control(path: str) -> bool:
    """Whether `path` is under the control plane (exempt from faults and rate limits)."""
    return path == PREFIX or path.startswith(PREFIX + "/")


class ResetRequest(BaseModel):
    #: Start from the demo data (the sandbox's `seed_demo` setting when omitted) or from an empty state.
    seed_demo: bool | None = None


class ResetResult(BaseModel):
    #: The vendor's work items after the reset: Jira issues, ServiceNow incidents, Rezolve tickets.
    issues: int


class Consistency(BaseModel):
    """How far searches and lists lag behind writes, in milliseconds; 0 is read-after-write consistent."""

    model_config = ConfigDict(extra="forbid")

    search_lag_ms: float = Field(ge=0, strict=True, allow_inf_nan=False)


def seed_result(keys: list[str], **extra: Any) -> dict[str, Any]:
    """The answer of `POST /seed`: the created objects' keys (display ids), plus vendor extras."""
    listed = len(keys) <= LISTED_KEYS
    return {
        "created": len(keys),
        "first_key": keys[0] if keys else None,
        "last_key": keys[-1] if keys else None,
        "keys": keys if listed else None,
    } | extra


class Controls(ABC, Generic[SeedT, LimitsT]):
    """What a sandbox plugs into the control router. The router itself clears the call and fault
    counts on reset and restarts the rate-limit counts; a vendor resets only its own state."""

    def __init__(self, *, seed_model: type[SeedT], rate_limit_model: type[LimitsT]) -> None:
        self.seed_model = seed_model
        self.rate_limit_model = rate_limit_model

    @property
    @abstractmethod
    def calls(self) -> CallCounter: ...

    @property
    @abstractmethod
    def faults(self) -> FaultMiddleware:
        """The app's fault middleware (built with the middleware stack, before any request)."""

    @abstractmethod
    def reset(self, seed_demo: bool | None) -> int:
        """Replaces the vendor's state with a fresh one (the demo data unless `seed_demo` is False; the
        config's `seed_demo` when None) and persists it; answers the number of work items."""

    @abstractmethod
    def seed(self, request: SeedT) -> dict[str, Any]:
        """Adds the seeded objects; answers `seed_result(keys, ...)`. Raises the vendor's error on a
        reference to something unknown."""

    @abstractmethod
    def rate_limits(self) -> LimitsT: ...

    @abstractmethod
    def set_rate_limits(self, config: LimitsT) -> None:
        """Applies `config`; every rate-limit count starts over."""

    def search_lag_ms(self) -> float:
        return 0

    @abstractmethod
    def set_search_lag_ms(self, lag_ms: float) -> None:
        """Applies a lag to later writes (0 also makes earlier ones visible at once), or raises the
        vendor's 400 error when the vendor reads its own writes and `lag_ms` is not 0."""


AnyControls = Controls[BaseModel, BaseModel]


def get_controls(request: Request) -> AnyControls:
    return cast(AnyControls, request.app.state.controls)


ControlsDep = Annotated[AnyControls, Depends(get_controls)]
#: A JSON body validated by hand against the vendor's model (the router is shared, the models are not).
RawBody = Annotated[Any, Body()]

router = APIRouter(prefix=PREFIX)


def parse(model: type[ModelT], body: Any) -> ModelT:
    """`body` as `model`, or the `RequestValidationError` FastAPI itself would raise (rendered by the app)."""
    if body is None:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@router.post("/reset")
async def reset(controls: ControlsDep, body: RawBody = None) -> ResetResult:
    """Fresh vendor state, no call or fault counts, rate-limit counts restarted; the faults, rate limits
    and search lag in force stay, as do the vendor's own settings (see its README)."""
    request = ResetRequest() if body is None else parse(ResetRequest, body)
    issues = controls.reset(request.seed_demo)
    controls.calls.clear()
    controls.faults.counts.clear()
    controls.set_rate_limits(controls.rate_limits())
    return ResetResult(issues=issues)


@router.post("/seed")
async def seed(controls: ControlsDep, body: RawBody = None) -> dict[str, Any]:
    return controls.seed(parse(controls.seed_model, body))


@router.get("/faults")
async def get_faults(controls: ControlsDep) -> FaultConfig:
    return controls.faults.config


@router.put("/faults")
async def put_faults(config: FaultConfig, controls: ControlsDep) -> FaultConfig:
    """Replaces the faults in force (`{}` turns them all off); the injected counts stay."""
    controls.faults.configure(config)
    return config


@router.get("/faults/injected")
async def injected_faults(controls: ControlsDep) -> dict[str, int]:
    """How many of each fault were injected: `status_503`, `status_429`, `timeout`, `dropped`, `lost_response`."""
    return dict(controls.faults.counts)


@router.delete("/faults/injected", status_code=204)
async def clear_injected_faults(controls: ControlsDep) -> Response:
    controls.faults.counts.clear()
    return Response(status_code=204)


@router.get("/calls")
async def get_calls(controls: ControlsDep) -> dict[str, int]:
    """Requests that reached each vendor operation, by the vendor's operation names (calls.py)."""
    return controls.calls.snapshot()


@router.delete("/calls", status_code=204)
async def clear_calls(controls: ControlsDep) -> Response:
    controls.calls.clear()
    return Response(status_code=204)


@router.get("/rate-limits")
async def get_rate_limits(controls: ControlsDep) -> dict[str, Any]:
    return controls.rate_limits().model_dump(mode="json")


@router.put("/rate-limits")
async def put_rate_limits(controls: ControlsDep, body: RawBody = None) -> dict[str, Any]:
    """Replaces the vendor's rate-limit config; every count starts over."""
    config = parse(controls.rate_limit_model, body)
    controls.set_rate_limits(config)
    return config.model_dump(mode="json")


@router.get("/consistency")
async def get_consistency(controls: ControlsDep) -> Consistency:
    return Consistency(search_lag_ms=controls.search_lag_ms())


@router.put("/consistency")
async def put_consistency(controls: ControlsDep, body: RawBody = None) -> Consistency:
    consistency = parse(Consistency, body)
    controls.set_search_lag_ms(consistency.search_lag_ms)
    return consistency
