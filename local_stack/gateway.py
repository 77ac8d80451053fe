"""API Gateway HTTP API emulation: routing, the JWT authorizer and payload format 2.0.

The aim is that a handler cannot tell the local gateway from the real one: the event has the
shape, omissions and string conventions AWS uses, requests the real gateway would refuse
(unknown route or method, missing or bad token) never reach the handler, and the handler's
result is turned into an HTTP response by the same rules. ``GatewayApp`` makes it a WSGI
application: werkzeug serves it (``local_stack.server``), WSGI tools call it in-process.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import jwt
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request, Response

from local_stack import lambdas
from local_stack.template import (
    ACCOUNT_ID,
    FunctionInfo,
    JwtSettings,
    Route,
    functions,
    http_routes,
    jwt_settings,
    load_template,
)
from local_stack.tokens import ALGORITHM, jwt_secret

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

API_ID = "localapi01"

Invoker = Callable[[FunctionInfo, dict[str, Any]], Any]


def _header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    values = [value for key, value in headers if key.lower() == name.lower()]
    return ",".join(values) if values else None


@dataclass
class HttpRequest:
    method: str
    target: str  # path and optional query, as on the request line: /a/b?c=d
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"

    @property
    def raw_path(self) -> str:
        return urlsplit(self.target).path or "/"

    @property
    def raw_query(self) -> str:
        return urlsplit(self.target).query

    def header(self, name: str) -> str | None:
        return _header(self.headers, name)


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return _header(self.headers, name)


def json_response(
    status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()
) -> HttpResponse:
    return HttpResponse(
        status,
        [("content-type", "application/json"), *headers],
        json.dumps(payload).encode(),
    )


class GatewayError(Exception):
    """A request the gateway answers itself, without invoking a function."""

    def __init__(self, response: HttpResponse):
        super().__init__(f"{response.status} {response.body!r}")
        self.response = response


def _not_found() -> GatewayError:
    return GatewayError(json_response(404, {"message": "Not Found"}))


def _unauthorized(description: str | None = None) -> GatewayError:
    challenge = "Bearer"
    if description:
        challenge += f' error="invalid_token" error_description="{description}"'
    return GatewayError(
        json_response(401, {"message": "Unauthorized"}, [("www-authenticate", challenge)])
    )


# Routing: the most specific matching route wins, as in API Gateway (literal segments beat
# parameters). The template declares neither greedy {proxy+} paths nor ANY methods.


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]


def _is_parameter(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


class RouteTable:
    def __init__(self, routes: Sequence[Route]):
        self._routes = [(route, route.path.split("/")[1:]) for route in routes]

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        """The most specific route for a raw path: literal segments beat parameters."""
        # Split before decoding so that an encoded slash stays inside its segment.
        parts = [unquote(part) for part in raw_path.split("/")[1:]]
        best: tuple[tuple[bool, ...], RouteMatch] | None = None
        for route, pattern in self._routes:
            if route.method != method.upper() or len(pattern) != len(parts):
                continue
            parameters: dict[str, str] = {}
            for segment, part in zip(pattern, parts, strict=True):
                if _is_parameter(segment) and part:
                    parameters[segment[1:-1]] = part
                elif segment != part:
                    break
            else:
                rank = tuple(not _is_parameter(segment) for segment in pattern)
                if best is None or rank > best[0]:
                    best = (rank, RouteMatch(route, parameters))
        return best[1] if best else None


# The JWT authorizer


def _bearer_token(request: HttpRequest) -> str:
    value = (request.header("authorization") or "").strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    if not value:
        raise _unauthorized()
    return value


def verify_token(token: str, settings: JwtSettings, secret: str | None = None) -> dict[str, Any]:
    """The token's claims if its signature, exp and nbf (and iss / aud when present) hold."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret or jwt_secret(),
            algorithms=[ALGORITHM],
            options={"require": ["exp"], "verify_aud": False, "verify_iss": False},
        )
    except jwt.ExpiredSignatureError as error:
        raise _unauthorized("the token has expired") from error
    except jwt.InvalidTokenError as error:
        raise _unauthorized("the token is not valid") from error
    if "iss" in claims and settings.issuer and claims["iss"] != settings.issuer:
        raise _unauthorized("the token has an invalid issuer")
    audience = claims.get("aud", claims.get("client_id"))
    if audience is not None and settings.audiences:
        audiences = audience if isinstance(audience, list) else [audience]
        if not set(audiences) & set(settings.audiences):
            raise _unauthorized("the token does not have a valid audience")
    return claims


