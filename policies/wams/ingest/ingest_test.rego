# METADATA
# title: Tests for wams.ingest
# description: I1-I9 and W1 under both profiles (and the bc switch value).
package wams.ingest_test

import data.wams.ingest
import data.wams.lib_test

ingest_input(p, role, secrecy, herkomst) := lib_test.mk(p, {
	"subject": {"properties": {"role": role, "secrecy": secrecy, "org": "huisarts-de-linde", "controlling_org": false}},
	"action": {"name": "create", "properties": {"method": "POST", "phase": "request"}},
	"resource": {"id": null, "properties": {"category": "medisch"}},
	"context": {"herkomst": herkomst},
})

all_cvp := [
	"toestemming_gevraagd", "ernstige_schade", "gewetensnood",
	"geen_andere_weg", "schade_voorkomen", "minimale_doorbreking",
]

bc_profile := object.union(data.profiles.wetsvoorstel, {"geheimhouders_zonder_toestemming": "bc"})

test_i1_lid1_without_secrecy_allowed if {
	every p in lib_test.profiles {
		ingest.allow == {"I1"} with input as ingest_input(p, "aanbieder", "geen", {"grondslag": "lid1"})
		count(ingest.deny) == 0 with input as ingest_input(p, "aanbieder", "geen", {"grondslag": "lid1"})
	}
}

test_i1_not_for_holder if {
	every p in lib_test.profiles {
		inp := ingest_input(p, "aanbieder", "wettelijk", {"grondslag": "lid1"})
		not "I1" in ingest.allow with input as inp
		"I5" in ingest.deny with input as inp
	}
}

test_i2_consent_with_reference_sticky if {
	h := {"grondslag": "toestemming", "toestemming": "TS-2026-0042", "voorwaarden": ["geen_verdere_verstrekking"]}
	every p in lib_test.profiles {
		inp := ingest_input(p, "aanbieder", "wettelijk", h)
		ingest.allow == {"I2"} with input as inp
		ingest.obligations == {{"type": "sticky_conditions", "conditions": ["geen_verdere_verstrekking"]}} with input as inp
	}
}

test_i2_consent_without_reference_denied if {
	every p in lib_test.profiles {
		inp := ingest_input(p, "aanbieder", "wettelijk", {"grondslag": "toestemming", "toestemming": ""})
		ingest.deny == {"I5"} with input as inp
		count(ingest.allow) == 0 with input as inp
	}
}

test_i3_lid2_abc if {
	h := {"grondslag": "lid2", "lid2": ["a", "b", "c"], "motivering": "ernstige zorgen"}
	ingest.allow == {"I3"} with input as ingest_input("wetsvoorstel", "aanbieder", "wettelijk", h)
	ingest.deny == {"I3"} with input as ingest_input("knmg", "aanbieder", "wettelijk", h)
	ingest.allow == {"I3"} with input as ingest_input("custom", "aanbieder", "wettelijk", h)
		with data.profiles.custom as bc_profile
}

test_i4_lid2_bc if {
	h := {"grondslag": "lid2", "lid2": ["b", "c"]}
	every p in lib_test.profiles {
		ingest.deny == {"I4"} with input as ingest_input(p, "aanbieder", "wettelijk", h)
	}
	ingest.allow == {"I4"} with input as ingest_input("custom", "aanbieder", "wettelijk", h)
		with data.profiles.custom as bc_profile
}

test_i5_no_valid_ground if {
	ab := {"grondslag": "lid2", "lid2": ["a", "b"]}
	every p in lib_test.profiles {
		ingest.deny == {"I5"} with input as ingest_input(p, "aanbieder", "wettelijk", {"grondslag": "goed_hulpverlenerschap"})
		ingest.deny == {"I5"} with input as ingest_input(p, "aanbieder", "wettelijk", ab)
		ingest.deny == {"I5"} with input as ingest_input(p, "aanbieder", "geen", {})
	}
}

test_i6_cvp_complete_break_glass if {
	every p in lib_test.profiles {
		inp := ingest_input(p, "aanbieder", "wettelijk", {"grondslag": "conflict_van_plichten", "cvp": all_cvp})
		ingest.allow == {"I6"} with input as inp
		count(ingest.deny) == 0 with input as inp
		ingest.obligations == {
			{"type": "review_by_fg"},
			{"type": "highest_record_level"},
			{"type": "sticky_conditions", "conditions": ["geen_verdere_verstrekking"]},
		} with input as inp
	}
}

test_i7_cvp_incomplete if {
	h := {"grondslag": "conflict_van_plichten", "cvp": array.slice(all_cvp, 0, 5)}
	every p in lib_test.profiles {
		ingest.deny == {"I7"} with input as ingest_input(p, "aanbieder", "wettelijk", h)
		count(ingest.allow) == 0 with input as ingest_input(p, "aanbieder", "wettelijk", h)
	}
}

test_i8_beroepscode_lid1 if {
	h := {"grondslag": "lid1"}
	ingest.allow == {"I8"} with input as ingest_input("wetsvoorstel", "aanbieder", "beroepscode", h)
	ingest.deny == {"I8"} with input as ingest_input("knmg", "aanbieder", "beroepscode", h)
}

test_i8_beroepscode_consent_allowed if {
	h := {"grondslag": "toestemming", "toestemming": "TS-1"}
	every p in lib_test.profiles {
		ingest.allow == {"I2"} with input as ingest_input(p, "aanbieder", "beroepscode", h)
	}
}

test_i9_create_without_herkomst if {
	every p in lib_test.profiles {
		ingest.deny == {"I9"} with input as ingest_input(p, "aanbieder", "geen", null)
		ingest.deny == {"I9"} with input as ingest_input(p, "burgemeester_wvggz", "geen", null)
		ingest.deny == {"I9"} with input as ingest_input(p, null, "wettelijk", null)
		count(ingest.deny) == 0 with input as ingest_input(p, "consulent", "geen", null)
		count(ingest.deny) == 0 with input as ingest_input(p, "medisch_adviseur", "wettelijk", null)
	}
}

w1_input(p, category) := lib_test.mk(p, {
	"subject": {"properties": {"role": "burgemeester_wvggz", "org": "gemeente-demo", "controlling_org": true}},
	"action": {"name": "create", "properties": {"method": "POST", "phase": "request"}},
	"resource": {"id": null, "properties": {"category": category}},
	"context": {"purpose": "gecoordineerde_aanpak", "herkomst": {"grondslag": "lid1"}},
})

test_w1_mayor_ingests_wvggz if {
	ingest.allow == {"W1"} with input as w1_input("wetsvoorstel", "wvggz_wzd")
	count(ingest.obligations) == 0 with input as w1_input("wetsvoorstel", "wvggz_wzd")
	ingest.allow == {"W1"} with input as w1_input("knmg", "wvggz_wzd")
	sticky := {{"type": "sticky_conditions", "conditions": ["alleen_medisch_adviseur"]}}
	ingest.obligations == sticky with input as w1_input("knmg", "wvggz_wzd")
}

test_w1_mayor_other_category_denied if {
	every p in lib_test.profiles {
		ingest.deny == {"W1"} with input as w1_input(p, "medisch")
		count(ingest.allow) == 0 with input as w1_input(p, "medisch")
	}
}
