# METADATA
# title: Tests and test helpers for wams.lib
# description: The base input every test package patches, and the tests of the shared facts.
package wams.lib_test

import data.wams.lib

# METADATA
# title: Profiles under test
# description: Both profile columns of docs/rules.md.
profiles := ["knmg", "wetsvoorstel"]

# METADATA
# title: Base input
# description: A complete input per docs/decision-api.md; a consulent reads an algemeen document.
base := {
	"subject": {"type": "user", "id": "u-123", "properties": {
		"role": "consulent",
		"org": "gemeente-demo",
		"secrecy": "geen",
		"controlling_org": true,
	}},
	"action": {"name": "read", "properties": {"method": "GET", "phase": "response"}},
	"resource": {
		"type": "enkelvoudiginformatieobject",
		"id": "4f0d6a1e-8c1b-4e5a-9d55-0c2f3b7a1e01",
		"properties": {"category": "algemeen", "vertrouwelijkheidaanduiding": "vertrouwelijk", "labels": null},
	},
	"context": {
		"purpose": "onderzoek_hulpvraag",
		"profile": "knmg",
		"time": "2026-11-29T16:40:00Z",
		"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"herkomst": null,
		"retention_configured": true,
		"client_agreement": null,
		"coordinator_willing": null,
		"coordinator_is_treating_provider": null,
	},
}

# METADATA
# title: Make an input
# description: The base input deep-merged with patch, under the given profile.
mk(profile, patch) := object.union_n([base, patch, {"context": {"profile": profile}}])

test_defaults_when_claims_absent if {
	inp := {"subject": {"properties": {}}, "action": {"name": "read"}, "resource": {"properties": {}}, "context": {}}
	lib.role == null with input as inp
	lib.purpose == null with input as inp
	lib.category == null with input as inp
	lib.labels == {} with input as inp
	lib.secrecy == "geen" with input as inp
	count(lib.voorwaarden) == 0 with input as inp
}

test_claims_read if {
	inp := mk("knmg", {"resource": {"properties": {"labels": {"voorwaarden": ["geen_verdere_verstrekking"]}}}})
	lib.role == "consulent" with input as inp
	lib.purpose == "onderzoek_hulpvraag" with input as inp
	lib.category == "algemeen" with input as inp
	lib.voorwaarden == {"geen_verdere_verstrekking"} with input as inp
	lib.is_read with input as inp
	not lib.is_write with input as inp
	lib.is_write with input as mk("knmg", {"action": {"name": "create"}})
}

test_secrecy_holder_per_profile if {
	wettelijk := mk("wetsvoorstel", {"subject": {"properties": {"secrecy": "wettelijk"}}})
	lib.secrecy_holder with input as wettelijk
	code := {"subject": {"properties": {"secrecy": "beroepscode"}}}
	lib.secrecy_holder with input as mk("knmg", code)
	not lib.secrecy_holder with input as mk("wetsvoorstel", code)
	not lib.secrecy_holder with input as mk("knmg", {})
}

test_onward_fails_closed if {
	lib.onward with input as mk("knmg", {"subject": {"properties": {"controlling_org": false}}})
	lib.onward with input as object.remove(base, ["subject"])
	not lib.onward with input as base
}

test_purpose_only_request_phase_and_collection if {
	req := mk("knmg", {
		"action": {"properties": {"phase": "request"}},
		"resource": {"properties": {"category": null}},
	})
	lib.purpose_only with input as req
	coll := mk("knmg", {"resource": {"id": null, "properties": {"category": null}}, "evaluations": []})
	lib.purpose_only with input as coll
	resp := mk("knmg", {"resource": {"properties": {"category": null}}})
	not lib.purpose_only with input as resp
}

test_ingest_needs_herkomst_and_role if {
	patch := {
		"subject": {"properties": {"role": "aanbieder", "controlling_org": false}},
		"action": {"name": "create", "properties": {"method": "POST", "phase": "request"}},
		"context": {"herkomst": {"grondslag": "lid1"}},
	}
	lib.is_ingest with input as mk("knmg", patch)
	not lib.is_ingest with input as mk("knmg", object.union(patch, {"context": {"herkomst": null}}))
	not lib.is_ingest with input as mk("knmg", object.union(patch, {"subject": {"properties": {"role": "consulent"}}}))
}

test_data_subject_access if {
	inp := {
		"subject": {"type": "data_subject", "id": "bsn-hash", "properties": {}},
		"action": {"name": "list", "properties": {"phase": "request"}},
		"resource": {"type": "records", "id": null, "properties": {"category": null}},
		"context": {"purpose": null, "profile": "knmg"},
	}
	lib.data_subject_access with input as inp
	not lib.data_subject_access with input as object.union(inp, {"subject": {"type": "user"}})
}

test_herkomst_set_ignores_non_lists if {
	lib.herkomst_set({"lid2": ["a", "b"]}, "lid2") == {"a", "b"}
	lib.herkomst_set({}, "lid2") == set()
	lib.herkomst_set({"lid2": "a"}, "lid2") == set()
}
