# Table-driven decision cases: runs every case of policies/testdata/cases/data.json
# (data.testdata.cases) through data.wams.authz.decision with its profile and names each
# failing case. The Python integration tests reuse the same fixture.
package wams.authz_test

import data.wams.authz

# METADATA
# title: Exact-compare keys
# description: Keys of expect compared for equality with the result when present.
exact_keys := ["decision", "reasons", "reason_user", "obligations", "grondslag", "processing_activity"]

# METADATA
# title: Case problems
# description: The problems found comparing the decision res with case c's expect; empty when it passes.
case_problems(c, res) := union({
	{sprintf("%s: want %v, got %v", [k, c.expect[k], res[k]]) |
		some k in exact_keys
		k in object.keys(c.expect)
		c.expect[k] != res[k]
	},
	{sprintf("reason %s missing from %v", [r, res.reasons]) |
		some r in object.get(c.expect, "reasons_include", [])
		not r in res.reasons
	},
	{sprintf("reason %s present in %v", [r, res.reasons]) |
		some r in object.get(c.expect, "reasons_exclude", [])
		r in res.reasons
	},
	{sprintf("obligation %v missing from %v", [o, res.obligations]) |
		some o in object.get(c.expect, "obligations_include", [])
		not o in res.obligations
	},
})

test_fixture_has_cases if {
	count(data.testdata.cases) >= 58
}

test_every_case if {
	failures := {c.name: problems |
		some c in data.testdata.cases
		res := authz.decision with input as object.union(c.input, {"context": {"profile": c.profile}})
		problems := case_problems(c, res)
		count(problems) > 0
	}
	print("failing cases:", failures)
	count(failures) == 0
}

test_every_rule_has_a_case_per_profile if {
	ids := {
		"P1", "P2", "P3", "I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8", "I9", "I10", "R1", "R2", "R3",
		"R4", "R5", "W1", "O1", "O2", "O3", "O4", "C1", "C2", "K1", "K2", "K3", "L1", "L2",
		"N1", "N2", "N3", "N4", "B2", "B3", "L3",
	}
	every p in ["knmg", "wetsvoorstel"] {
		covered := {r | some c in data.testdata.cases; c.profile == p; some r in c.expect.reasons_include}
		ids - covered == set()
	}
}
