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
# description: A complete input per docs/decision-api.md; a consulent reads an algemeen document of a zaak it is behandelaar on.
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
		"properties": {
			"category": "algemeen", "vertrouwelijkheidaanduiding": "vertrouwelijk", "labels": null,
			"relation": {"kinds": ["behandelaar"], "zaken": ["9b7c1c1e-0d9e-4b43-9a8e-4a5f2f0c0a11"], "writer": false},
		},
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
	lib.secrecy == "onbekend" with input as inp
	not lib.secrecy_holder with input as inp

	# No labels key at all: provenance unknown, judged as the worst case.
	lib.labels_unknown with input as inp
	lib.voorwaarden == lib.known_voorwaarden with input as inp
	lib.provider_sent with input as inp
	lib.sender_secrecy_holder with input as inp
	lib.consent_withdrawn with input as inp
}

test_no_labels_stored if {
	not lib.labels_unknown with input as base
	count(lib.voorwaarden) == 0 with input as base
	not lib.provider_sent with input as base
	not lib.sender_secrecy_holder with input as base
	not lib.consent_withdrawn with input as base
	lib.labels_unknown with input as mk("knmg", {"resource": {"properties": {"labels": "ja"}}})
}

with_labels(p, labels) := mk(p, {"resource": {"properties": {"labels": labels}}})

test_provider_sent_follows_every_provider if {
	# New labels: the writer's role and whether its organisation is a controlling one.
	lib.provider_sent with input as with_labels("knmg", {"source_role": "aanbieder", "source_controlling_org": false})
	lib.provider_sent with input as with_labels("knmg", {"source_role": "burgemeester_wvggz", "source_controlling_org": true})
	lib.provider_sent with input as with_labels("knmg", {"source_role": "casusoverleg_deelnemer", "source_controlling_org": false})
	lib.provider_sent with input as with_labels("knmg", {"source_role": "consulent", "source_controlling_org": false})
	not lib.provider_sent with input as with_labels("knmg", {"source_role": "consulent", "source_controlling_org": true, "provider_sent": false})
	not lib.provider_sent with input as with_labels("knmg", {"source_role": "medisch_adviseur", "source_controlling_org": true})

	# Labels written before source_controlling_org existed (provider_sent was role == aanbieder).
	lib.provider_sent with input as with_labels("knmg", {"source_role": "aanbieder", "provider_sent": true})
	lib.provider_sent with input as with_labels("knmg", {"source_role": "burgemeester_wvggz", "provider_sent": false})
	lib.provider_sent with input as with_labels("knmg", {"source_role": "casusoverleg_deelnemer", "provider_sent": false})
	lib.provider_sent with input as with_labels("knmg", {"source_role": "consulent", "provider_sent": false})
	lib.provider_sent with input as with_labels("knmg", {"provider_sent": false})
}

test_sender_secrecy_holder_per_profile if {
	every p in profiles {
		lib.sender_secrecy_holder with input as with_labels(p, {"source_secrecy": "wettelijk"})
		not lib.sender_secrecy_holder with input as with_labels(p, {"source_secrecy": "geen"})
	}
	lib.sender_secrecy_holder with input as with_labels("knmg", {"source_secrecy": "beroepscode"})
	not lib.sender_secrecy_holder with input as with_labels("wetsvoorstel", {"source_secrecy": "beroepscode"})

	# Old labels without source_secrecy: a holder's, except lid 1 while a code is not statutory.
	lib.sender_secrecy_holder with input as with_labels("knmg", {"grondslag": "lid1"})
	not lib.sender_secrecy_holder with input as with_labels("wetsvoorstel", {"grondslag": "lid1"})
	lib.sender_secrecy_holder with input as with_labels("wetsvoorstel", {"grondslag": "toestemming"})
}

test_effective_category if {
	holder := {"source_role": "aanbieder", "source_controlling_org": false, "source_secrecy": "wettelijk"}
	algemeen := mk("knmg", {"resource": {"properties": {"category": "algemeen", "labels": holder}}})
	lib.geheimhouder_data with input as algemeen
	lib.effective_category == "medisch" with input as algemeen
	lib.effective_category == "algemeen" with input as object.union(algemeen, {"context": {"profile": "wetsvoorstel"}})
	lib.effective_category == "wvggz_wzd" with input as object.union(algemeen, {"resource": {"properties": {"category": "wvggz_wzd"}}})
	lib.effective_category == null with input as object.union(algemeen, {"resource": {"properties": {"category": null}}})

	# The college's own data is not a secrecy holder's, whatever the writer's secrecy.
	own := object.union(holder, {"source_role": "medisch_adviseur", "source_controlling_org": true})
	lib.effective_category == "algemeen" with input as object.union(algemeen, {"resource": {"properties": {"labels": own}}})
	lib.effective_category == "algemeen" with input as base
}

test_consent_withdrawn_and_fg if {
	lib.consent_withdrawn with input as with_labels("knmg", {"toestemming_ingetrokken": true})
	not lib.consent_withdrawn with input as with_labels("knmg", {"toestemming_ingetrokken": false})
	not lib.consent_withdrawn with input as with_labels("knmg", {"grondslag": "toestemming"})
	fg := mk("knmg", {"subject": {"properties": {"role": "fg"}}, "context": {"purpose": "verantwoording"}})
	lib.fg_verantwoording with input as fg
	not lib.fg_verantwoording with input as object.union(fg, {"subject": {"properties": {"controlling_org": false}}})
	not lib.fg_verantwoording with input as object.union(fg, {"context": {"purpose": "gecoordineerde_aanpak"}})
}

herk(h) := mk("knmg", {"context": {"herkomst": h}})

test_betrokkene_indicated if {
	lib.betrokkene_indicated with input as herk({"grondslag": "toestemming", "betrokkene": true})
	lib.betrokkene_indicated with input as herk({"grondslag": "toestemming", "betrokkene_present": true})
	not lib.betrokkene_indicated with input as herk({"grondslag": "toestemming", "betrokkene": false})
	not lib.betrokkene_indicated with input as herk({"grondslag": "toestemming"})
	not lib.betrokkene_indicated with input as herk({"grondslag": "toestemming", "betrokkene": "999999990"})
}

test_records_resource_positive if {
	lib.on_records with input as mk("knmg", {"resource": {"type": "records"}})
	not lib.on_records with input as base
	not lib.on_records with input as json.remove(base, ["resource/type"])
	lib.onward with input as json.remove(mk("knmg", {"subject": {"properties": {"controlling_org": false}}}), ["resource/type"])
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

test_purpose_only_for_the_request_phase_of_reads_updates_and_deletes if {
	req := {"action": {"properties": {"phase": "request"}}, "resource": {"properties": {"category": null}}}
	every action in ["read", "list", "download", "update", "delete"] {
		lib.purpose_only with input as mk("knmg", object.union(req, {"action": {"name": action}}))
	}

	# A create is decided on its body's type at once; a known category is never purpose-only.
	not lib.purpose_only with input as mk("knmg", object.union(req, {"action": {"name": "create"}}))
	not lib.purpose_only with input as mk("knmg", object.union(req, {"action": {"name": "update"}, "resource": {"properties": {"category": "algemeen"}}}))
}
