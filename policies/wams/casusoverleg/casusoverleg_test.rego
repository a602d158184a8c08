# METADATA
# title: Tests for wams.casusoverleg
# description: C1-C2 under both profiles.
package wams.casusoverleg_test

import data.wams.casusoverleg
import data.wams.lib_test

deelnemer(p, category) := lib_test.mk(p, {
	"subject": {"properties": {"role": "casusoverleg_deelnemer", "org": "wijkteam-noord", "controlling_org": false}},
	"resource": {"properties": {"category": category}},
	"context": {"purpose": "casusoverleg"},
})

test_c1_participant_reads_algemeen if {
	recipient := {{"type": "record_recipient", "recipient": "wijkteam-noord"}}
	every p in lib_test.profiles {
		casusoverleg.allow == {"C1"} with input as deelnemer(p, "algemeen")
		casusoverleg.obligations == recipient with input as deelnemer(p, "algemeen")
	}
}

test_c1_participant_other_category_denied if {
	every p in lib_test.profiles {
		casusoverleg.deny == {"C1"} with input as deelnemer(p, "medisch")
		count(casusoverleg.allow) == 0 with input as deelnemer(p, "medisch")
	}
}

share(p, secrecy, doel) := lib_test.mk(p, {
	"subject": {"properties": {"role": "aanbieder", "secrecy": secrecy, "controlling_org": false}},
	"action": {"name": "create", "properties": {"method": "POST", "phase": "request"}},
	"resource": {"id": null, "properties": {"category": "medisch"}},
	"context": {"purpose": doel, "herkomst": {"grondslag": "toestemming", "toestemming": "TS-9"}},
})

test_c2_secrecy_holder_shares_in_casusoverleg if {
	every p in lib_test.profiles {
		casusoverleg.notes == {"C2"} with input as share(p, "wettelijk", "casusoverleg")
	}
	casusoverleg.notes == {"C2"} with input as share("knmg", "beroepscode", "casusoverleg")
	count(casusoverleg.notes) == 0 with input as share("wetsvoorstel", "beroepscode", "casusoverleg")
}

test_c2_not_outside_casusoverleg if {
	every p in lib_test.profiles {
		count(casusoverleg.notes) == 0 with input as share(p, "wettelijk", "onderzoek_hulpvraag")
		count(casusoverleg.notes) == 0 with input as share(p, "geen", "casusoverleg")
	}
}

test_c1_secrecy_holders_algemeen_is_not_algemeen if {
	holder := {
		"grondslag": "lid2", "voorwaarden": [], "provider_sent": true, "source_role": "aanbieder",
		"source_org": "huisarts-de-linde", "source_controlling_org": false, "source_secrecy": "wettelijk",
	}
	labelled := {"resource": {"properties": {"labels": holder}}}
	casusoverleg.deny == {"C1"} with input as object.union(deelnemer("knmg", "algemeen"), labelled)
	casusoverleg.allow == {"C1"} with input as object.union(deelnemer("wetsvoorstel", "algemeen"), labelled)
}
