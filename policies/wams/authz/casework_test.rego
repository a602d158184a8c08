# A zaak's case work (a status set, a resultaat recorded, a zaakobject added, changed or removed)
#   is a write to its zaak. The sidecar sends it as its own resource type (status, resultaat,
#   zaakobject) with the zaak's category and the caller's relation to the zaak; the policy must
#   then decide it exactly as an update of that zaak, in every profile, category and role, and
#   deny it under N1 without a relation.
package wams.authz_test

import data.wams.authz

casework_categories := {"algemeen", "medisch", "wvggz_wzd", "coordinatiedossier", "onbekend"}

# role, relation kinds, purpose
casework_callers := [
	["consulent", ["behandelaar"], "onderzoek_hulpvraag"],
	["medisch_adviseur", ["medisch_adviseur"], "onderzoek_hulpvraag"],
	["coordinator", ["coordinator"], "gecoordineerde_aanpak"],
	["consulent", [], "onderzoek_hulpvraag"],
]

# METADATA
# title: Case-work input
# description: The input the sidecar sends for a write of rtype/action on a zaak of category cat.
casework_input(profile, rtype, action, cat, caller) := {
	"subject": {"type": "user", "id": "u-casework", "properties": {
		"role": caller[0], "org": "gemeente-demo", "secrecy": "geen", "controlling_org": true,
	}},
	"action": {"name": action, "properties": {"method": "POST", "phase": "request"}},
	"resource": {"type": rtype, "id": null, "properties": {
		"category": cat, "vertrouwelijkheidaanduiding": null, "labels": null,
		"relation": {"kinds": caller[1], "zaken": ["9b7c1c1e-0d9e-4b43-9a8e-4a5f2f0c0a11"], "writer": false},
	}},
	"context": {
		"purpose": caller[2], "profile": profile, "time": "2026-11-29T16:40:00Z",
		"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"herkomst": null, "retention_configured": true,
	},
}

# A create and a delete (the policy reads the action and the type only to know it is a write on
# a case-bound resource), each compared with the zaak's update for the same caller and category.
casework_writes := [["status", "create"], ["zaakobject", "delete"]]

test_casework_is_decided_as_an_update_of_its_zaak if {
	differ := [sprintf("%v %v %v %v: %v %v, zaak update %v %v", [p, w, c, who, d.decision, d.reasons, z.decision, z.reasons]) |
		some p in {"knmg", "wetsvoorstel"}
		some c in casework_categories
		some who in casework_callers
		z := authz.decision with input as casework_input(p, "zaak", "update", c, who)
		some w in casework_writes
		d := authz.decision with input as casework_input(p, w[0], w[1], c, who)
		[d.decision, d.reasons] != [z.decision, z.reasons]
	]
	differ == []
}

test_casework_allows_and_denies if {
	# The consulent related to an algemeen zaak sets its status; related to nothing, it cannot (N1).
	allowed := authz.decision with input as casework_input("knmg", "status", "create", "algemeen", casework_callers[0])
	allowed.decision == true
	denied := authz.decision with input as casework_input("knmg", "status", "create", "onbekend", casework_callers[3])
	denied.decision == false
	"N1" in denied.reasons
}
