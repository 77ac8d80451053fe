"""``python -m local_stack.server``: the whole HTTP API on one port, no Docker.

Environment: ``PORT`` (default 3000), ``HOST`` (default 127.0.0.1), ``AWS_PORT`` (default
PORT+1, the embedded moto server), ``JOURNEYS_LOCAL_JWT_SECRET`` (token signing secret),
``LOCAL_STACK_PARENT_PID`` (optional: stop when that parent process is gone),
``LOCAL_SCHEDULES`` (``on`` by default: the template's schedules fire in real time; ``off``).

Start-up: moto in a thread, the template's resources created in it, every function's
environment merged into this process's, the built-in journeys imported for organization
``demo``, then every HTTP route of the template served by calling the handlers in-process
with API Gateway payload 2.0 events (``local_stack.gateway``'s WSGI application, served by
werkzeug). The functions' other event sources (DynamoDB streams, SQS queues, EventBridge
rules, schedules) are delivered by pollers in daemon threads (``local_stack.pollers``). Data
lives in memory only. SIGINT/SIGTERM stop it cleanly (exit 0).
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from aws_lambda_powertools.event_handler.openapi import swagger_ui
from werkzeug.middleware.shared_data import SharedDataMiddleware
from werkzeug.serving import WSGIRequestHandler, make_server

from local_stack.embedded_aws import (
    Settings,
    endpoint_url,
    merged_function_environment,
    provision,
    start_moto,
    use_fake_aws,
)
from local_stack.event_sources import discover
from local_stack.gateway import Gateway, GatewayApp, HttpRequest, HttpResponse, json_response
from local_stack.lambda_events import error_payload, parse_time
from local_stack.pollers import EventSources, UnknownSchedule, schedules_enabled
from local_stack.template import REPO_ROOT, load_template
from local_stack.tokens import make_token

OPENAPI_PATH = REPO_ROOT / "docs" / "openapi.json"
BUILTIN_IMPORT_ORG = "demo"
BUILTIN_IMPORT_ROUTE = ("POST", "/api/v1/journeys/import-builtin")
EVENTS_STATUS_PATH = "/_local/events/status"
SCHEDULES_PATH = "/_local/schedules/"
# How long SIGTERM waits for the event pollers (a running function cannot be interrupted).
EVENT_SOURCES_STOP_SECONDS = 5.0


# Local-only routes: health, event sources and schedules, the OpenAPI document and Swagger UI

# Swagger UI 5 (it reads OpenAPI 3.1) as Powertools ships it for ``enable_swagger``: the
# service's own pinned dependency, served from this machine, no CDN.
SWAGGER_UI = Path(swagger_ui.__file__).resolve().parent
SWAGGER_FILES = {
    "/docs/swagger-ui.css": SWAGGER_UI / "swagger-ui.min.css",
    "/docs/swagger-ui-bundle.js": SWAGGER_UI / "swagger-ui-bundle.min.js",
}
_SWAGGER_PAGE = b"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Journeys API (local)</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      deepLinking: true,
      filter: true,
      persistAuthorization: true
    });
  </script>
</body>
</html>
"""


def with_static_files(app: GatewayApp) -> SharedDataMiddleware:
    """Swagger UI's files under /docs/ and docs/openapi.json (once generated), served by
    werkzeug; every other path goes on to ``app``."""
    exports = {url: str(path) for url, path in SWAGGER_FILES.items()}
    if OPENAPI_PATH.is_file():
        exports["/openapi.json"] = str(OPENAPI_PATH)
    return SharedDataMiddleware(app, exports, cache=False)


def _fire_schedule(request: HttpRequest, events: EventSources) -> HttpResponse:
    """``POST /_local/schedules/{name}`` (optional body ``{"time": "<ISO 8601>"}``): run the
    schedule's function once now, as if it fired at that time; answer with its result (502
    and Lambda's error object if it raised)."""
    name = request.raw_path.removeprefix(SCHEDULES_PATH)
    try:
        body = json.loads(request.body or b"{}")
        moment = body.get("time") if isinstance(body, dict) else None
        when = parse_time(str(moment)) if moment else None
    except (ValueError, TypeError) as invalid:
        return json_response(400, {"message": f'the body must be {{"time": ISO 8601}}: {invalid}'})
    try:
        schedule, _, result, failure = events.fire_schedule(name, when)
    except UnknownSchedule as unknown:
        return json_response(404, {"message": unknown.args[0]})
    headers = [("x-local-schedule", schedule.id)]
    if failure is not None:
        return json_response(
            502, error_payload(failure), [*headers, ("x-amz-function-error", "Unhandled")]
        )
    return json_response(200, result, headers)


def local_response(request: HttpRequest, events: EventSources | None = None) -> HttpResponse | None:
    """The answer to a local-only route, or None for the API's own routes."""
    path = request.raw_path
    if events is not None and path.startswith(SCHEDULES_PATH) and request.method == "POST":
        return _fire_schedule(request, events)
    if request.method not in ("GET", "HEAD"):
        return None
    if path == "/_local/health":
        return json_response(200, {"status": "ok"})
    if path == EVENTS_STATUS_PATH and events is not None:
        return json_response(200, events.status())
    if path in ("/docs", "/docs/"):
        return HttpResponse(200, [("content-type", "text/html; charset=utf-8")], _SWAGGER_PAGE)
    return None


