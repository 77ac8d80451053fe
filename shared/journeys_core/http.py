"""The HTTP edge shared by every API function: resolver factory, callers and roles, and the
one place where exceptions become HTTP answers."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, cast

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.request import Request
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import BaseModel

from journeys_core.errors import DomainError, Forbidden, ServiceUnavailable, Unauthorized
from journeys_core.models.common import is_organization_id
from journeys_core.observability import logger, metrics, record_failure, record_refusal
from journeys_core.settings import get_settings

__all__ = ["logger", "metrics"]  # the handlers' Powertools logger and metrics, from here

ROLES = ("staff", "admin")
# Machine callers (payment, forms, booking systems): the only ones who may submit domain
# events, which stage guards count. A person is never one, whatever else they are.
INTEGRATION_GROUP = "integration"
# The scope of the user pool's resource server that a machine client's access token carries.
INTEGRATION_SCOPE = "journeys/events.write"


def error_body(status: int, message: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"statusCode": status, "message": message}
    if code:
        body["code"] = code
    body.update(extra)
    return body


def _json_response(status: int, body: Mapping[str, Any]) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@dataclass(frozen=True)
class Caller:
    sub: str
    org: str
    roles: frozenset[str]

    @property
    def actor(self) -> str:
        return self.sub


def parse_groups(raw: Any) -> frozenset[str]:
    """``cognito:groups`` as given: a JSON list is taken item by item, unchanged; the string
    API Gateway makes of it (``"[admin staff]"``) is split on whitespace only. A group name
    is never split further (``"readers,admin"`` is one unknown group, not admin)."""
    if raw is None:
        return frozenset()
    if isinstance(raw, list | tuple):
        return frozenset(str(value) for value in raw if str(value))
    text = str(raw).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return frozenset(text.split())


def caller_from_claims(claims: Mapping[str, Any] | None) -> Caller:
    if not claims or not claims.get("sub"):
        raise Unauthorized("Unauthorized")
    machine = _integration_client(claims)
    if machine is not None:
        return machine
    org = str(claims.get("custom:org_id") or "")
    if not org:
        raise Forbidden("the token carries no organization (custom:org_id)")
    if not is_organization_id(org):
        # Refused before any key is built from it (see ORGANIZATION_PATTERN).
        raise Forbidden("the token's organization (custom:org_id) is not a valid id")
    return Caller(sub=str(claims["sub"]), org=org, roles=parse_groups(claims.get("cognito:groups")))


def _integration_client(claims: Mapping[str, Any]) -> Caller | None:
    """A machine client's access token (client credentials: no user, no custom:org_id) with
    the integration scope, from a client this function maps to an organization."""
    scopes = str(claims.get("scope") or "").split()
    if claims.get("token_use") != "access" or INTEGRATION_SCOPE not in scopes:
        return None
    client_id = str(claims.get("client_id") or "")
    org = get_settings().integration_organization(client_id)
    if org is None or not is_organization_id(org):
        return None
    return Caller(sub=client_id, org=org, roles=frozenset({INTEGRATION_GROUP}))


# Route dependencies: ``caller: Admin`` in a route's signature refuses the request (401/403)
# before the route runs. Powertools hands each dependency the request being resolved.


def _caller(request: Request) -> Caller:
    event = cast(APIGatewayProxyEventV2, request.resolved_event)
    context = event.request_context.authorizer
    return caller_from_claims(context.jwt_claim if context else None)


def require_admin(caller: Caller) -> Caller:
    if "admin" not in caller.roles:
        raise Forbidden("this needs the admin role")
    return caller


def _staff(request: Request) -> Caller:
    caller = _caller(request)
    if not caller.roles.intersection(ROLES):
        raise Forbidden("this needs the staff or admin role")
    return caller


def _admin(request: Request) -> Caller:
    return require_admin(_caller(request))


def _integration(request: Request) -> Caller:
    caller = _caller(request)
    if INTEGRATION_GROUP not in caller.roles:
        raise Forbidden(
            f"this needs the {INTEGRATION_GROUP} group (machine callers); a person moves "
            "a patient with PATCH /patients/{id}/journey"
        )
    return caller


Reader = Annotated[Caller, Depends(_caller)]  # any signed-in user of an organization
Staff = Annotated[Caller, Depends(_staff)]
Admin = Annotated[Caller, Depends(_admin)]
Integration = Annotated[Caller, Depends(_integration)]
# The query parameters of every paged listing.
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=2000)]


def _describe_validation_errors(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    detail = []
    parts = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        where = ".".join(loc[1:] if loc and loc[0] in ("body", "query", "path") else loc)
        msg = str(error.get("msg") or error.get("type", "invalid")).removeprefix("Value error, ")
        field, _, rest = msg.partition(": ")
        if rest and " " not in field:  # our validators say "field: problem"
            where, msg = f"{where}.{field}" if where else field, rest
        where = where or (loc[0] if loc else "request")
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error")
            msg = "the body is not valid JSON" + (f": {reason}" if reason else "")
            where = "body"
        detail.append({"loc": error.get("loc", ()), "type": error.get("type"), "msg": msg})
        parts.append(f"{where}: {msg}")
    return "; ".join(parts) or "invalid request", detail


MAX_JSON_DEPTH = 64


class _NotStandardJson(ValueError):
    pass


def parse_json_body(text: str) -> Any:
    """A request body as JSON, refusing what would break later or be stored changed: NaN and
    Infinity (not JSON), numbers too large for a double (1e400 would become infinity, then
    null), integers of more than 4300 digits, and nesting deeper than MAX_JSON_DEPTH levels
    (the parser, validation and serialization all recurse)."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise json.JSONDecodeError(_TOO_DEEP, text, 0) from None
    except json.JSONDecodeError:
        raise
    except ValueError as error:  # _NotStandardJson, or int's digit limit
        raise json.JSONDecodeError(str(error), text, 0) from None
    if _nesting_depth(value) > MAX_JSON_DEPTH:
        raise json.JSONDecodeError(_TOO_DEEP, text, 0)
    return value


