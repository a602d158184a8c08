"""Policy-as-code access-control sidecar for Dutch municipal ZGW systems (OPA as the PDP)."""

__version__ = "0.1.0"
