"""The one `/__sandbox__/` control router every sandbox serves, with the same answers everywhere.

Like moto's `/moto-api/`, one control plane for all the emulated services, apart from their vendor
surfaces: no auth, never faulted nor throttled (each app's fault and rate-limit layers exempt
`is_control` paths). A sandbox plugs in a `Controls` as `app.state.controls`: the base class serves the
call counts, faults, rate limits and consistency of any `SandboxRuntime`, so a vendor writes only its
state's reset and its seed format (and, when its searches lag, the lag). It adds its own vendor-specific
control routes, under the same prefix, in its `control.py`.

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
`RequestValidationError` renders it), as does a vendor's refusal (an unknown reference in a seed) and a
lag asked of a vendor that reads its own writes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Generic, Protocol, TypeVar, cast

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ticketbridge.sandboxes.calls import CallCounter
from ticketbridge.sandboxes.faults import FaultConfig, FaultMiddleware

PREFIX = "/__sandbox__"
#: `keys` lists the created objects only up to this many (a seed of 100k issues answers counts only).
LISTED_KEYS = 100
#: Why a lag is refused by a sandbox whose vendor has no search index between writes and reads.
NO_LAG = "This vendor reads its own writes (no search index lags behind them): only a lag of 0 is accepted."

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


def seed_result(keys: list[str], listed: Mapping[str, list[str]] | None = None, /, **extra: Any) -> dict[str, Any]:
    """The answer of `POST /seed`: the created objects' keys (display ids), plus vendor extras. `listed`
    holds further lists of one entry per created object (ServiceNow's sys_ids), listed like `keys`:
    only up to `LISTED_KEYS` objects, null beyond."""
    shown = len(keys) <= LISTED_KEYS
    return (
        {
            "created": len(keys),
            "first_key": keys[0] if keys else None,
            "last_key": keys[-1] if keys else None,
            "keys": keys if shown else None,
        }
        | {name: values if shown else None for name, values in (listed or {}).items()}
        | extra
    )


class SandboxConfig(Protocol):
    @property
    def seed_demo(self) -> bool:
        """Whether a reset that does not say starts from the demo data."""
        ...


class Limiter(Protocol[LimitsT]):
    """A sandbox's rate limiter (its `ratelimit.py`)."""

    @property
    def config(self) -> LimitsT: ...

    def configure(self, config: LimitsT) -> None:
        """Applies `config`; every rate-limit count starts over."""
        ...


class SandboxRuntime(Protocol[LimitsT]):
    """What every sandbox's `runtime.py` holds, and the control plane serves without vendor code."""

    @property
    def config(self) -> SandboxConfig: ...

    @property
    def calls(self) -> CallCounter: ...

    @property
    def limiter(self) -> Limiter[LimitsT]: ...

    @property
    def faults(self) -> FaultMiddleware | None:
        """Set when the app builds its middleware stack, before any request is served."""
        ...


class Controls(ABC, Generic[SeedT, LimitsT]):
    """What a sandbox plugs into the control router: its runtime, its seed and rate-limit models, its
    state's reset and its seed. The router itself clears the call and fault counts on reset and
    restarts the rate-limit counts; a vendor resets only its own state."""

    #: Whether the vendor's searches lag behind its writes (Jira's index). One that reads its own
    #: writes answers 400 to any lag but 0; one that lags overrides the two `search_lag_ms` methods.
    search_lags: ClassVar[bool] = False

    def __init__(
        self, runtime: SandboxRuntime[LimitsT], *, seed_model: type[SeedT], rate_limit_model: type[LimitsT]
    ) -> None:
        self._runtime = runtime
        self.seed_model = seed_model
        self.rate_limit_model = rate_limit_model

    @property
    def calls(self) -> CallCounter:
        return self._runtime.calls

    @property
    def faults(self) -> FaultMiddleware:
        """The app's fault middleware (built with the middleware stack, before any request)."""
        faults = self._runtime.faults
        assert faults is not None, "the middleware stack is built before any request is served"
        return faults

    @property
    def seeds_demo_by_default(self) -> bool:
        return self._runtime.config.seed_demo

    @abstractmethod
    def reset(self, seed_demo: bool) -> int:
        """Replaces the vendor's state with a fresh one (the demo data when `seed_demo`) and persists
        it; answers the number of work items."""

    @abstractmethod
    def seed(self, request: SeedT) -> dict[str, Any]:
        """Adds the seeded objects and persists them; answers `seed_result(keys, ...)`. Raises the
        vendor's error on a reference to something unknown."""

    def rate_limits(self) -> LimitsT:
        return self._runtime.limiter.config

    def set_rate_limits(self, config: LimitsT) -> None:
        """Applies `config`; every rate-limit count starts over."""
        self._runtime.limiter.configure(config)

    def search_lag_ms(self) -> float:
        return 0

    def set_search_lag_ms(self, lag_ms: float) -> None:
        """Applies a lag to later writes (0 also makes earlier ones visible at once). Called with 0
        only, and then a no-op, unless `search_lags`."""


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
    issues = controls.reset(controls.seeds_demo_by_default if request.seed_demo is None else request.seed_demo)
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
    if consistency.search_lag_ms != 0 and not controls.search_lags:
        loc = ("body", "search_lag_ms")
        raise RequestValidationError([{"type": "value_error", "loc": loc, "msg": NO_LAG, "input": body}])
    controls.set_search_lag_ms(consistency.search_lag_ms)
    return consistency
