"""Serve a stand-in until Ctrl-C: `python -m ledger_pipeline.sandbox.odoo_standin --version 18`."""

from __future__ import annotations

import argparse

from .server import OdooStandIn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="An Odoo 18 or 19 stand-in on 127.0.0.1.")
    parser.add_argument("--version", type=int, choices=(18, 19), default=18)
    parser.add_argument("--port", type=int, default=8069)
    parser.add_argument("--api-key", help="the password / API key to accept (default: random)")
    options = parser.parse_args(argv)
    standin = OdooStandIn(options.version, options.port, api_key=options.api_key)
    standin.start()
    print(f"Odoo {standin.version} stand-in at {standin.url}", flush=True)
    print(
        f"database {standin.database}, login {standin.login}, API key {standin.api_key}", flush=True
    )
    try:
        standin.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
