"""The local gateway behaves like API Gateway HTTP APIs (payload 2.0, JWT authorizer)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from local_stack.gateway import (
    Gateway,
    HttpRequest,
    HttpResponse,
    claim_string,
    response_from_result,
)
from local_stack.template import FunctionInfo, parse_template
from local_stack.tokens import make_token

ISSUER, AUDIENCE = "https://issuer.example", "api-audience"
TEMPLATE = parse_template(
    """
Parameters:
  JwtIssuer: {Type: String, Default: "https://issuer.example"}
  JwtAudience: {Type: String, Default: "api-audience"}
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            JwtConfiguration:
              issuer: !Ref JwtIssuer
              audience: [!Ref JwtAudience]
  ItemsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/items/
      Handler: app.handler
      Events:
        List: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /items, Method: GET}}
        One: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: "/items/{id}", Method: GET}}
        Special: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /items/special, Method: get}}
        Save: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: "/items/{id}", Method: POST}}
        Public:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /public, Method: GET, Auth: {Authorizer: NONE}}
"""
)


class Recorder:
    """A tiny stand-in for a Lambda handler: records events, returns a canned result."""

    def __init__(self, result: Any = None, error: Exception | None = None):
        self.events: list[dict[str, Any]] = []
        self.result = result if result is not None else {"statusCode": 200, "body": "ok"}
        self.error = error

    def __call__(self, info: FunctionInfo, event: dict[str, Any]) -> Any:
        self.events.append(event)
        if self.error is not None:
            raise self.error
        return self.result


def _gateway(recorder: Recorder) -> Gateway:
    return Gateway(TEMPLATE, invoke=recorder)


def _token(**kwargs: Any) -> str:
    """A token for TEMPLATE's authorizer (its issuer and audience)."""
    extra_claims = {"iss": ISSUER, "aud": AUDIENCE, **kwargs.pop("extra_claims", {})}
    return make_token(**{"org": "acme", **kwargs}, extra_claims=extra_claims)


def _auth(token: str | None = None) -> tuple[str, str]:
    return ("Authorization", f"Bearer {token or _token()}")


def _call(
    target: str,
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    result: Any = None,
) -> tuple[HttpResponse, Recorder]:
    recorder = Recorder(result)
    request_headers = headers if headers is not None else [_auth()]
    response = _gateway(recorder).handle(HttpRequest(method, target, request_headers, body))
    return response, recorder


def _only_event(recorder: Recorder) -> dict[str, Any]:
    assert len(recorder.events) == 1
    return recorder.events[0]


# -- event shape ---------------------------------------------------------------------


def test_event_has_the_payload_v2_shape() -> None:
    _, recorder = _call(
        "/items/42?tag=a&tag=b&empty=&q=hello%20world",
        method="POST",
        headers=[
            _auth(),
            ("Host", "127.0.0.1:3000"),
            ("X-Custom", "one"),
            ("x-custom", "two"),
            ("User-Agent", "pytest"),
        ],
        body=b'{"name": "x"}',
    )
    event = _only_event(recorder)

    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /items/{id}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "tag=a&tag=b&empty=&q=hello%20world"
    assert event["queryStringParameters"] == {"tag": "a,b", "empty": "", "q": "hello world"}
    assert event["pathParameters"] == {"id": "42"}
    assert event["headers"]["x-custom"] == "one,two"
    assert all(name == name.lower() for name in event["headers"])
    assert event["body"] == '{"name": "x"}'
    assert event["isBase64Encoded"] is False
    assert "stageVariables" not in event

    context = event["requestContext"]
    assert context["accountId"] == "123456789012"
    assert context["apiId"]
    assert context["domainName"] == "127.0.0.1"
    assert context["domainPrefix"] == "127"
    assert context["http"] == {
        "method": "POST",
        "path": "/items/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest",
    }
    assert context["routeKey"] == "POST /items/{id}"
    assert context["stage"] == "$default"
    assert context["requestId"]
    assert isinstance(context["timeEpoch"], int)
    assert context["time"].endswith(" +0000")


def test_empty_parts_are_left_out_of_the_event() -> None:
    _, recorder = _call("/items")
    event = _only_event(recorder)

    for absent in ("queryStringParameters", "pathParameters", "body", "cookies", "stageVariables"):
        assert absent not in event
    assert event["rawQueryString"] == ""
    assert event["isBase64Encoded"] is False


def test_claims_are_strings_and_list_claims_use_the_bracket_form() -> None:
    token = _token(roles=("admin", "staff"), sub="user-1")
    _, recorder = _call("/items", headers=[_auth(token)])
    jwt_context = _only_event(recorder)["requestContext"]["authorizer"]["jwt"]

    claims = jwt_context["claims"]
    assert claims["sub"] == "user-1"
    assert claims["custom:org_id"] == "acme"
    assert claims["cognito:groups"] == "[admin staff]"
    assert all(isinstance(value, str) for value in claims.values())
    assert claims["exp"].isdigit()
    assert jwt_context["scopes"] is None


def test_claim_string_conventions() -> None:
    assert claim_string(["admin"]) == "[admin]"
    assert claim_string(True) == "true"
    assert claim_string(1700000000) == "1700000000"
    assert claim_string(12.0) == "12"


