# Omission tests (fail closed on a missing input key). No rule may be switched off by leaving
# a key out of the input: for every fixture case (policies/testdata/cases) that is denied and
# every optional key, the case with that key removed must not be allowed. The K rules were the
# reason (a `!= true` on a missing context key is undefined, so K1 and K3 did not fire); the
# check covers every rule. One test per key keeps each within opa test's time limit under
# --coverage. Part of package wams.coordination_test (its package METADATA is in
# coordination_test.rego).
package wams.coordination_test

import data.wams.authz
import data.wams.lib

# METADATA
# title: Denied fixture inputs
# description: >-
#   Every fixture case input (with its profile) whose expected decision is a deny; cases_test
#   checks that authz decides each case as expected.
denied_inputs contains inp if {
	some c in data.testdata.cases
	c.expect.decision == false
	inp := object.union(c.input, {"context": {"profile": c.profile}})
}

# METADATA
# title: Allowed
# description: >-
#   authz allows inp (authz.allowed, the rule decision.decision is built from: evaluating it
#   alone keeps the variants fast).
allowed(inp) if authz.allowed with input as inp

# METADATA
# title: Inputs that have a key
# description: The denied inputs that hold the key at the json.remove path (its value may be null).
holders(path) := {inp |
	some inp in denied_inputs
	has_key(inp, split(path, "/"))
}

# METADATA
# title: Has key
# description: The object at all but the last of parts holds the last part as a key.
has_key(inp, parts) if {
	parent := object.get(inp, array.slice(parts, 0, count(parts) - 1), null)
	is_object(parent)
	parts[count(parts) - 1] in object.keys(parent)
}

# METADATA
# title: Omission flips
# description: The denied inputs that are allowed once the key at path is removed.
flips(path) := {inp |
	some inp in holders(path)
	allowed(json.remove(inp, [path]))
}

# METADATA
# title: Checked key
# description: >-
#   No flip for the key at path, and at least min denied cases hold the key (so the check is
#   not vacuous).
no_flip(path, min) if {
	count(holders(path)) >= min
	count(flips(path)) == 0
}

test_missing_client_agreement if no_flip("context/client_agreement", 60)

test_missing_coordinator_willing if no_flip("context/coordinator_willing", 60)

test_missing_coordinator_is_treating_provider if no_flip("context/coordinator_is_treating_provider", 60)

test_missing_coordinator_appointment if no_flip("context/coordinator_appointment", 2)

test_missing_retention_configured if no_flip("context/retention_configured", 60)

test_missing_herkomst if no_flip("context/herkomst", 60)

test_missing_purpose if no_flip("context/purpose", 60)

test_missing_labels if no_flip("resource/properties/labels", 60)

test_missing_controlling_org if no_flip("subject/properties/controlling_org", 60)

test_missing_relation if no_flip("resource/properties/relation", 20)

# METADATA
# title: Sub-keys
# description: >-
#   The X-Herkomst keys, and the label keys whose absence must not loosen anything: the
#   sender facts (provider_sent, source_*) and the purpose of a consent. Left out on purpose:
#   voorwaarden, grondslag and toestemming_ingetrokken state what the stored data carries (the
#   sidecar writes voorwaarden and grondslag on every label; toestemming_ingetrokken is absent
#   on every label whose consent was never withdrawn), so their absence is a statement, not a gap.
sub_keys := {
	"context/herkomst": {
		"grondslag", "toestemming", "lid2", "cvp", "motivering", "voorwaarden", "betrokkene",
		"betrokkene_present",
	},
	"resource/properties/labels": {
		"provider_sent", "source_role", "source_org", "source_controlling_org", "source_secrecy",
		"purpose", "review_by_fg", "toestemming",
	},
}

test_missing_herkomst_keys if {
	checked := {p | some k in sub_keys["context/herkomst"]; p := concat("/", ["context/herkomst", k]); count(holders(p)) > 0}
	count(checked) >= 5
	every p in checked {
		no_flip(p, 1)
	}
}

test_missing_label_keys if {
	checked := {p | some k in sub_keys["resource/properties/labels"]; p := concat("/", ["resource/properties/labels", k]); count(holders(p)) > 0}
	count(checked) >= 6
	every p in checked {
		no_flip(p, 1)
	}
}

test_the_check_finds_a_flip if {
	# Without the fail-closed reading of a missing labels key, removing the labels of a case
	# denied for its labels (O1, R2, I10) would allow it: the check must see that.
	count(flips("resource/properties/labels")) == 0
	count(flips("resource/properties/labels")) > 0 with lib.labels_unknown as false
}
