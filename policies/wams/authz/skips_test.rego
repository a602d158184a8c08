# Tests of the package skips in wams.authz. wams.authz skips a package (or a guarded rule)
# when a cheap condition on the input shows that none of its rules can fire. These tests
# check, on the fixture cases and variants of them, that nothing a package decides is lost
# by a skip, so that a rule added later cannot be hidden by one.
package wams.authz_test

import data.wams.authz
import data.wams.casusoverleg
import data.wams.coordination
import data.wams.disclosure
import data.wams.ingest
import data.wams.lib
import data.wams.lib_test
import data.wams.purpose
import data.wams.read
import data.wams.records

# METADATA
# title: Combined packages
# description: >-
#   The packages whose outcomes wams.authz combines. Written out here rather than taken from
#   authz, so that a package authz forgets to ask is found too; a new package goes here.
combined := {"purpose", "read", "ingest", "coordination", "casusoverleg", "records", "disclosure", "relations", "review"}

# METADATA
# scope: document
# title: Hidden outcomes
# description: >-
#   What a package decided for the input but wams.authz leaves out, as [package, kind, value]:
#   a deny missing from authz.denies, an allow from authz.grants, a note from
#   authz.fired_notes, an obligation from authz.fired_obligations, or a deny without its text.
#   authz asks a package only when its condition in authz.consulted holds; a rule that fires
#   anyway shows up here. No condition is restated: the check is that nothing any package
#   produces is lost.
hidden contains [pkg, "deny", id] if {
	some pkg in combined
	some id in data.wams[pkg].deny
	not id in authz.denies
}

hidden contains [pkg, "allow", id] if {
	some pkg in combined
	some id in data.wams[pkg].allow
	not id in authz.grants
}

hidden contains [pkg, "notes", id] if {
	some pkg in combined
	some id in data.wams[pkg].notes
	not id in authz.fired_notes
}

hidden contains [pkg, "obligations", o] if {
	some pkg in combined
	some o in data.wams[pkg].obligations
	not o in authz.fired_obligations
}

hidden contains ["authz", "deny text", id] if {
	some id in authz.denies
	not authz.deny_texts[id]
}

# processing_activity tests for the records resource before lib.data_subject_access.
hidden contains ["lib", "data subject access", true] if {
	not input.resource.type == "records"
	lib.data_subject_access
}

# METADATA
# title: Hidden outcomes of the fixture cases
# description: >-
#   [case name, hidden outcomes] for every fixture case, under its profile and with patch
#   applied, that loses something a package decided. Each test below applies one patch that
#   turns off one of the conditions in authz.consulted, so that a rule that fires without it
#   shows; one test per patch keeps each within opa test's time limit as the cases grow.
hidden_in_cases(patch) := {[c.name, found] |
	some c in data.testdata.cases
	inp := object.union(object.union(c.input, {"context": {"profile": c.profile}}), patch)
	found := hidden with input as inp
	count(found) > 0
}

test_nothing_a_package_decides_is_hidden if {
	count(data.testdata.cases) > 50
	count(hidden_in_cases({})) == 0
}

test_nothing_hidden_when_read if count(hidden_in_cases({"action": {"name": "read"}})) == 0

test_nothing_hidden_when_updated if count(hidden_in_cases({"action": {"name": "update"}})) == 0

test_nothing_hidden_on_a_zaak if count(hidden_in_cases({"resource": {"type": "zaak"}})) == 0

test_nothing_hidden_in_algemeen if count(hidden_in_cases({"resource": {"properties": {"category": "algemeen"}}})) == 0

test_nothing_hidden_for_another_purpose if count(hidden_in_cases({"context": {"purpose": "onderzoek_hulpvraag"}})) == 0

test_nothing_hidden_inside_the_organisation if {
	count(hidden_in_cases({"subject": {"properties": {"controlling_org": true}}})) == 0
}

test_a_hidden_outcome_is_found if {
	# Each check sees a lost outcome: a rule that fires while authz skips its package, or (for
	# the packages authz never skips) a decision that leaves it out.
	# lib_test.base is a read of algemeen data inside the controlling organisation.
	inp := lib_test.base
	count(hidden) == 0 with input as inp
	["purpose", "deny", "P1"] in hidden with input as inp with purpose.deny as {"P1"} with authz.denies as set()
	["purpose", "notes", "P3"] in hidden with input as inp with purpose.notes as {"P3"}
	ob := {"type": "review_by_fg"}
	["purpose", "obligations", ob] in hidden with input as inp with purpose.obligations as {ob}
	["read", "deny", "R2"] in hidden with input as inp with read.deny as {"R2"} with authz.denies as set()
	["read", "allow", "R1"] in hidden with input as inp with authz.grants as set()
	["ingest", "deny", "I5"] in hidden with input as inp with ingest.deny as {"I5"}
	["ingest", "allow", "I2"] in hidden with input as inp with ingest.allow as {"I2"}
	["ingest", "obligations", ob] in hidden with input as inp with ingest.obligations as {ob}
	["coordination", "deny", "K3"] in hidden with input as inp with coordination.deny as {"K3"}
	["coordination", "allow", "K1"] in hidden with input as inp with coordination.allow as {"K1"}
	["coordination", "notes", "K2"] in hidden with input as inp with coordination.notes as {"K2"}
	["casusoverleg", "deny", "C3"] in hidden with input as inp with casusoverleg.deny as {"C3"}
	["casusoverleg", "allow", "C1"] in hidden with input as inp with casusoverleg.allow as {"C1"}
	["casusoverleg", "notes", "C2"] in hidden with input as inp with casusoverleg.notes as {"C2"}
	["casusoverleg", "obligations", ob] in hidden with input as inp with casusoverleg.obligations as {ob}
	["records", "deny", "L1"] in hidden with input as inp with records.deny as {"L1"}
	["records", "allow", "L2"] in hidden with input as inp with records.allow as {"L2"}
	["records", "obligations", ob] in hidden with input as inp with records.obligations as {ob}
	["disclosure", "deny", "O1"] in hidden with input as inp with disclosure.deny as {"O1"}
	["disclosure", "allow", "O3"] in hidden with input as inp with disclosure.allow as {"O3"}
	["disclosure", "obligations", ob] in hidden with input as inp with disclosure.obligations as {ob}
	["authz", "deny text", "R2"] in hidden with input as inp with authz.denies as {"R2"} with authz.deny_texts as {}
	["lib", "data subject access", true] in hidden with input as inp with lib.data_subject_access as true
}

test_every_skipped_package_is_checked if {
	# With real rules instead of mocks: when authz consults no package at all, the fixture
	# cases show a lost outcome of every package authz may skip (purpose only through P3's
	# note and obligation; read is never skipped).
	lost := {pkg |
		some c in data.testdata.cases
		inp := object.union(c.input, {"context": {"profile": c.profile}})
		some [pkg, _, _] in hidden with input as inp with authz.consulted as set()
	}
	lost == combined - {"read"}
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
