"""What an upstream object is: its data category (via the catalogue) and its sensitivity.

A type URL the catalogue does not know, or an object without a type, is ``onbekend``:
protected at least as strictly as Wvggz/Wzd documents, never defaulted to ``algemeen``.
"""

from __future__ import annotations

from typing import Any

from sidecar.settings import CatalogueSettings

UNKNOWN = "onbekend"

# Which field of an object names its type, per resource type.
TYPE_FIELD = {"enkelvoudiginformatieobject": "informatieobjecttype", "zaak": "zaaktype"}


class Catalogue:
    def __init__(self, settings: CatalogueSettings) -> None:
        self._by_field = {
            "informatieobjecttype": dict(settings.informatieobjecttypen),
            "zaaktype": dict(settings.zaaktypen),
        }
        self._defaults = dict(settings.defaults)

    def category_of_type(self, resource_type: str, type_url: Any) -> str:
        field = TYPE_FIELD.get(resource_type)
        if field is None:
            return self._defaults.get(resource_type, UNKNOWN)
        if not isinstance(type_url, str):
            return UNKNOWN
        return self._by_field[field].get(type_url, UNKNOWN)

    def classify(self, resource_type: str, obj: Any) -> dict[str, Any]:
        """Resource properties for the OPA input, from an upstream JSON object."""
        if not isinstance(obj, dict):
            return {"category": UNKNOWN, "vertrouwelijkheidaanduiding": None}
        field = TYPE_FIELD.get(resource_type)
        category = self.category_of_type(resource_type, obj.get(field) if field else None)
        vertrouwelijk = obj.get("vertrouwelijkheidaanduiding")
        return {
            "category": category,
            "vertrouwelijkheidaanduiding": vertrouwelijk if isinstance(vertrouwelijk, str) else None,
        }
