"""``python -m sidecar.devtools.upstream``: run the demo upstream (werkzeug, threaded)."""

from __future__ import annotations

import argparse
import ipaddress
import sys

from werkzeug.serving import run_simple

from .app import create_app

_DESCRIPTION = """\
Run the demo upstream: a small ZGW-shaped API (Zaken API 1.5.1 and Documenten API 1.5.0
subset, plus a minimal catalogue) on SQLite, seeded with fictional data on first use.

It has NO authentication and listens on loopback by default: in the demo the policy sidecar
is its only client. Do not expose it.

Routes:
  /zaken/api/v1/zaken[/{uuid}]        GET list, POST; GET/PUT/PATCH/DELETE one
  /zaken/api/v1/rollen[/{uuid}]       GET list, POST; GET/DELETE one
  /zaken/api/v1/zaakinformatieobjecten[/{uuid}]
                                      GET list (a plain array), POST; GET/DELETE one
  /documenten/api/v1/enkelvoudiginformatieobjecten[/{uuid}[/download]]
                                      GET list, POST (inhoud base64); GET/PUT/PATCH/DELETE;
                                      GET download (raw bytes)
  /catalogi/api/v1/{informatieobjecttypen|zaaktypen|roltypen}[/{code}]

Object URLs follow X-Forwarded-Proto/X-Forwarded-Host when present; type URLs are
{catalogue-base}/{informatieobjecttypen|zaaktypen}/{algemeen|medisch|wvggz_wzd|coordinatiedossier}
and {catalogue-base}/roltypen/{code}. The seed relates demo users, a team and organisations to
some zaken (rollen) and links every document to a zaak: see README.md in this package.
"""


def _catalogue_default(host: str, port: int) -> str:
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host}:{port}/catalogi/api/v1"
    if addr.is_unspecified:
        return f"http://127.0.0.1:{port}/catalogi/api/v1"
    shown = f"[{addr}]" if addr.version == 6 else str(addr)
    return f"http://{shown}:{port}/catalogi/api/v1"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sidecar.devtools.upstream",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=8081, help="port (default: 8081)")
    parser.add_argument("--db", required=True, metavar="PATH",
                        help="SQLite file; created and seeded when it does not exist yet")
    parser.add_argument(
        "--catalogue-base", metavar="URL", default=None,
        help="base of the type URLs (default: http://HOST:PORT/catalogi/api/v1, i.e."
             " http://127.0.0.1:8081/catalogi/api/v1 with the default host and port)."
             " Type URLs are stored in the database when it is seeded, so use the same"
             " value for the life of a database file.",
    )
    parser.add_argument("--page-size", type=int, default=100,
                        help="items per page of the list endpoints (default: 100)")
    parser.add_argument("--zgw-secrets-file", metavar="PATH", default=None,
                        help="check JWT-ZGW like Open Zaak: requests need an HS256 bearer token signed with one of "
                             "the client secrets in PATH (one per line, read on every request)")
    parser.add_argument("--no-require-crs", dest="require_crs", action="store_false",
                        help="accept zaken requests without Accept-Crs/Content-Crs (Open Zaak answers 412)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.page_size < 1:
        print("--page-size must be >= 1", file=sys.stderr)
        return 2
    catalogue_base = args.catalogue_base or _catalogue_default(args.host, args.port)
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback:
        print(f"WARNING: demo upstream without authentication listening on {args.host}",
              file=sys.stderr)
    app = create_app(args.db, catalogue_base, args.page_size, require_crs=args.require_crs,
                     zgw_secrets_file=args.zgw_secrets_file)
    print(f"demo upstream on http://{args.host}:{args.port} (db {args.db},"
          f" catalogue {catalogue_base})", file=sys.stderr, flush=True)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