def claim_string(value: Any) -> str:
    """A claim value as API Gateway hands it over for HTTP APIs: always a string, lists in the
    ``[a b]`` form (so ``["admin", "staff"]`` becomes ``"[admin staff]"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(claim_string(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def stringify_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    # Null-valued claims are left out altogether, as the real authorizer does.
    return {key: claim_string(value) for key, value in claims.items() if value is not None}


def _authorize(request: HttpRequest, settings: JwtSettings, secret: str | None) -> dict[str, Any]:
    """requestContext.authorizer for an authorized route (raises 401 otherwise)."""
    claims = verify_token(_bearer_token(request), settings, secret)
    # The template's routes declare no scopes: the real gateway then sends "scopes": null.
    return {"jwt": {"claims": stringify_claims(claims), "scopes": None}}


# Payload format 2.0: the event


def _request_id() -> str:
    return base64.b64encode(os.urandom(10)).decode()


def _trace_id(now: float) -> str:
    return f"Root=1-{int(now):08x}-{os.urandom(12).hex()}"


def _join_repeated(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for key, value in pairs:
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def _headers(request: HttpRequest, now: float) -> dict[str, str]:
    """Lower-cased, comma-joined headers, with those the real gateway adds on its way."""
    headers = _join_repeated([(key.lower(), value) for key, value in request.headers])
    forwarded_for = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = (
        f"{forwarded_for},{request.source_ip}" if forwarded_for else request.source_ip
    )
    host = headers.get("host", "")
    headers.setdefault("x-forwarded-port", host.rpartition(":")[2] if ":" in host else "80")
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-amzn-trace-id", _trace_id(now))
    return headers


def _host_without_port(host: str) -> str:
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


def _body_fields(body: bytes) -> dict[str, Any]:
    if not body:
        return {"isBase64Encoded": False}
    try:
        return {"body": body.decode("utf-8"), "isBase64Encoded": False}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode(), "isBase64Encoded": True}


def build_event(
    request: HttpRequest,
    route_key: str,
    path_parameters: Mapping[str, str] | None = None,
    authorizer: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway sends for ``request`` on route ``route_key``.

    Keys AWS leaves out when empty (queryStringParameters, pathParameters, body,
    stageVariables) are left out here too.
    """
    now = time.time()
    # HTTP APIs hand over the path percent-decoded, the query string as received.
    path = unquote(request.raw_path)
    headers = _headers(request, now)
    domain_name = _host_without_port(headers.get("host") or "localhost")
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        **({"authorizer": dict(authorizer)} if authorizer is not None else {}),
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".")[0],
        "http": {
            "method": request.method.upper(),
            "path": path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id or _request_id(),
        "routeKey": route_key,
        "stage": "$default",
        # Common log format; English month names, as Python never sets LC_TIME itself.
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": request.raw_query,
        "headers": headers,
    }
    query = _join_repeated(parse_qsl(request.raw_query, keep_blank_values=True))
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = request_context
    event.update(_body_fields(request.body))
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    return event


# Payload format 2.0: the response


class InvalidLambdaResponse(ValueError):
    """A result API Gateway would reject with 500 (a malformed statusCode/body/headers)."""


def _response_body(result: Mapping[str, Any]) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise InvalidLambdaResponse(f"body must be a string, got {type(body).__name__}")
    return base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()


