"""The URLs a client sees are the sidecar's: links in answers point back through the sidecar.

A ZGW upstream (Open Zaak) writes absolute URLs on its own host into every answer: ``url``,
``next``/``previous``, a rol's ``zaak``, a document's ``inhoud`` download link, ``Location``. A
client that followed them would bypass the sidecar (or fail, with the upstream firewalled as it
should be). So every URL of a resource the sidecar proxies (the API paths of its route map) is
rewritten from the upstream's base to the sidecar's public base in answers, and back in request
bodies and query parameters. Type URLs of a catalogue the sidecar does not proxy stay as they
are, so the catalogue mapping keeps working; labels and relations are keyed on the path, which
both forms share.

The sidecar does not send ``X-Forwarded-Host`` upstream: an upstream that built its URLs from it
would also move its catalogue's type URLs to the sidecar's host.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson
from flask import Request

from sidecar.routes import RouteSpec
from sidecar.upstream import valid_host


def _api_prefixes(routes: list[RouteSpec] | tuple[RouteSpec, ...]) -> tuple[str, ...]:
    """``/zaken/api/v1/`` and friends: the first three segments of every route's path."""
    out = set()
    for r in routes:
        parts = r.path.strip("/").split("/")
        out.add("/" + "/".join(parts[:3]) + "/")
    return tuple(sorted(out))


@lru_cache(maxsize=16)
def _public_url_rx(bases: tuple[str, ...], prefixes: tuple[str, ...]) -> re.Pattern[bytes] | None:
    """A quote, one of ``bases``, one of ``prefixes`` and the rest of that JSON string (group 1,
    closing quote included), not followed by ``:`` (so not a key). The pattern starts with literal
    text, which the regex engine searches for directly. None when a base or prefix would not
    appear in JSON as its own text (it would need escaping): then the walk is used."""
    texts = (*bases, *prefixes)
    if any(orjson.dumps(x)[1:-1] != x.encode() for x in texts):
        return None

    def alt(xs: tuple[str, ...]) -> bytes:
        return b"|".join(re.escape(x.encode()) for x in sorted(xs, key=len, reverse=True))

    return re.compile(rb'"(?:' + alt(bases) + rb")((?:" + alt(prefixes) + rb')[^"\\]*(?:\\.[^"\\]*)*")(?!:)')


class UrlRewriter:
    def __init__(self, *, upstream_url: str, advertised_url: str | None, public_url: str | None,
                 routes: list[RouteSpec] | tuple[RouteSpec, ...]) -> None:
        base = urlsplit(advertised_url or upstream_url)
        self._upstream_base = f"{base.scheme}://{base.netloc}{base.path.rstrip('/')}"
        # The same base under the other scheme is the upstream's too: an upstream that follows
        # X-Forwarded-Proto writes https URLs for a client of a TLS listener (docs/tls.md).
        other = "http" if base.scheme == "https" else "https"
        self._upstream_bases = (self._upstream_base, f"{other}://{base.netloc}{base.path.rstrip('/')}")
        self._public_url = public_url.rstrip("/") if public_url else None
        self._prefixes = _api_prefixes(routes)

    def public_base(self, request: Request) -> str:
        """The sidecar's base URL as the client reached it (or as configured: ``listen.public_url``).
        A Host header that is not a plain host[:port] gives the upstream's URLs unchanged."""
        if self._public_url:
            return self._public_url
        host = request.headers.get("Host")
        if not valid_host(host):
            return self._upstream_base
        return f"{request.scheme}://{host}"

    def _swap(self, value: str, old: str | tuple[str, ...], new: str) -> str:
        if value.startswith(old):
            for base in (old,) if isinstance(old, str) else old:
                if value.startswith(base) and value[len(base):].startswith(self._prefixes):
                    return new + value[len(base):]
        return value

    def _walk(self, doc: Any, old: str | tuple[str, ...], new: str) -> Any:
        if isinstance(doc, str):
            return self._swap(doc, old, new)
        if isinstance(doc, list):
            return [self._walk(v, old, new) for v in doc]
        if isinstance(doc, dict):
            return {k: self._walk(v, old, new) for k, v in doc.items()}
        return doc

    def to_public(self, doc: Any, public_base: str) -> Any:
        """An upstream answer with its proxied URLs on the sidecar's base."""
        return self._walk(doc, self._upstream_bases, public_base)

    def public_json(self, doc: Any, public_base: str) -> bytes:
        """``orjson.dumps(self.to_public(doc, public_base))``, the same bytes, made by one regex
        pass over the encoded answer instead of a Python walk over every value (a list page has
        hundreds). orjson writes compact JSON in which a string value opens right after ``:``,
        ``[`` or ``,`` and a key's closing quote is followed by ``:``; inside a string every ``"``
        is escaped. So a match of :func:`_public_url_rx` after one of those three is exactly a
        string value (not a key) that starts with an upstream base and one of the proxied API
        paths, as _swap requires."""
        rx = _public_url_rx(self._upstream_bases, self._prefixes)
        if rx is None or not isinstance(doc, (dict, list)):  # a bare string has no ':', '[' or ',' before it
            return orjson.dumps(self.to_public(doc, public_base))
        body = orjson.dumps(doc)
        new = b'"' + orjson.dumps(public_base)[1:-1]

        def swap(m: re.Match[bytes]) -> bytes:
            # A value opens after ':', '[' or ','; a quote after anything else is an escaped one
            # inside a string (preceded by a backslash), whose text stays as it is.
            return new + m.group(1) if body[m.start() - 1] in b"[:," else m.group(0)

        return rx.sub(swap, body)

    def to_upstream(self, doc: Any, public_base: str) -> Any:
        """A request body with the sidecar's URLs of proxied resources on the upstream's base."""
        return self._walk(doc, public_base, self._upstream_base)

    def header_to_public(self, value: str, public_base: str) -> str:
        return self._swap(value, self._upstream_bases, public_base)

    def query_to_upstream(self, query: str, public_base: str) -> str:
        """Query parameter values (``zaak=``, ``informatieobject=``) on the upstream's base; the
        query is re-encoded only when something changed, so the canonical target stays as sent."""
        if "=" not in query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        swapped = [(k, self._swap(v, public_base, self._upstream_base)) for k, v in pairs]
        return urlencode(swapped) if swapped != pairs else query