def test_a_body_that_is_not_utf8_is_base64_encoded() -> None:
    payload = bytes([0xFF, 0x00, 0xFE, 0x80])
    _, recorder = _call("/items/1", method="POST", body=payload)
    event = _only_event(recorder)

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_percent_encoded_path_is_decoded_like_http_apis_do() -> None:
    _, recorder = _call("/items/my%20journey")
    event = _only_event(recorder)

    assert event["pathParameters"] == {"id": "my journey"}
    assert event["rawPath"] == "/items/my journey"


# -- routing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "target", "route_key", "path_parameters"),
    [
        ("GET", "/items/special", "GET /items/special", None),
        ("GET", "/items/42", "GET /items/{id}", {"id": "42"}),
        ("POST", "/items/special", "POST /items/{id}", {"id": "special"}),
    ],
)
def test_the_most_specific_route_wins(
    method: str, target: str, route_key: str, path_parameters: dict[str, str] | None
) -> None:
    response, recorder = _call(target, method=method)
    event = _only_event(recorder)

    assert response.status == 200
    assert event["routeKey"] == route_key
    assert event.get("pathParameters") == path_parameters


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "/nope"),
        ("GET", "/items/1/extra"),
        ("DELETE", "/items"),  # the path exists, the method does not: still 404
        ("PUT", "/items/1"),
    ],
)
def test_unknown_routes_are_404_without_invoking(method: str, target: str) -> None:
    response, recorder = _call(target, method=method)

    assert response.status == 404
    assert response.json() == {"message": "Not Found"}
    assert recorder.events == []


def test_routes_come_from_the_real_template() -> None:
    gateway = Gateway(invoke=Recorder())

    assert gateway.has_route("GET /api/v1/journeys/{name_or_id}")
    match = gateway.route_table.match("POST", "/api/v1/journeys/import-builtin")
    assert match is not None
    assert match.route.route_key == "POST /api/v1/journeys/import-builtin"
    # Every API route needs the token; only the dashboard's files (no data in them) do not.
    assert all(route.auth for route in gateway.routes if route.path.startswith("/api/"))
    public = {route.route_key for route in gateway.routes if not route.auth}
    assert public == {"GET /dashboard", "GET /dashboard/{asset}"}


# -- the JWT authorizer ----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([], id="no Authorization header"),
        pytest.param([("Authorization", "Bearer ")], id="empty bearer"),
        pytest.param([("Authorization", "Bearer not-a-jwt")], id="garbage"),
        pytest.param(
            [_auth(_token(secret="some-other-secret-of-at-least-32-bytes"))], id="bad signature"
        ),
        pytest.param([_auth(_token(ttl_seconds=-60))], id="expired"),
        pytest.param(
            [_auth(_token(extra_claims={"iss": "https://evil.example"}))], id="wrong issuer"
        ),
        pytest.param([_auth(_token(extra_claims={"aud": "other-api"}))], id="wrong audience"),
    ],
)
def test_requests_without_a_valid_token_are_401_without_invoking(
    headers: list[tuple[str, str]],
) -> None:
    response, recorder = _call("/items", headers=headers)

    assert response.status == 401
    assert response.json() == {"message": "Unauthorized"}
    assert recorder.events == []


def test_the_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    rotated = "a-rotated-secret-of-at-least-32-bytes"
    token = _token(secret=rotated)

    monkeypatch.delenv("JOURNEYS_LOCAL_JWT_SECRET", raising=False)
    rejected, _ = _call("/items", headers=[_auth(token)])
    monkeypatch.setenv("JOURNEYS_LOCAL_JWT_SECRET", rotated)
    accepted, _ = _call("/items", headers=[_auth(token)])

    assert rejected.status == 401
    assert accepted.status == 200


def test_a_route_with_authorizer_none_needs_no_token() -> None:
    response, recorder = _call("/public", headers=[])

    assert response.status == 200
    assert "authorizer" not in _only_event(recorder)["requestContext"]


# -- responses -----------------------------------------------------------------------


def test_structured_response_is_passed_through() -> None:
    result = {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "X-Trace": "t"},
        "multiValueHeaders": {"X-Ignored": ["a", "b"]},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": '{"created": true}',
    }
    response, _ = _call("/items", result=result)

    assert response.status == 201
    assert response.header("content-type") == "application/json"
    assert response.header("x-trace") == "t"
    assert response.header("x-ignored") is None
    assert [value for name, value in response.headers if name == "set-cookie"] == [
        "a=1; Path=/",
        "b=2",
    ]
    assert response.json() == {"created": True}
    assert response.header("apigw-requestid")


def test_base64_response_body_is_decoded() -> None:
    payload = bytes(range(256))
    result = {
        "statusCode": 200,
        "isBase64Encoded": True,
        "body": base64.b64encode(payload).decode(),
    }

    assert response_from_result(result).body == payload


@pytest.mark.parametrize("result", [{"items": [1, 2]}, [1, 2], "text", 7])
def test_results_without_status_code_become_200_json(result: Any) -> None:
    response = response_from_result(result)

    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert json.loads(response.body) == result


def test_a_handler_that_raises_is_a_500_with_the_traceback_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    recorder = Recorder(error=RuntimeError("boom"))
    response = _gateway(recorder).handle(HttpRequest("GET", "/items", [_auth()]))

    assert response.status == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert "RuntimeError: boom" in capsys.readouterr().err


def test_a_malformed_result_is_a_500() -> None:
    response, _ = _call("/items", result={"statusCode": 200, "body": {"not": "a string"}})

    assert response.status == 500