_TOO_DEEP = f"nested more than {MAX_JSON_DEPTH} levels deep"


def _refuse_constant(name: str) -> Any:
    raise _NotStandardJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise _NotStandardJson(f"{text} is too large a number")
    return number


def _nesting_depth(value: Any) -> int:
    """How many arrays and objects deep ``value`` goes (stops counting past the limit)."""
    deepest, pending = 0, [(value, 1)]
    while pending and deepest <= MAX_JSON_DEPTH:
        item, level = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            pending.extend((child, level + 1) for child in item)
    return deepest


def request_ids(event: Mapping[str, Any]) -> dict[str, Any]:
    """What finds a request again: its id (also in the API's access log), its route, and the
    caller's organization and subject."""
    context = event.get("requestContext") or {}
    claims = ((context.get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
    return {
        "request_id": context.get("requestId"),
        "route": event.get("routeKey"),
        "organization_id": claims.get("custom:org_id"),
        "sub": claims.get("sub"),
    }


def record_answer(event: Mapping[str, Any], status: int, message: str, code: str) -> None:
    """One line and one metric per error answer: refused (4xx), or failed (5xx)."""
    ids = {"status": status, "code": code, **request_ids(event)}
    if status >= 500:
        record_failure("request failed", "RequestFailed", reason=message, **ids)
    else:
        record_refusal("request refused", "RequestRefused", message, **ids)


class JourneysResolver(APIGatewayHttpResolver):
    """An HTTP API resolver that refuses oversized and non-JSON bodies before parsing anything."""

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        refusal = _refuse_body(event)
        if refusal is not None:
            return refusal
        try:
            return super().resolve(event, context)
        except Exception as error:
            # Not caught: Lambda reports the error and the API answers 500; said here first.
            record_failure("request failed", "RequestFailed", error, **request_ids(event))
            raise


def _refuse_body(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """413 for a body over the limit; 415 for a body declared as anything but JSON (the API
    takes JSON only; Powertools would try to parse forms and multipart, and raise on a
    multipart type without a boundary)."""
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    limit = get_settings().max_body_bytes
    if size > limit:
        return _raw_error(event, 413, f"the body is over {limit} bytes", "payload_too_large")
    headers = {str(key).lower(): value for key, value in (event.get("headers") or {}).items()}
    content_type = str(headers.get("content-type") or "")
    if body and content_type and not _is_json(content_type):
        return _raw_error(event, 415, UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    return None


UNSUPPORTED_MEDIA_TYPE = "the body must be JSON (Content-Type: application/json)"


def _is_json(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == content_types.APPLICATION_JSON


def _raw_error(event: Mapping[str, Any], status: int, message: str, code: str) -> dict[str, Any]:
    record_answer(event, status, message, code)
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps(error_body(status, message, code)),
        "isBase64Encoded": False,
    }


def build_resolver() -> JourneysResolver:
    """The resolver every API function uses, with errors mapped to HTTP in one place."""
    app = JourneysResolver(enable_validation=True, json_body_deserializer=parse_json_body)

    def answer(status: int, message: str, code: str, **extra: Any) -> Response:
        record_answer(app.current_event.raw_event, status, message, code)
        return _json_response(status, error_body(status, message, code, **extra))

    @app.exception_handler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        response = answer(error.status_code, error.message, error.code)
        if isinstance(error, ServiceUnavailable):  # AWS throttled us: nothing was written
            response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(RequestValidationError)
    def _validation_error(error: RequestValidationError) -> Response:
        message, detail = _describe_validation_errors(list(error.errors()))
        return answer(422, message, "validation_error", detail=detail)

    @app.exception_handler(RequestUnsupportedContentType)
    def _not_json(error: RequestUnsupportedContentType) -> Response:
        return answer(415, UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")

    @app.exception_handler(UnicodeDecodeError)
    def _not_utf8(error: UnicodeDecodeError) -> Response:
        return answer(400, "the body is not UTF-8 text", "bad_body")

    @app.exception_handler(base64.binascii.Error)  # type: ignore[attr-defined]
    def _bad_base64(error: Exception) -> Response:
        return answer(400, "the body could not be decoded", "bad_body")

    return app


RouteT = TypeVar("RouteT", bound=Callable[..., Any])


class TaggedRoutes:
    """Declares the routes of one OpenAPI tag on a resolver: the tag is given once (a module's
    ``api = TaggedRoutes(app, "Patients")``), each route its method, path, operation id and
    summary (``@api.route("GET", "/api/v1/patients/<patient_id>", "getPatient", "Get a
    patient")``); other keywords are Powertools' route options (status_code, responses…)."""

    def __init__(self, app: APIGatewayHttpResolver, tag: str) -> None:
        self._app = app
        self.tag = tag

    def route(
        self, method: str, rule: str, operation_id: str, summary: str, **options: Any
    ) -> Callable[[RouteT], RouteT]:
        return self._app.route(
            rule, method, summary=summary, tags=[self.tag], operation_id=operation_id, **options
        )


class ErrorBody(BaseModel):
    """Every error answer: ``{"statusCode", "message", "code"}``."""

    statusCode: int  # the documented wire name
    message: str
    code: str | None = None


class ValidationErrorBody(ErrorBody):
    detail: list[dict[str, Any]] = []


class GatewayErrorBody(BaseModel):
    """What API Gateway answers by itself, before any function runs: ``{"message"}`` (401
    from the JWT authorizer; 404 for a path no route matches, e.g. an empty path parameter)."""

    message: str


@dataclass(frozen=True)
class ErrorResponse:
    description: str
    bodies: tuple[type[BaseModel], ...]
    headers: tuple[str, ...] = ()  # headers the answer always carries
    authenticated_only: bool = False  # given only on routes behind the JWT authorizer


# What any route may answer besides its success: documented once, applied to every
# operation of the OpenAPI document (tools/openapi.py).
ERROR_RESPONSES: dict[int, ErrorResponse] = {
    400: ErrorResponse("The body is not UTF-8 text or could not be decoded", (ErrorBody,)),
    401: ErrorResponse(
        "Missing, badly signed or expired token (answered by the JWT authorizer)",
        (GatewayErrorBody, ErrorBody),
        authenticated_only=True,
    ),
    403: ErrorResponse(
        "The token lacks an organization or the role this needs",
        (ErrorBody,),
        authenticated_only=True,
    ),
    404: ErrorResponse(
        "No such object in the caller's organization (or, from the gateway, no such path)",
        (ErrorBody, GatewayErrorBody),
    ),
    409: ErrorResponse(
        "Conflict: duplicate name, changed meanwhile, move not allowed", (ErrorBody,)
    ),
    413: ErrorResponse("The body is over the size limit", (ErrorBody,)),
    415: ErrorResponse("The body is declared as something other than JSON", (ErrorBody,)),
    422: ErrorResponse("Validation error naming the field", (ValidationErrorBody,)),
    503: ErrorResponse(
        "AWS throttled the request; nothing was written, retry after Retry-After seconds",
        (ErrorBody,),
        headers=("Retry-After",),
    ),
}
