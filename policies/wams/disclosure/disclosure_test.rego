# METADATA
# title: Tests for wams.disclosure
# description: >-
#   O1-O4 under both profiles: every provider's data is sent in by a provider, O2 under
#   wetsvoorstel serves ZVH handovers only, a secrecy holder's algemeen data counts as medisch.
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
	"source_controlling_org": false, "source_secrecy": "geen", "purpose": "zvh_overdracht",
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

# Labels of data written with X-Herkomst by the given role; no secrecy, no conditions.
sent_by(role, controlling) := {
	"grondslag": "lid1", "voorwaarden": [], "provider_sent": role == "aanbieder", "review_by_fg": false,
	"source_role": role, "source_org": "org-x", "source_controlling_org": controlling, "source_secrecy": "geen",
}

test_o1_every_providers_data if {
	# knmg: whatever the writer's role, unless it is a college role of a controlling organisation.
	every labels in [
		sent_by("burgemeester_wvggz", true),
		sent_by("casusoverleg_deelnemer", false),
		sent_by("aanbieder", false),
		sent_by("consulent", false),
		object.remove(sent_by("consulent", true), ["source_controlling_org"]),
		object.remove(sent_by("burgemeester_wvggz", true), ["source_controlling_org"]),
	] {
		disclosure.deny == {"O1"} with input as zvh("knmg", "algemeen", labels)
		disclosure.allow == {"O3"} with input as zvh("wetsvoorstel", "algemeen", labels)
	}

	# The college's own data, written with X-Herkomst, is not sent in by a provider.
	every p in lib_test.profiles {
		disclosure.allow == {"O3"} with input as zvh(p, "algemeen", sent_by("consulent", true))
		count(disclosure.deny) == 0 with input as zvh(p, "algemeen", sent_by("coordinator", true))
	}
}

test_o2_wetsvoorstel_for_zvh_handovers_only if {
	# A ZVH handover gets it (recipient recorded); a ZVH employee acting for another purpose,
	# or another recipient outside the controlling organisations, gets no grant from O2.
	disclosure.allow == {"O2"} with input as zvh("wetsvoorstel", "wvggz_wzd", null)
	other_doel := object.union(zvh("wetsvoorstel", "medisch", null), {"context": {"purpose": "casusoverleg"}})
	count(disclosure.allow) == 0 with input as other_doel
	count(disclosure.deny) == 0 with input as other_doel
}

holder := object.union(sent_by("aanbieder", false), {"source_secrecy": "wettelijk", "provider_sent": true})

test_secrecy_holders_algemeen_is_medisch_onward if {
	# knmg: not passed on (O1 for provider data, O2 as medisch).
	disclosure.deny == {"O1", "O2"} with input as zvh("knmg", "algemeen", holder)

	# wetsvoorstel: the switch is off, O3.
	disclosure.allow == {"O3"} with input as zvh("wetsvoorstel", "algemeen", holder)

	# The switch alone: it goes as medisch (O2, recipient recorded), not as algemeen (O3).
	geheim := object.union(data.profiles.wetsvoorstel, {"geheimhouder_data_medisch": true})
	disclosure.allow == {"O2"} with input as zvh("custom", "algemeen", holder) with data.profiles.custom as geheim
	consent := object.union(holder, {"grondslag": "toestemming", "toestemming": "TS-5"})
	disclosure.allow == {"O4"} with input as zvh("custom", "algemeen", consent) with data.profiles.custom as geheim
}
