# Tests of the package skips in wams.authz. wams.authz skips a package (or a guarded rule)
# when a cheap condition on the input shows that none of its rules can fire. These tests
# check, on the fixture cases and variants of them, that what authz skips has indeed no
# outcome, so that a rule added later cannot be hidden by a skip.
package wams.authz_test

import data.wams.authz
import data.wams.casusoverleg
import data.wams.coordination
import data.wams.disclosure
import data.wams.ingest
import data.wams.lib
import data.wams.lib_test
import data.wams.purpose
import data.wams.records

# METADATA
# scope: document
# title: Skip violations
# description: The packages (or guarded rules) that authz skips for the input but that have an outcome.
skip_violations contains "ingest" if {
	not input.action.name == "create"
	count(ingest.allow | ingest.deny) + count(ingest.obligations) > 0
}

skip_violations contains "coordination deny" if {
	not input.resource.type == "rol"
	not input.resource.properties.category == "coordinatiedossier"
	count(coordination.deny) > 0
}

skip_violations contains "coordination allow or notes" if {
	not input.resource.type == "rol"
	count(coordination.allow | coordination.notes) > 0
}

skip_violations contains "casusoverleg" if {
	not input.context.purpose == "casusoverleg"
	count(((casusoverleg.allow | casusoverleg.deny) | casusoverleg.notes)) + count(casusoverleg.obligations) > 0
}

skip_violations contains "records" if {
	not input.resource.type == "records"
	count(records.allow | records.deny) + count(records.obligations) > 0
}

skip_violations contains "disclosure" if {
	not disclosure.onward
	count(disclosure.allow | disclosure.deny) + count(disclosure.obligations) > 0
}

skip_violations contains "purpose notes or obligations" if {
	not input.context.purpose == "onderzoek_zonder_hulpvraag"
	count(purpose.notes) + count(purpose.obligations) > 0
}

skip_violations contains "data subject access" if {
	not input.resource.type == "records"
	lib.data_subject_access
}

# METADATA
# title: Varied case inputs
# description: >-
#   Every fixture case input under its profile, as it is and with each patch: each patch turns
#   off the condition of one skip, so that a rule that fires without it would show.
varied_inputs contains object.union(inp, patch) if {
	some c in data.testdata.cases
	inp := object.union(c.input, {"context": {"profile": c.profile}})
	some patch in [
		{},
		{"action": {"name": "read"}},
		{"action": {"name": "update"}},
		{"resource": {"type": "zaak"}},
		{"context": {"purpose": "onderzoek_hulpvraag"}},
		{"subject": {"properties": {"controlling_org": true}}},
	]
}

test_skipped_packages_have_no_outcome if {
	count(varied_inputs) > 400
	failures := {[inp, violations] |
		some inp in varied_inputs
		violations := skip_violations with input as inp
		count(violations) > 0
	}
	count(failures) == 0
}

test_each_skip_is_checked if {
	# A rule that fired while authz skips its package would be hidden: each check sees it.
	# lib_test.base is a read of algemeen data inside the controlling organisation.
	inp := lib_test.base
	"ingest" in skip_violations with input as inp with ingest.deny as {"I5"}
	"coordination deny" in skip_violations with input as inp with coordination.deny as {"K3"}
	"coordination allow or notes" in skip_violations with input as inp with coordination.allow as {"K1"}
	"casusoverleg" in skip_violations with input as inp with casusoverleg.deny as {"C1"}
	"records" in skip_violations with input as inp with records.deny as {"L1"}
	"disclosure" in skip_violations with input as inp with disclosure.deny as {"O1"}
	"purpose notes or obligations" in skip_violations with input as inp with purpose.notes as {"P3"}
	"data subject access" in skip_violations with input as inp with lib.data_subject_access as true
}

test_every_deny_reason_has_a_text if {
	failures := {[c.name, res.deny_reason] |
		some c in data.testdata.cases
		res := authz.decision with input as object.union(c.input, {"context": {"profile": c.profile}})
		res.deny_reason != null
		res.reason_user == "Geen regel staat deze verwerking toe."
	}
	count(failures) == 0
}
