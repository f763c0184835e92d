"""Fuzzing the bot API with schemathesis, every check it has (ignored_auth included), in
positive and negative mode, with a valid token and with none: zero failures (product.md §7,
§9 "bad input of any kind ... gets a clear error"). tests/test_openapi.py keeps the document
and the app in step; this file throws everything schemathesis can generate at the server."""

from __future__ import annotations

import pytest
import schemathesis
from botserver_helpers import LiveServer
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from warmup_helpers import fleet, seed_templates

from igctl.botserver.app import AuthThrottle, openapi_document
from igctl.engine.domain import bots
from igctl.engine.flows import tick as engine_tick

pytestmark = pytest.mark.stress

EXAMPLES = 30


def all_checks():
    import schemathesis.specs.openapi.checks  # noqa: F401 - registers the OpenAPI checks

    checks = CHECKS.get_all()
    names = {c.__name__ for c in checks}
    # the brief: every check, and ignored_auth must be among them
    assert {
        "ignored_auth",
        "not_a_server_error",
        "negative_data_rejection",
        "positive_data_acceptance",
        "use_after_free",
        "unsupported_method",
        "missing_required_header",
    } <= names, names
    return checks


@pytest.fixture
def server(ws, ws_path):
    seed_templates(ws)
    fleet(ws, 30)
    engine_tick.tick(ws)
    # The throttle would (rightly) answer 429 to a fuzzer sending hundreds of bad tokens; give
    # it room so the checks see the 401s the document promises. Its own rule is tested in
    # tests/test_botserver.py.
    live = LiveServer(ws_path, threads=4, throttle=AuthThrottle(allowed=10**9))
    yield live
    live.stop()


def fuzz(server, headers: dict, mode: GenerationMode, own_bot: int | None) -> dict[str, set]:
    schema = schemathesis.openapi.from_dict(openapi_document())
    checks = all_checks()
    statuses: dict[str, set] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11
    for operation in operations:
        definition = operation.definition.raw
        if mode is GenerationMode.NEGATIVE and not (definition.get("parameters") or definition.get("requestBody")):
            continue  # nothing in the request to get wrong (health, openapi.json, me)
        strategy = operation.as_strategy(generation_mode=mode)

        @given(case=strategy)
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def run(case):
            params = case.path_parameters or {}
            # Half the positive calls reach the bot's own work. Never in negative mode: turning a
            # schema-violating id (say -1) into a valid one makes schemathesis report, rightly,
            # that "negative" data was accepted.
            if (
                own_bot is not None
                and mode is GenerationMode.POSITIVE
                and isinstance(params.get("bot_id"), int)
                and params["bot_id"] % 2
            ):
                params["bot_id"] = own_bot
            # A case whose headers were generated negative (say, without Authorization) keeps
            # them as generated: putting our valid token back would make schemathesis report,
            # rightly, that "negative" data was accepted.
            send = {} if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER) else headers
            response = case.call_and_validate(base_url=server.url, headers=send, checks=checks)
            statuses.setdefault(operation.label, set()).add(response.status_code)  # noqa: B023 - run() runs in this iteration

        run()
    return statuses


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_with_a_token_every_check_passes(server, ws, mode):
    bot = bots.add(ws, "fuzzer", actor="test")
    statuses = fuzz(server, {"Authorization": f"Bearer {bot['token']}"}, mode, bot["id"])
    codes = set().union(*statuses.values())
    assert not any(code >= 500 for code in codes), statuses
    if mode is GenerationMode.POSITIVE:
        assert statuses["PUT /api/bot/heartbeat/{bot_id}"] & {200}
    else:
        assert codes & {400, 404}  # the negative cases were refused, not served


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_without_a_token_every_bot_route_is_refused_and_every_check_passes(server, mode):
    statuses = fuzz(server, {}, mode, None)
    for label, codes in statuses.items():
        if " /api/bot/" in label:
            assert codes <= {401, 404, 405}, (label, codes)  # never served without the token
