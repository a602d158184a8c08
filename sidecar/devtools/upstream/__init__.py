"""Demo upstream: a small ZGW-shaped API (Zaken API 1.5.1 / Documenten API 1.5.0 subset).

Run it with ``python -m sidecar.devtools.upstream --db PATH``; embed it with :func:`create_app`.
Loopback only, no authentication: in the demo the sidecar is its only client.
"""

from .app import DOCUMENTEN_API_VERSION, ZAKEN_API_VERSION, create_app
from .catalogue import CATEGORIES, DEFAULT_CATALOGUE_BASE, type_url
from .seed import (
    BENCHMARK_DOCUMENT_UUID,
    BSN_DE_VRIES,
    DEMO_USERS,
    GEMEENTE_RSIN,
    manifest,
    relations,
    seed_uuid,
)

__all__ = [
    "BENCHMARK_DOCUMENT_UUID",
    "BSN_DE_VRIES",
    "CATEGORIES",
    "DEFAULT_CATALOGUE_BASE",
    "DEMO_USERS",
    "DOCUMENTEN_API_VERSION",
    "GEMEENTE_RSIN",
    "ZAKEN_API_VERSION",
    "create_app",
    "manifest",
    "relations",
    "seed_uuid",
    "type_url",
]
