"""The embedded AWS: moto in a thread, fake credentials, and the functions' environment.

Shared by ``local_stack.server`` and ``local_stack.invoke`` so both see the AWS world the same
way handlers do in Lambda: through boto3's standard ``AWS_ENDPOINT_URL`` and the environment
variables the template gives each function.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from local_stack.template import (
    DEFAULT_PREFIX,
    REGION,
    LocalResource,
    create_resources,
    function_environment,
    functions,
)

LOOPBACK = "127.0.0.1"

FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # Nothing local should ever try the instance metadata service for credentials.
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True)
class Settings:
    """Where the local stack serves: PORT (default 3000), HOST, AWS_PORT (default PORT+1)."""

    host: str
    port: int
    aws_port: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        port = int(environ.get("PORT") or 3000)
        return cls(
            host=environ.get("HOST") or LOOPBACK,
            port=port,
            aws_port=int(environ.get("AWS_PORT") or port + 1),
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def endpoint_url(port: int, host: str = LOOPBACK) -> str:
    return f"http://{host}:{port}"


def use_fake_aws(endpoint: str, environ: MutableMapping[str, str] = os.environ) -> None:
    """Point boto3 (ours and the handlers') at the embedded AWS with fake credentials."""
    environ.update(FAKE_AWS_ENVIRONMENT)
    environ["AWS_ENDPOINT_URL"] = endpoint
    # A developer's profile must not leak real credentials or another region into the stack.
    environ.pop("AWS_PROFILE", None)
    environ.pop("AWS_DEFAULT_PROFILE", None)
    # A corporate HTTP proxy must not swallow calls to the loopback endpoint.
    for variable in ("NO_PROXY", "no_proxy"):
        hosts = [host for host in environ.get(variable, "").split(",") if host]
        environ[variable] = ",".join([*hosts, LOOPBACK, "localhost"])


def aws_client(service: str, endpoint: str, config: Any = None) -> Any:
    """A boto3 client of the embedded AWS at ``endpoint``, with the fake credentials whatever
    this process's environment holds (an explicit endpoint also spares dynamodbstreams
    botocore's account-based one)."""
    import boto3

    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=FAKE_AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        config=config,
    )


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def moto_is_running(port: int, host: str = LOOPBACK, timeout: float = 1.0) -> bool:
    """Whether a moto server answers on ``host:port`` (its /moto-api/config endpoint)."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with direct.open(f"{endpoint_url(port, host)}/moto-api/config", timeout=timeout):
            return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start_moto(port: int, host: str = LOOPBACK) -> Any:
    """Start moto's server in a daemon thread; port 0 picks a free port.

    Returns the ThreadedMotoServer (``get_host_and_port()`` tells the port; ``stop()``).
    """
    # Checked up front: ThreadedMotoServer.start() would wait forever if its bind failed.
    if port and not port_is_free(port, host):
        raise OSError(f"port {port} on {host} is already in use (embedded AWS)")
    # Werkzeug would log every AWS call at INFO; the server logs its own requests.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from moto.server import ThreadedMotoServer

    from aws_sim import moto_patches

    moto_patches.apply()  # serializable, fast transactions, as DynamoDB gives
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    return server


def provision(
    prefix: str = DEFAULT_PREFIX, template: Mapping[str, Any] | None = None
) -> dict[str, LocalResource]:
    """Create the template's resources on the endpoint AWS_ENDPOINT_URL points at."""
    import boto3

    return create_resources(boto3.session.Session(), prefix, template)


def merged_function_environment(
    template: Mapping[str, Any], resources: Mapping[str, LocalResource]
) -> dict[str, str]:
    """Every function's environment in one mapping (a single process serves them all).

    Functions that disagree on a variable's value are reported: the first one wins, and the
    other function would see the wrong value.
    """
    merged: dict[str, str] = {}
    owners: dict[str, str] = {}
    for logical_id in functions(template):
        for key, value in function_environment(template, logical_id, resources).items():
            if key in merged and merged[key] != value:
                print(
                    f"WARNING: {logical_id} sets {key}={value!r} but {owners[key]} set "
                    f"{merged[key]!r}; the local stack keeps the latter",
                    file=sys.stderr,
                )
                continue
            merged[key] = value
            owners[key] = logical_id
    return merged
