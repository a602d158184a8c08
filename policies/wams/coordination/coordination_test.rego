# METADATA
# title: Tests for wams.coordination
# description: K1-K3 under both profiles, also with context keys missing (fail closed).
package wams.coordination_test

import data.wams.coordination
import data.wams.lib_test

appoint(p, agreement, willing, treating) := lib_test.mk(p, {
	"action": {"name": "create", "properties": {"method": "POST", "phase": "request"}},
	"resource": {"type": "rol", "id": null, "properties": {"category": "coordinatiedossier"}},
	"context": {
		"purpose": "gecoordineerde_aanpak",
		"client_agreement": agreement,
		"coordinator_willing": willing,
		"coordinator_is_treating_provider": treating,
	},
})

test_k1_without_agreement_denied if {
	every p in lib_test.profiles {
		coordination.deny == {"K1"} with input as appoint(p, false, true, false)
		"K1" in coordination.deny with input as appoint(p, null, true, false)
	}
}

test_k1_with_agreement_allowed if {
	every p in lib_test.profiles {
		coordination.allow == {"K1"} with input as appoint(p, true, true, false)
		count(coordination.deny) == 0 with input as appoint(p, true, true, false)
	}
}

test_k1_only_the_college_appoints if {
	inp := object.union(appoint("knmg", true, true, false), {"subject": {"properties": {"role": "coordinator"}}})
	count(coordination.allow) == 0 with input as inp
}

test_k2_unwilling_or_treating if {
	coordination.deny == {"K2"} with input as appoint("knmg", true, false, false)
	coordination.deny == {"K2"} with input as appoint("knmg", true, true, true)
	coordination.deny == {"K2"} with input as appoint("knmg", true, null, null)
	coordination.notes == {"K2"} with input as appoint("wetsvoorstel", true, false, true)
	count(coordination.deny) == 0 with input as appoint("wetsvoorstel", true, false, true)
	coordination.allow == {"K1"} with input as appoint("wetsvoorstel", true, false, true)
}

test_not_an_appointment_without_context if {
	every p in lib_test.profiles {
		count(coordination.deny) == 0 with input as appoint(p, null, null, null)
		count(coordination.allow) == 0 with input as appoint(p, null, null, null)
	}
}

dossier_write(p, retention) := lib_test.mk(p, {
	"subject": {"properties": {"role": "coordinator"}},
	"action": {"name": "update", "properties": {"method": "PATCH", "phase": "request"}},
	"resource": {"properties": {"category": "coordinatiedossier"}},
	"context": {"purpose": "gecoordineerde_aanpak", "retention_configured": retention},
})

test_k3_no_retention_denied if {
	every p in lib_test.profiles {
		coordination.deny == {"K3"} with input as dossier_write(p, false)
		coordination.deny == {"K3"} with input as dossier_write(p, null)
		count(coordination.deny) == 0 with input as dossier_write(p, true)
	}
}

test_k1_marked_appointment_without_any_facts_denied if {
	every p in lib_test.profiles {
		inp := object.union(appoint(p, null, null, null), {"context": {"coordinator_appointment": true}})
		"K1" in coordination.deny with input as inp
	}
}

test_unmarked_rol_without_facts_is_no_appointment if {
	count(coordination.deny) == 0 with input as appoint("knmg", null, null, null)
}

test_k1_missing_agreement_key_denied if {
	every p in lib_test.profiles {
		marked := object.union(appoint(p, true, true, false), {"context": {"coordinator_appointment": true}})
		inp := json.remove(marked, ["context/client_agreement"])
		"K1" in coordination.deny with input as inp
		count(coordination.allow) == 0 with input as inp
		"K1" in coordination.deny with input as json.remove(appoint(p, true, true, false), ["context/client_agreement"])
	}
}

test_k2_missing_keys_denied_where_required if {
	every key in ["coordinator_willing", "coordinator_is_treating_provider"] {
		coordination.deny == {"K2"} with input as json.remove(appoint("knmg", true, true, false), [concat("/", ["context", key])])
	}
}

test_k3_missing_retention_key_denied if {
	every p in lib_test.profiles {
		coordination.deny == {"K3"} with input as json.remove(dossier_write(p, true), ["context/retention_configured"])
	}
}
