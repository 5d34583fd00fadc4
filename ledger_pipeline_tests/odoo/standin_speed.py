"""Take the stand-in off Nagle's algorithm (speed only, no behaviour change).

The stand-in writes an answer's headers and body in two sends; with Nagle on, the body waits for
the client's delayed ACK, about 40 ms a call on Linux. Turning Nagle off on its sockets is a no-op
once the stand-in does it itself.
"""

from __future__ import annotations

from ledger_pipeline.sandbox.odoo_standin import server


def disable_nagle() -> None:
    server._Handler.disable_nagle_algorithm = True
