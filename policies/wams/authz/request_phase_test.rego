# The request phase of a read (or update/delete) reads nothing but who asks, why, and what kind of thing.
#   The sidecar decides the request phase of a read (before anything is forwarded) once per
#   subject attributes, purpose, route, action and policy revision, and reuses that decision. That
#   is sound only if the request-phase decision of a read does not depend on anything else the
#   input carries: the object's id, the subject's id, the time or the trace. Every fixture case
#   of a read, list or download is turned into the request-phase input the sidecar sends (no
#   category, labels or relation yet) and decided again with each of those changed.
package wams.authz_test

import data.wams.authz

read_actions := {"read", "list", "download", "update", "delete"}

# METADATA
# title: Request-phase inputs
# description: The request-phase input the sidecar sends, for each read-like fixture case.
request_phase_inputs := [i |
	some c in data.testdata.cases
	c.input.action.name in read_actions
	i := object.union(c.input, {
		"action": {"properties": {"phase": "request"}},
		"resource": {"properties": {
			"category": null, "vertrouwelijkheidaanduiding": null,
			"labels": null, "relation": null,
		}},
		"context": {"herkomst": null},
	})
]

# METADATA
# title: Variants
# description: The same input with the keys the sidecar leaves out of its cache key changed.
variants(i) := [
	object.union(i, {"resource": {"id": "00000000-0000-4000-8000-000000000099"}}),
	object.union(i, {"resource": {"id": null}}),
	object.union(i, {"subject": {"id": "iemand-anders"}}),
	object.union(i, {"context": {"time": "2031-01-01T00:00:00Z"}}),
	object.union(i, {"context": {"traceparent": "00-11111111111111111111111111111111-2222222222222222-01"}}),
]

test_request_phase_cases_cover_allow_and_deny if {
	decisions := {d.decision |
		some i in request_phase_inputs
		d := authz.decision with input as i
	}
	count(request_phase_inputs) >= 40
	decisions == {true, false}
}

test_request_phase_reads_only_subject_purpose_route_and_action if {
	changed := [sprintf("%v: %v -> %v", [v.resource.id, d.reasons, dv.reasons]) |
		some i in request_phase_inputs
		d := authz.decision with input as i
		some v in variants(i)
		dv := authz.decision with input as v
		dv != d
	]
	changed == []
}
