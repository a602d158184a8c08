# METADATA
# title: Tests for wams.review
# description: >-
#   B1-B3 and L3 under both profiles: who uses break-glass data before the review, after
#   approval and after rejection; the fg's reads and review decisions; fail closed on missing
#   labels; and the whole decision through wams.authz.
package wams.review_test

import data.wams.authz
import data.wams.lib_test
import data.wams.review

# METADATA
# title: Break-glass labels
# description: The labels of a conflict-of-duties ingest with the given review status.
labels(status) := {
	"grondslag": "conflict_van_plichten", "voorwaarden": ["geen_verdere_verstrekking"],
	"provider_sent": true, "review_by_fg": true, "source_role": "aanbieder", "source_org": "huisarts",
	"source_controlling_org": false, "source_secrecy": "geen", "purpose": "onderzoek_hulpvraag",
	"cvp": ["toestemming_gevraagd"], "motivering": "gevaar", "review_status": status,
}

# METADATA
# title: Make an input
# description: >-
#   A use of an algemeen break-glass document with the given review status by role (with a
#   relation of the given kinds), for purpose.
use(p, role, action, status, kinds, purpose) := lib_test.mk(p, {
	"subject": {"properties": {"role": role, "controlling_org": true}},
	"action": {"name": action},
	"resource": {"properties": {
		"labels": labels(status),
		"relation": {"kinds": kinds, "zaken": ["9b7c1c1e-0d9e-4b43-9a8e-4a5f2f0c0a11"], "writer": false},
	}},
	"context": {"purpose": purpose},
})

# METADATA
# title: Review action
# description: A review action (update of resource type review) by role for purpose on data with the given status.
review_action(p, role, purpose, status) := lib_test.mk(p, {
	"subject": {"properties": {"role": role, "controlling_org": true}},
	"action": {"name": "update", "properties": {"method": "POST", "phase": "request"}},
	"resource": {"type": "review", "id": "item-1", "properties": {"category": null, "labels": labels(status), "relation": null}},
	"context": {"purpose": purpose},
})

test_b1_knmg_only_the_related_medical_adviser_before_review if {
	review.deny == {"B1"} with input as use("knmg", "consulent", "read", "open", ["behandelaar"], "onderzoek_hulpvraag")
	review.deny == {"B1"} with input as use("knmg", "consulent", "update", "open", ["behandelaar"], "onderzoek_hulpvraag")
	review.deny == {"B1"} with input as use("knmg", "medisch_adviseur", "read", "open", [], "onderzoek_hulpvraag")
	count(review.deny) == 0 with input as use("knmg", "medisch_adviseur", "read", "open", ["medisch_adviseur"], "onderzoek_hulpvraag")
	authz.decision.decision with input as use("knmg", "medisch_adviseur", "read", "open", ["medisch_adviseur"], "onderzoek_hulpvraag")
	not authz.decision.decision with input as use("knmg", "consulent", "read", "open", ["behandelaar"], "onderzoek_hulpvraag")
	authz.decision.deny_reason == "B1" with input as use("knmg", "consulent", "read", "open", ["behandelaar"], "onderzoek_hulpvraag")
}

test_b1_relation_kinds_must_be_strings if {
	review.deny == {"B1"} with input as use("knmg", "medisch_adviseur", "read", "open", [7], "onderzoek_hulpvraag")
	missing := json.remove(use("knmg", "medisch_adviseur", "read", "open", [], "onderzoek_hulpvraag"), ["resource/properties/relation"])
	review.deny == {"B1"} with input as missing
}

test_b1_wetsvoorstel_follows_the_ordinary_rules if {
	count(review.deny) == 0 with input as use("wetsvoorstel", "consulent", "read", "open", ["behandelaar"], "onderzoek_hulpvraag")
	authz.decision.decision with input as use("wetsvoorstel", "consulent", "read", "open", ["behandelaar"], "onderzoek_hulpvraag")
}

