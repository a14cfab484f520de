"""Run the login service under uvicorn, or manage its clients; `ivrctl api` is this.

python -m login [--host H] [--port P] [--quiet]   serve (IVR_API_* settings)
python -m login token add CLIENT --scope site     a new client; prints its token once
python -m login token list                        clients and scopes (never a token)
python -m login openapi                           the OpenAPI document (docs/openapi.json)
"""

from __future__ import annotations

import argparse
import json
import sys

from login.auth import Tokens, TokensFileError, add_client, ensure_file
from login.settings import ApiSettings


def openapi_document() -> dict[str, object]:
    from login.app import create_app  # noqa: PLC0415

    return create_app().openapi()


def _serve(args: argparse.Namespace, settings: ApiSettings) -> int:
    import uvicorn  # noqa: PLC0415

    from login.app import create_app  # noqa: PLC0415

    host, port = args.host or settings.host, args.port or settings.port
    if ensure_file(settings.tokens_file):
        print(f"login api: new clients `site` and `operator` in {settings.tokens_file}")
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        access_log=False,  # our own request log carries no query string or header
        log_level="warning" if args.quiet else "info",
        lifespan="on",
        loop="uvloop",
        timeout_keep_alive=30,
    )
    page = f", page http://{host}:{port}/page/" if settings.page else ""
    print(f"login api: http://{host}:{port}{page}", flush=True)
    uvicorn.Server(config).run()
    return 0


def _token(args: argparse.Namespace, settings: ApiSettings) -> int:
    path = settings.tokens_file
    if args.action == "add":
        token = add_client(path, args.client, frozenset(args.scope))
        print(token)  # once, for the site's own secret store; the file keeps it 0600
        return 0
    for client in Tokens.load(path).clients:
        print(f"{client.id}\t{','.join(sorted(client.scopes))}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivrctl api", description="the login service")
    parser.add_argument("--host", help="listen address (default IVR_API_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default IVR_API_PORT, 8470)")
    parser.add_argument("--quiet", action="store_true", help="uvicorn warnings only")
    sub = parser.add_subparsers(dest="command")
    token = sub.add_parser("token", help="clients in IVR_API_TOKENS_FILE")
    token_sub = token.add_subparsers(dest="action", required=True)
    add = token_sub.add_parser("add", help="a new client; prints its token once")
    add.add_argument("client")
    add.add_argument("--scope", action="append", choices=["site", "operator"], required=True)
    token_sub.add_parser("list", help="clients and scopes (never a token)")
    sub.add_parser("openapi", help="print the OpenAPI document")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = ApiSettings.from_env()
        if args.command == "openapi":
            print(json.dumps(openapi_document(), indent=2, ensure_ascii=False))
            return 0
        if args.command == "token":
            return _token(args, settings)
        return _serve(args, settings)
    except (TokensFileError, ValueError) as exc:
        print(f"login: {exc}", file=sys.stderr)
        return 2
