"""Every operation of both specs answers over HTTP with a body of the schema's type."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from esi.emulator import Emulator
from esi.emulator.spec import Operation, Spec

from .utils import ADA, bearer

JSON_TYPES = {
    "array": list,
    "object": dict,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


def text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(text(v) for v in value)
    return str(value)


def call(emulator: Emulator, session: requests.Session, op: Operation) -> requests.Response:
    """Call ``op`` as a well-behaved client would: path and required query parameters
    built from their schemas, a JSON body when it takes one, a token with its scopes."""
    spec = emulator.spec
    path = op.path
    for name in op.path_param_names:
        param = op.param(name, "path")
        value = ADA if name == "character_id" else spec.build_value(param.schema if param else {})
        path = path.replace(f"{{{name}}}", text(value))
    query = {
        p.name: text(spec.build_value(p.schema))
        for p in op.params
        if p.location == "query" and p.required
    }
    headers = {"X-Compatibility-Date": "2026-08-04"}
    if op.scopes:
        headers.update(bearer(emulator.sso.issue_access_token(ADA, op.scopes[0])))
    data = None
    if op.request_body_schema is not None:
        data = json.dumps(spec.build_value(op.request_body_schema))
        headers["Content-Type"] = "application/json"
    return session.request(op.method, f"{emulator.url}{path}", params=query, data=data, headers=headers)


def problems_with(emulator: Emulator, op: Operation, response: requests.Response) -> str | None:
    if not 200 <= response.status_code < 300:
        return f"status {response.status_code}: {response.text[:120]}"
    if op.success_status == 204:
        return None if response.content == b"" else "204 with a body"
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:80]!r}"
    expected = emulator.spec.schema_type(op.response_schema or {})
    if not isinstance(body, JSON_TYPES.get(expected, object)):
        return f"body is {type(body).__name__}, schema says {expected}"
    return None


def sweep(emulator: Emulator) -> list[str]:
    failures = []
    with requests.Session() as session:
        for op in emulator.spec.operations:
            # Rate-limit buckets are shared per group; one sweep must not exhaust them.
            emulator.rate_limiter.reset()
            problem = problems_with(emulator, op, call(emulator, session, op))
            if problem:
                failures.append(f"{op.operation_id} ({op.method} {op.path}): {problem}")
    return failures


def test_every_openapi_operation_answers(esi_emulator):
    assert len(esi_emulator.spec.operations) == 225
    failures = sweep(esi_emulator)
    assert not failures, "\n".join(failures)


def test_every_swagger_operation_answers(swagger_emulator):
    assert len(swagger_emulator.spec.operations) == 206
    failures = sweep(swagger_emulator)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "spec_name",
    ["esi_openapi31_2020-01-01.json", "esi_openapi31_2025-12-16.json", "esi_openapi31_2025-08-26_trimmed.json"],
)
def test_other_openapi_specs_build_every_default_body(spec_name):
    from .conftest import SHARED_SPECS

    path = SHARED_SPECS / "openapi" / spec_name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    spec = Spec.load(path)
    for op in spec.operations:
        spec.default_body(op)
