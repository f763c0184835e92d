"""The JSON bodies the bot API accepts, typed: unknown keys and wrong types are 400, never a
silent guess ("5" is not a task id, true is not a number). They mirror the schemas of
openapi.json; tests/test_openapi.py checks both against the running app."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from igctl.engine.flows.botwork import ERROR_KINDS
from igctl.engine.store.errors import InvalidInput

MAX_ID = 2**63 - 1  # SQLite's INTEGER range


def whole_number(value):
    """JSON has one number type and JSON Schema counts 5.0 as an integer: so do we. Strings,
    booleans and 5.5 stay errors."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Id = Annotated[int, BeforeValidator(whole_number), Field(ge=1, le=MAX_ID)]
Count = Annotated[int, BeforeValidator(whole_number), Field(ge=0, le=MAX_ID)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class StepComplete(Body):
    task_id: Id
    bot_id: Id
    execution_time_ms: Count | None = None
    content_used: Any = None
    instagram_response: Any = None


class StepFailed(Body):
    task_id: Id
    bot_id: Id
    error_message: str = Field(pattern=r"\S", max_length=4000)
    error_kind: Literal[ERROR_KINDS] = "other"  # type: ignore[valid-type]
    error_details: Any = None
    requires_review: bool = False
    retryable: bool = True
    retry_after_seconds: float | None = Field(default=None, ge=0, le=366 * 86400)


class Heartbeat(Body):
    status: str | None = Field(default=None, max_length=200)
    current_task_id: Id | None = None
    app_version: str | None = Field(default=None, max_length=200)
    system_info: Any = None


def parse(model: type[Body], data: dict) -> Body:
    """`data` as `model`, or InvalidInput listing each problem as {"field", "problem"}."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "problem": e["msg"]} for e in exc.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
        raise InvalidInput(f"invalid body: {summary}", detail=problems) from None
