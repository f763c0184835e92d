"""The OpenAPI document and the app cannot drift: every route is documented and every documented
operation is a route; the body models take exactly the documented fields; and schemathesis,
driven by the document with a valid token against a real server, finds no server error and no
answer outside the document."""

from __future__ import annotations

import re

import pytest
import schemathesis
from botserver_helpers import LiveServer
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from warmup_helpers import fleet, seed_templates

from igctl.botserver import bodies
from igctl.botserver.app import create_app, openapi_document
from igctl.engine.domain import bots
from igctl.engine.flows import tick as engine_tick


def documented_operations(doc) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, ops in doc["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "delete", "patch")
    }


def app_operations(app) -> set[tuple[str, str]]:
    out = set()
    for route in app.routes:
        path = re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", route.rule)
        out.add((route.method, path))
    return out


def test_every_route_is_documented_and_every_documented_operation_is_a_route(ws):
    doc = openapi_document()
    assert app_operations(create_app(ws)) == documented_operations(doc)


def test_every_operation_documents_its_errors_and_bot_routes_need_the_token(ws):
    doc = openapi_document()
    assert doc["security"] == [{"bearer": []}]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["summary"] and op["responses"], (method, path)
            if path.startswith("/api/bot/"):
                assert "security" not in op, f"{method} {path} must need the bearer token"
                assert {"401", "429"} <= set(op["responses"]), (method, path)
            else:
                assert op["security"] == [], (method, path)
            for name in re.findall(r"{(\w+)}", path):
                assert any(p["name"] == name and p["in"] == "path" for p in op.get("parameters", [])), (path, name)


@pytest.mark.parametrize(
    "model, schema",
    [(bodies.StepComplete, "StepComplete"), (bodies.StepFailed, "StepFailed"), (bodies.Heartbeat, "Heartbeat")],
)
def test_body_models_take_exactly_the_documented_fields(model, schema):
    documented = openapi_document()["components"]["schemas"][schema]
    assert set(model.model_fields) == set(documented["properties"])
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    assert required == set(documented.get("required", []))
    assert documented.get("additionalProperties") is False


def test_error_kinds_in_the_document_are_the_engines():
    from igctl.engine.flows.botwork import ERROR_KINDS

    kinds = openapi_document()["components"]["schemas"]["StepFailed"]["properties"]["error_kind"]["enum"]
    assert tuple(kinds) == ERROR_KINDS


def test_schemathesis_finds_no_server_error_and_no_schema_violation(ws, ws_path):
    seed_templates(ws)
    fleet(ws, 30)
    engine_tick.tick(ws)
    bot = bots.add(ws, "fuzzer", actor="test")
    server = LiveServer(ws_path, threads=4)
    try:
        schema = schemathesis.openapi.from_dict(openapi_document())
        headers = {"Authorization": f"Bearer {bot['token']}"}
        checks = [
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ]
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == len(documented_operations(openapi_document()))
        statuses: dict[str, set] = {}
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def run(case):
                if "bot_id" in (case.path_parameters or {}) and case.path_parameters["bot_id"] % 2:
                    case.path_parameters["bot_id"] = bot["id"]  # half the calls for its own bot
                response = case.call_and_validate(base_url=server.url, headers=headers, checks=checks)
                statuses.setdefault(operation.label, set()).add(response.status_code)  # noqa: B023 - run() runs in this iteration

            run()
        # the fuzzing reached the real work, not only the refusals
        assert 200 in statuses["GET /api/bot/next-task/{bot_id}"] or 204 in statuses["GET /api/bot/next-task/{bot_id}"]
        assert 200 in statuses["PUT /api/bot/heartbeat/{bot_id}"]
    finally:
        server.stop()
