"""``python -m journeys_client.simulate JOURNEY -n 10000``: rehearse a journey on the service
(``JOURNEYS_URL``, ``JOURNEYS_TOKEN``) and print its stage table (``make simulate``)."""

from __future__ import annotations

import argparse
import os
import sys

from .client import TOKEN_VARIABLE, URL_VARIABLE, JourneysClient
from .errors import NotFoundError

# 10,000 patients over two years, compared with the live version, take seconds, not the
# default read timeout's fraction of one.
READ_TIMEOUT_SECONDS = 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("journey", help="name or id of the journey")
    parser.add_argument("-n", "--cohort-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--arrivals-per-day", type=int, default=None)
    parser.add_argument("--rules", choices=["active", "none"], default="active")
    parser.add_argument("--compare", default=None, help="'current' or a version number")
    args = parser.parse_args(argv)
    url, token = os.environ.get(URL_VARIABLE), os.environ.get(TOKEN_VARIABLE)
    if not url or not token:
        parser.error(f"set {URL_VARIABLE} and {TOKEN_VARIABLE}")
    compare = args.compare
    if compare is not None and compare != "current":
        compare = int(compare)
    with JourneysClient(url, token, read_timeout=READ_TIMEOUT_SECONDS) as client:
        try:
            result = client.journeys.simulate_journey(
                args.journey,
                cohort_size=args.cohort_size,
                seed=args.seed,
                days=args.days,
                arrivals_per_day=args.arrivals_per_day,
                rules=args.rules,
                compare_with=compare,
            )
        except NotFoundError as error:
            print(f"{error} (built-ins: POST /api/v1/journeys/import-builtin)", file=sys.stderr)
            return 1
    print(result.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
