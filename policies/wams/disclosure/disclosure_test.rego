# METADATA
# title: Tests for wams.disclosure
# description: O1-O4 under both profiles.
package wams.disclosure_test

import data.wams.disclosure
import data.wams.lib_test

zvh(p, category, labels) := lib_test.mk(p, {
	"subject": {"properties": {"role": "zvh_medewerker", "org": "zvh-midden", "controlling_org": false}},
	"resource": {"properties": {"category": category, "labels": labels}},
	"context": {"purpose": "zvh_overdracht"},
})

recipient := {{"type": "record_recipient", "recipient": "zvh-midden"}}

consent_labels := {
	"grondslag": "toestemming", "toestemming": "TS-2026-0042", "voorwaarden": [],
	"provider_sent": true, "review_by_fg": false, "source_role": "aanbieder", "source_org": "huisarts-de-linde",
}

test_o1_label_geen_verdere_verstrekking if {
	labels := object.union(consent_labels, {"voorwaarden": ["geen_verdere_verstrekking"]})
	every p in lib_test.profiles {
		"O1" in disclosure.deny with input as zvh(p, "algemeen", labels)
		"O1" in disclosure.deny with input as zvh(p, "medisch", labels)
		count(disclosure.allow & {"O2", "O4"}) == 0 with input as zvh(p, "medisch", labels)
	}
}

test_o1_provider_sent_by_default if {
	labels := object.union(consent_labels, {"grondslag": "lid1"})
	disclosure.deny == {"O1"} with input as zvh("knmg", "algemeen", labels)
	count(disclosure.deny) == 0 with input as zvh("wetsvoorstel", "algemeen", labels)
	disclosure.allow == {"O3"} with input as zvh("wetsvoorstel", "algemeen", labels)
}

test_o2_unlabelled_sensitive if {
	disclosure.allow == {"O2"} with input as zvh("wetsvoorstel", "medisch", null)
	disclosure.obligations == recipient with input as zvh("wetsvoorstel", "medisch", null)
	disclosure.allow == {"O2"} with input as zvh("wetsvoorstel", "wvggz_wzd", null)
	disclosure.deny == {"O2"} with input as zvh("knmg", "medisch", null)
	count(disclosure.obligations) == 0 with input as zvh("knmg", "medisch", null)
}

test_o2_onbekend_denied_in_every_profile if {
	every p in lib_test.profiles {
		disclosure.deny == {"O2"} with input as zvh(p, "onbekend", null)
		count(disclosure.allow) == 0 with input as zvh(p, "onbekend", null)
	}
}

test_o2_not_granted_to_other_roles if {
	inp := object.union(zvh("wetsvoorstel", "medisch", null), {
		"subject": {"properties": {"role": "casusoverleg_deelnemer"}},
		"context": {"purpose": "casusoverleg"},
	})
	count(disclosure.allow) == 0 with input as inp
}

test_o3_zvh_algemeen if {
	every p in lib_test.profiles {
		disclosure.allow == {"O3"} with input as zvh(p, "algemeen", null)
		disclosure.obligations == recipient with input as zvh(p, "algemeen", null)
	}
}

test_o3_needs_recipient_org if {
	inp := object.union(zvh("knmg", "algemeen", null), {"subject": {"properties": {"org": null}}})
	count(disclosure.allow) == 0 with input as inp
}

test_o4_provider_consent_no_conditions if {
	disclosure.allow == {"O4"} with input as zvh("wetsvoorstel", "medisch", consent_labels)
	disclosure.obligations == recipient with input as zvh("wetsvoorstel", "medisch", consent_labels)
	disclosure.deny == {"O1", "O4"} with input as zvh("knmg", "medisch", consent_labels)
}

test_no_disclosure_rules_inside_org if {
	inside := object.union(zvh("knmg", "medisch", null), {"subject": {"properties": {"controlling_org": true}}})
	count(disclosure.deny) == 0 with input as inside
	count(disclosure.allow) == 0 with input as inside
}
