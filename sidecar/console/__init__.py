"""The FG console: review break-glass documents, look up decisions, answer access requests.

A server-rendered web page (Dutch, no JavaScript) on its own listener (``console.listen``),
dispatched by local port like the admin port (:class:`sidecar.app.PortDispatcher`). Imported only
when the console is configured, so the proxy never loads it.
"""

from sidecar.console.app import create_console

__all__ = ["create_console"]