def response_from_result(result: Any) -> HttpResponse:
    """An HTTP response from a handler's result, by the payload format 2.0 rules."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # API Gateway's inference: any other JSON becomes a 200 application/json body.
        return json_response(200, result)
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError) as error:
        raise InvalidLambdaResponse(f"statusCode {result['statusCode']!r}") from error
    headers = [(str(key), str(value)) for key, value in (result.get("headers") or {}).items()]
    # multiValueHeaders belongs to format 1.0: format 2.0 ignores it.
    headers += [("set-cookie", str(cookie)) for cookie in result.get("cookies") or []]
    return HttpResponse(status, headers, _response_body(result))


def _internal_server_error() -> HttpResponse:
    return json_response(500, {"message": "Internal Server Error"})


# The gateway


def _invoke_in_process(info: FunctionInfo, event: dict[str, Any]) -> Any:
    return lambdas.invoke(info, event)


class Gateway:
    """The template's HTTP API: ``handle`` an HTTP request like API Gateway would."""

    def __init__(
        self,
        template: Mapping[str, Any] | None = None,
        invoke: Invoker = _invoke_in_process,
        secret: str | None = None,
    ):
        self.template = template if template is not None else load_template()
        self.routes = http_routes(self.template)
        self.route_table = RouteTable(self.routes)
        self.functions = functions(self.template)
        self.jwt_settings = jwt_settings(self.template)
        self._invoke = invoke
        self._secret = secret  # None: read JOURNEYS_LOCAL_JWT_SECRET on every check

    def has_route(self, route_key: str) -> bool:
        return any(route.route_key == route_key for route in self.routes)

    def prepare(self, request: HttpRequest) -> tuple[Route, dict[str, Any]]:
        """The route and event for a request; GatewayError for what the gateway answers itself."""
        match = self.route_table.match(request.method, request.raw_path)
        if match is None:
            # Also when the path exists for another method: HTTP APIs answer 404, not 405.
            raise _not_found()
        route = match.route
        authorizer = _authorize(request, self.jwt_settings, self._secret) if route.auth else None
        event = build_event(request, route.route_key, match.path_parameters, authorizer)
        return route, event

    def handle(self, request: HttpRequest) -> HttpResponse:
        try:
            route, event = self.prepare(request)
        except GatewayError as refusal:
            return refusal.response
        request_id = event["requestContext"]["requestId"]
        response = self._invoke_route(route, event)
        response.headers.append(("apigw-requestid", request_id))
        return response

    def _invoke_route(self, route: Route, event: dict[str, Any]) -> HttpResponse:
        try:
            result = self._invoke(self.functions[route.function_logical_id], event)
            return response_from_result(result)
        except Exception:
            # The real gateway only says 500; the traceback is what the function's log shows.
            print(f"{route.route_key} -> {route.function_logical_id} failed:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            return _internal_server_error()


# WSGI

LocalRoutes = Callable[[HttpRequest], HttpResponse | None]
# Hop-by-hop headers are the server's business (WSGI forbids them from applications).
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection"}


def request_from_environ(environ: dict[str, Any]) -> HttpRequest:
    """The HTTP request a WSGI environ describes (werkzeug reads headers and body), its path
    still percent-encoded: API Gateway matches routes on the raw path."""
    request = Request(environ)
    raw = environ.get("REQUEST_URI")
    if raw:  # WSGI carries request-line bytes as latin-1 text
        path = raw.encode("latin-1").decode("utf-8", "replace").partition("?")[0]
    else:  # PATH_INFO is decoded: encode its bytes again
        path = quote(environ.get("PATH_INFO") or "/", safe="/", encoding="latin-1")
    query = request.query_string.decode("utf-8", "replace")
    return HttpRequest(
        method=request.method,
        target=f"{path}?{query}" if query else path,
        headers=list(request.headers.items()),
        body=request.get_data(),
        source_ip=request.remote_addr or "127.0.0.1",
        protocol=str(environ.get("SERVER_PROTOCOL") or "HTTP/1.1"),
    )


class _WsgiResponse(Response):
    default_mimetype = None  # only the content type the handler or the gateway chose


class GatewayApp:
    """A WSGI application answering every request through ``gateway.handle``, after the
    ``local_routes`` (when given) had their say."""

    def __init__(self, gateway: Gateway | None = None, local_routes: LocalRoutes | None = None):
        self.gateway = gateway or Gateway()
        self.local_routes = local_routes

    def respond(self, request: HttpRequest) -> HttpResponse:
        local = self.local_routes(request) if self.local_routes else None
        return local or self.gateway.handle(request)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            response = self.respond(request_from_environ(environ))
        except Exception:  # a local-stack bug: answer like the gateway would, and show it
            traceback.print_exc(file=sys.stderr)
            response = _internal_server_error()
        headers = [(k, v) for k, v in response.headers if k.lower() not in _HOP_BY_HOP]
        # werkzeug sets Content-Length, and sends no body in answer to HEAD; the reason phrase
        # is given in the usual case (werkzeug's own is upper case).
        status = f"{response.status} {HTTP_STATUS_CODES.get(response.status, 'Unknown')}"
        return _WsgiResponse(response.body, status, headers)(environ, start_response)
