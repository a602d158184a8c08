# METADATA
# title: Tests for wams.authz
# description: Result shape, combination (deny wins, default deny), batches and profile errors.
package wams.authz_test

import data.wams.authz
import data.wams.lib_test

result_keys := {"decision", "reasons", "reason_user", "obligations", "grondslag", "processing_activity", "deny_reason"}

test_result_shape_allow if {
	res := authz.decision with input as lib_test.base
	object.keys(res) == result_keys
	res.decision == true
	res.reasons == ["R1"]
	res.reason_user == "Toegestaan."
	res.obligations == []
	res.grondslag == null
	res.processing_activity == "urn:wams:verwerking:onderzoek_hulpvraag"
	res.deny_reason == null
}

test_default_deny_without_rule if {
	every p in lib_test.profiles {
		inp := lib_test.mk(p, {"action": {"name": "delete"}, "resource": {"properties": {"category": "medisch"}}})
		res := authz.decision with input as inp
		res.decision == false
		res.reasons == []
		res.reason_user == "Geen regel staat deze verwerking toe."
	}
}

test_deny_wins_and_reasons_sorted if {
	inp := lib_test.mk("knmg", {
		"subject": {"properties": {"role": "coordinator"}},
		"resource": {"properties": {"category": "algemeen", "labels": {"voorwaarden": ["alleen_medisch_adviseur"], "source_secrecy": "geen"}}},
		"context": {"purpose": "gecoordineerde_aanpak"},
	})
	res := authz.decision with input as inp
	res.decision == false
	res.reasons == ["R1", "R2"]
	res.deny_reason == "R2"
	res.obligations == []
}

test_reason_user_takes_most_important_deny if {
	inp := lib_test.mk("knmg", {
		"subject": {"properties": {"role": "handhaving"}},
		"context": {"purpose": "marketing"},
	})
	res := authz.decision with input as inp
	res.reasons == ["P1", "P2"]
	res.reason_user == "Gegevens uit het sociaal domein mogen niet voor handhaving of fraudebestrijding worden gebruikt."
	res.processing_activity == null
}

test_unknown_profile_denied if {
	res := authz.decision with input as lib_test.mk("gemeente_x", {})
	res.decision == false
	res.reasons == ["PROFILE"]
}

test_profile_with_errors_denied if {
	broken := object.remove(data.profiles.knmg, ["medisch_alleen_adviseur"])
	res := authz.decision with input as lib_test.mk("broken", {}) with data.profiles.broken as broken
	res.decision == false
	res.reasons == ["PROFILE"]
	res.reason_user == "Het ingestelde beleidsprofiel ontbreekt of is ongeldig; de toegang is geweigerd."
}

test_custom_profile_from_one_file if {
	custom := object.union(data.profiles.knmg, {"medisch_alleen_adviseur": false})
	inp := lib_test.mk("custom", {"resource": {"properties": {"category": "medisch"}}})
	res := authz.decision with input as inp with data.profiles.custom as custom
	res.decision == true
	res.reasons == ["R2"]
}

item(id, category) := {"resource": {
	"type": "enkelvoudiginformatieobject",
	"id": id,
	"properties": {"category": category, "labels": null, "relation": {"kinds": ["behandelaar"], "zaken": ["z"], "writer": false}},
}}

batch(p) := lib_test.mk(p, {
	"action": {"name": "list"},
	"resource": {"id": null, "properties": {"category": null, "labels": null}},
	"evaluations": [
		item("a", "algemeen"),
		item("b", "medisch"),
		item("c", null),
		{},
	],
})

test_batch_one_result_per_item_in_order if {
	res := authz.decision with input as batch("knmg")
	res.decision == true
	count(res.evaluations) == 4
	[e.decision | some e in res.evaluations] == [true, false, false, false]
	res.evaluations[0].reasons == ["R1"]
	res.evaluations[1].reasons == ["R2"]
	every e in res.evaluations {
		object.keys(e) == result_keys
	}
}

test_batch_wetsvoorstel if {
	res := authz.decision with input as batch("wetsvoorstel")
	[e.decision | some e in res.evaluations] == [true, true, false, false]
}

test_grondslag_from_labels if {
	inp := lib_test.mk("knmg", {"resource": {"properties": {"labels": {"grondslag": "lid1", "provider_sent": true, "source_secrecy": "geen"}}}})
	res := authz.decision with input as inp
	res.grondslag == "lid1"
	res.decision == true
}