class _RequestLog(WSGIRequestHandler):
    """One line per request on stderr (werkzeug's own log is silenced with moto's)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        print(f"{self.command} {self.path} {code}", file=sys.stderr)


# Start-up and shutdown


def import_builtin_journeys(gateway: Gateway, settings: Settings) -> None:
    """Seed organization ``demo`` through the real route, so it goes through the handler."""
    method, path = BUILTIN_IMPORT_ROUTE
    if not gateway.has_route(f"{method} {path}"):
        return
    token = make_token(org=BUILTIN_IMPORT_ORG, roles=("admin", "staff"))
    request = HttpRequest(
        method,
        path,
        headers=[
            ("Host", f"{settings.host}:{settings.port}"),
            ("Authorization", f"Bearer {token}"),
            ("Content-Type", "application/json"),
            ("User-Agent", "local-stack-startup"),
        ],
        body=b"{}",
    )
    try:
        response = gateway.handle(request)
    except Exception as error:  # keep serving: the API is still useful without the seed data
        print(f"WARNING: importing built-in journeys failed: {error!r}", file=sys.stderr)
        return
    if response.status >= 300:
        print(
            f"WARNING: importing built-in journeys for {BUILTIN_IMPORT_ORG!r} answered "
            f"{response.status}: {response.body[:500]!r}",
            file=sys.stderr,
        )
    else:
        print(f"Imported the built-in journeys for organization {BUILTIN_IMPORT_ORG!r}")


def _banner(settings: Settings, gateway: Gateway, events: EventSources) -> str:
    token = make_token(org=BUILTIN_IMPORT_ORG, roles=("admin", "staff"))
    url = settings.base_url
    routes = "\n".join(f"    {route.route_key}" for route in gateway.routes)
    sources = "\n".join(f"    {source.kind:<18} {source.id}" for source in events.plan.sources)
    schedules = "on" if events.schedules_on else "off (LOCAL_SCHEDULES=off)"
    return f"""
------------------------------------------------------------------------
Journeys local stack (no Docker; embedded AWS on {endpoint_url(settings.aws_port)})
  API      {url}
  Docs     {url}/docs   (OpenAPI: {url}/openapi.json)
  Health   {url}/_local/health
  Routes
{routes}
  Events   {url}{EVENTS_STATUS_PATH}   (schedules {schedules}; fire one:
           curl -X POST {url}{SCHEDULES_PATH}<schedule>)
{sources}

Token for org {BUILTIN_IMPORT_ORG!r}, roles admin,staff (valid 8 h):
curl -H "Authorization: Bearer {token}" {url}/api/v1/journeys

Another token: python -m local_stack.tokens --org demo --roles admin,staff
------------------------------------------------------------------------"""


def _orphaned(environ: Mapping[str, str]) -> bool:
    """Whether the parent named by LOCAL_STACK_PARENT_PID (set by test fixtures) has died:
    a killed test run must not leave a server behind holding its ports."""
    parent = environ.get("LOCAL_STACK_PARENT_PID")
    return bool(parent) and os.getppid() != int(parent or 0)


def _stop_on_signals(stop: threading.Event) -> None:
    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)


def verify_sender(address: str | None) -> None:
    """SES sends only from verified identities: locally, the configured sender is one, so
    timeout reminders and automation emails really go out (into moto's SES record)."""
    if address:
        import boto3

        boto3.client("ses").verify_email_identity(EmailAddress=address)


def serve(settings: Settings, stop: threading.Event) -> int:
    template = load_template()
    gateway = Gateway(template)
    moto = start_moto(settings.aws_port)
    try:
        use_fake_aws(endpoint_url(settings.aws_port))
        resources = provision(template=template)
        os.environ.update(merged_function_environment(template, resources))
        verify_sender(os.environ.get("NOTIFICATION_SENDER"))
        events = EventSources(
            discover(template, resources),
            endpoint_url(settings.aws_port),
            schedules=schedules_enabled(os.environ),
        )
        events.setup()  # each rule with a function target gets its queue before any event
        # Bound before seeding so the port is ours; requests meanwhile wait in the backlog.
        app = GatewayApp(gateway, functools.partial(local_response, events=events))
        httpd = make_server(
            settings.host,
            settings.port,
            with_static_files(app),
            threaded=True,
            request_handler=_RequestLog,
        )
        try:
            events.start()  # before serving: a healthy stack delivers its events
            serving = threading.Thread(target=httpd.serve_forever, name="http", daemon=True)
            serving.start()
            import_builtin_journeys(gateway, settings)
            print(_banner(settings, gateway, events))
            print(f"local stack ready on {settings.base_url}", flush=True)
            while not stop.wait(0.5):
                if _orphaned(os.environ):
                    print("the process that started the local stack is gone", flush=True)
                    break
            print("local stack stopping", flush=True)
            events.stop(EVENT_SOURCES_STOP_SECONDS)
            httpd.shutdown()
        finally:
            events.stop(0)  # already stopped on the way out; here for the exceptional paths
            httpd.server_close()
    finally:
        moto.stop()
    return 0


def main() -> int:
    settings = Settings.from_environ(os.environ)
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        return serve(settings, stop)
    except OSError as error:
        print(f"local stack could not start: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