test_b1_not_in_the_purpose_only_request_phase if {
	request := object.union(
		use("knmg", "consulent", "read", "open", [], "onderzoek_hulpvraag"),
		{"action": {"properties": {"phase": "request"}}, "resource": {"properties": {"category": null, "relation": null}}},
	)
	count(review.deny) == 0 with input as request
}

test_approved_follows_the_ordinary_rules if {
	every p in lib_test.profiles {
		count(review.deny) == 0 with input as use(p, "consulent", "read", "approved", ["behandelaar"], "onderzoek_hulpvraag")
		authz.decision.decision with input as use(p, "consulent", "read", "approved", ["behandelaar"], "onderzoek_hulpvraag")
	}
}

test_b2_rejected_nobody_but_the_fg if {
	every p in lib_test.profiles {
		every role in ["consulent", "medisch_adviseur", "coordinator"] {
			review.deny == {"B2"} with input as use(p, role, "read", "rejected", ["medisch_adviseur"], "onderzoek_hulpvraag")
			review.deny == {"B2"} with input as use(p, role, "delete", "rejected", ["medisch_adviseur"], "onderzoek_hulpvraag")
		}
		review.allow == {"L3"} with input as use(p, "fg", "read", "rejected", [], "verantwoording")
		review.deny == {"B2"} with input as use(p, "fg", "update", "rejected", [], "verantwoording")
	}
}

test_l3_fg_reads_data_under_review if {
	every p in lib_test.profiles {
		every status in ["open", "rejected"] {
			inp := use(p, "fg", "read", status, [], "verantwoording")
			review.allow == {"L3"} with input as inp
			count(review.deny) == 0 with input as inp
			authz.decision.decision with input as inp
			{"type": "record_processing", "processing_activity": "urn:wams:verwerking:verantwoording"} in authz.decision.obligations with input as inp
		}
		count(review.allow) == 0 with input as use(p, "fg", "read", "approved", [], "verantwoording")
		other := object.union(use(p, "fg", "read", "open", [], "verantwoording"), {"subject": {"properties": {"controlling_org": false}}})
		count(review.allow) == 0 with input as other
	}
}

test_b3_only_the_fg_decides_an_open_review if {
	every p in lib_test.profiles {
		inp := review_action(p, "fg", "verantwoording", "open")
		review.allow == {"B3"} with input as inp
		authz.decision.decision with input as inp
		authz.decision.reasons == ["B3"] with input as inp
		review.deny == {"B3"} with input as review_action(p, "consulent", "onderzoek_hulpvraag", "open")
		review.deny == {"B3"} with input as review_action(p, "fg", "verantwoording", "approved")
		not authz.decision.decision with input as review_action(p, "fg", "verantwoording", "rejected")
		other := object.union(review_action(p, "fg", "verantwoording", "open"), {"subject": {"properties": {"controlling_org": false}}})
		review.deny == {"B3"} with input as other
		read := object.union(inp, {"action": {"name": "read"}})
		review.deny == {"B3"} with input as read
		no_labels := object.union(inp, {"resource": {"properties": {"labels": null}}})
		review.deny == {"B3"} with input as no_labels
	}
}

test_missing_labels_count_as_rejected if {
	every p in lib_test.profiles {
		inp := json.remove(use(p, "consulent", "update", "open", ["behandelaar"], "onderzoek_hulpvraag"), ["resource/properties/labels"])
		review.deny == {"B2"} with input as inp
		not authz.decision.decision with input as inp
	}
}

test_never_reviewed_data_is_not_touched if {
	every p in lib_test.profiles {
		count(review.deny) == 0 with input as lib_test.mk(p, {})
		count(review.allow) == 0 with input as lib_test.mk(p, {})
		create := object.union(use(p, "consulent", "create", "open", [], "onderzoek_hulpvraag"), {"resource": {"properties": {"labels": null}}})
		count(review.deny) == 0 with input as create
	}
}

test_b1_has_a_fixture_case_in_knmg if {
	# B1 denies only under knmg (wetsvoorstel: the ordinary rules); the other ids are checked per
	# profile in authz's cases_test.
	some c in data.testdata.cases
	c.profile == "knmg"
	"B1" in c.expect.reasons_include
}
