"""What the enforcer and the readiness check need from whatever evaluates the policy.

Two implementations: :class:`sidecar.opa.OpaClient` (OPA's REST API, the default) and
:class:`sidecar.wasm_engine.WasmEngine` (OPA's Wasm compilation of the same policies, in this
process; ``opa.engine: wasm``). Both raise :class:`sidecar.opa.OpaError` for anything that is not
a well-formed decision, so the caller fails closed the same way.
"""

from __future__ import annotations

from typing import Any, Protocol

from sidecar.opa import Decision, OpaClient
from sidecar.settings import OpaSettings


class PolicyEngine(Protocol):
    def decide(self, opa_input: dict[str, Any]) -> Decision:
        """The checked decision; raises OpaError on any trouble."""

    def query(self, path: str, opa_input: dict[str, Any] | None = None) -> Any:
        """Any rule or data path (readiness: profiles, profile errors). Undefined → ``None``."""

    def healthy(self) -> bool:
        """A policy is loaded and can be asked."""


def create_engine(settings: OpaSettings, rest: OpaClient) -> PolicyEngine:
    """The engine ``opa.engine`` names; ``rest`` is the OPA client the rest of the app uses."""
    if settings.engine == "wasm":
        # Imported only when configured: the REST set-up never loads wasmtime's native library.
        from sidecar.wasm_engine import WasmEngine

        engine = WasmEngine(settings)
        if settings.wasm_bundle_url is not None:
            from sidecar.wasm_download import BundleDownloader

            # In every worker; only the one holding the download lock fetches (sidecar.wasm_download).
            engine.downloader = BundleDownloader(settings, on_new=engine.refresh).start()
        return engine
    return rest
