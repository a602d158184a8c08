# METADATA
# title: Tests for wams.ingest
# description: >-
#   I1-I9 and W1 under both profiles (and the bc switch value): every ingest role passes the
#   ground rules, lid 1 and lid 2 only for the purposes of lid_grond_doelen, consent names
#   the data subject.
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
	h := {
		"grondslag": "toestemming", "toestemming": "TS-2026-0042", "betrokkene": true,
		"voorwaarden": ["geen_verdere_verstrekking"],
	}
	every p in lib_test.profiles {
		inp := ingest_input(p, "aanbieder", "wettelijk", h)
		ingest.allow == {"I2"} with input as inp
		ingest.obligations == {{"type": "sticky_conditions", "conditions": ["geen_verdere_verstrekking"]}} with input as inp
	}
}

test_i2_consent_without_reference_denied if {
	every p in lib_test.profiles {
		inp := ingest_input(p, "aanbieder", "wettelijk", {"grondslag": "toestemming", "toestemming": "", "betrokkene": true})
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
	h := {"grondslag": "toestemming", "toestemming": "TS-1", "betrokkene": true}
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

test_i9_only_for_documents if {
	# Linking its document to a zaak (or any other create) carries no data of the provider's.
	link := object.union(ingest_input("knmg", "aanbieder", "geen", null), {"resource": {"type": "zaakinformatieobject"}})
	every p in lib_test.profiles {
		count(ingest.deny) == 0 with input as object.union(link, {"context": {"profile": p}})
	}
}

test_i2_consent_needs_the_data_subject if {
	h := {"grondslag": "toestemming", "toestemming": "TS-7"}
	msg := "Bij verstrekking met toestemming moet de betrokkene worden genoemd (X-Herkomst betrokkene)."
	every p in lib_test.profiles {
		ingest.deny == {"I2"} with input as ingest_input(p, "aanbieder", "wettelijk", h)
		count(ingest.allow) == 0 with input as ingest_input(p, "aanbieder", "wettelijk", h)
		ingest.messages.I2 == msg with input as ingest_input(p, "aanbieder", "wettelijk", h)
		no := object.union(h, {"betrokkene": false})
		ingest.deny == {"I2"} with input as ingest_input(p, "aanbieder", "geen", no)

		# The earlier name of the same presence flag counts too.
		earlier := object.union(h, {"betrokkene_present": true})
		ingest.allow == {"I2"} with input as ingest_input(p, "aanbieder", "wettelijk", earlier)

		# Without a reference as well: both what is missing are named.
		ingest.deny == {"I2", "I5"} with input as ingest_input(p, "aanbieder", "wettelijk", {"grondslag": "toestemming"})
	}
}

test_i2_betrokkene_also_for_other_creates if {
	# A create with consent by a college role is no ingest, but names the person all the same.
	inp := object.union(ingest_input("knmg", "consulent", "geen", {"grondslag": "toestemming", "toestemming": "TS-8"}), {
		"subject": {"properties": {"controlling_org": true, "org": "gemeente-demo"}},
		"resource": {"properties": {"category": "algemeen"}},
	})
	ingest.deny == {"I2"} with input as inp
}

with_purpose(inp, doel) := object.union(inp, {"context": {"purpose": doel}})

test_lid_grounds_only_for_lid_purposes if {
	lid1 := {"grondslag": "lid1"}
	abc := {"grondslag": "lid2", "lid2": ["a", "b", "c"], "motivering": "zorgen"}
	consent := {"grondslag": "toestemming", "toestemming": "TS-3", "betrokkene": true}
	msg := "Lid 1 en lid 2 van art. 5.4.2 zijn voor dit doel geen grondslag: verstrek met toestemming van de cliënt."
	every p in lib_test.profiles {
		ga_lid1 := with_purpose(ingest_input(p, "aanbieder", "geen", lid1), "gecoordineerde_aanpak")
		ingest.deny == {"I5"} with input as ga_lid1
		count(ingest.allow) == 0 with input as ga_lid1
		ingest.messages.I5 == msg with input as ga_lid1
		ingest.deny == {"I5"} with input as with_purpose(ingest_input(p, "aanbieder", "wettelijk", abc), "gecoordineerde_aanpak")
		ingest.deny == {"I5"} with input as with_purpose(ingest_input(p, "aanbieder", "beroepscode", lid1), "gecoordineerde_aanpak")
		ingest.allow == {"I2"} with input as with_purpose(ingest_input(p, "aanbieder", "wettelijk", consent), "gecoordineerde_aanpak")
		ingest.allow == {"I1"} with input as with_purpose(ingest_input(p, "aanbieder", "geen", lid1), "casusoverleg")
		ingest.allow == {"I1"} with input as with_purpose(ingest_input(p, "aanbieder", "geen", lid1), "onderzoek_zonder_hulpvraag")
		ingest.messages.I5 == "Voor deze verstrekking ontbreekt een geldige grondslag." with input as ingest_input(p, "aanbieder", "wettelijk", lid1)
	}
	ingest.allow == {"I3"} with input as with_purpose(ingest_input("wetsvoorstel", "aanbieder", "wettelijk", abc), "casusoverleg")
}

test_lid_grond_doelen_is_the_profiles_list if {
	none := object.union(data.profiles.wetsvoorstel, {"lid_grond_doelen": []})
	inp := ingest_input("custom", "aanbieder", "geen", {"grondslag": "lid1"})
	ingest.deny == {"I5"} with input as inp with data.profiles.custom as none
	ga := object.union(data.profiles.wetsvoorstel, {"lid_grond_doelen": ["gecoordineerde_aanpak"]})
	ingest.allow == {"I1"} with input as with_purpose(inp, "gecoordineerde_aanpak") with data.profiles.custom as ga
}

test_unknown_secrecy_has_no_secrecy_ground if {
	every p in lib_test.profiles {
		inp := json.remove(ingest_input(p, "aanbieder", "geen", {"grondslag": "lid1"}), ["subject/properties/secrecy"])
		ingest.deny == {"I5"} with input as inp
	}
}

test_i6_review_by_fg_for_every_ingest_role if {
	h := {"grondslag": "conflict_van_plichten", "cvp": all_cvp}
	every p in lib_test.profiles {
		every role in ["aanbieder", "casusoverleg_deelnemer"] {
			every secrecy in ["wettelijk", "geen"] {
				{"type": "review_by_fg"} in ingest.obligations with input as ingest_input(p, role, secrecy, h)
			}
		}
	}
}

w1_input(p, category, doel, herkomst) := lib_test.mk(p, {
	"subject": {"properties": {"role": "burgemeester_wvggz", "org": "gemeente-demo", "controlling_org": true}},
	"action": {"name": "create", "properties": {"method": "POST", "phase": "request"}},
	"resource": {"id": null, "properties": {"category": category}},
	"context": {"purpose": doel, "herkomst": herkomst},
})

test_w1_mayor_ingests_wvggz if {
	lid1 := {"grondslag": "lid1"}
	ingest.allow == {"I1", "W1"} with input as w1_input("wetsvoorstel", "wvggz_wzd", "onderzoek_hulpvraag", lid1)
	count(ingest.obligations) == 0 with input as w1_input("wetsvoorstel", "wvggz_wzd", "onderzoek_hulpvraag", lid1)
	ingest.allow == {"I1", "W1"} with input as w1_input("knmg", "wvggz_wzd", "onderzoek_hulpvraag", lid1)
	sticky := {{"type": "sticky_conditions", "conditions": ["alleen_medisch_adviseur"]}}
	ingest.obligations == sticky with input as w1_input("knmg", "wvggz_wzd", "onderzoek_hulpvraag", lid1)
	ingest.allow == {"I1", "W1"} with input as w1_input("wetsvoorstel", "wvggz_wzd", "onderzoek_zonder_hulpvraag", lid1)
}

test_w1_mayor_passes_the_ground_rules if {
	consent := {"grondslag": "toestemming", "toestemming": "TS-4", "betrokkene": true}
	every p in lib_test.profiles {
		# The coordinated approach is not a lid 1 purpose: the mayor needs consent there.
		lid1_ga := w1_input(p, "wvggz_wzd", "gecoordineerde_aanpak", {"grondslag": "lid1"})
		ingest.deny == {"I5"} with input as lid1_ga
		ingest.allow == {"I2", "W1"} with input as w1_input(p, "wvggz_wzd", "gecoordineerde_aanpak", consent)

		# A claimed conflict of duties needs all six conditions and goes to the FG.
		bare := w1_input(p, "wvggz_wzd", "gecoordineerde_aanpak", {"grondslag": "conflict_van_plichten"})
		ingest.deny == {"I7"} with input as bare
		full := w1_input(p, "wvggz_wzd", "gecoordineerde_aanpak", {"grondslag": "conflict_van_plichten", "cvp": all_cvp})
		ingest.allow == {"I6", "W1"} with input as full
		{"type": "review_by_fg"} in ingest.obligations with input as full

		ingest.deny == {"I5"} with input as w1_input(p, "wvggz_wzd", "onderzoek_hulpvraag", {"grondslag": "spoed"})
	}
}

test_w1_mayor_other_category_or_purpose_denied if {
	lid1 := {"grondslag": "lid1"}
	every p in lib_test.profiles {
		ingest.deny == {"W1"} with input as w1_input(p, "medisch", "onderzoek_hulpvraag", lid1)
		ingest.allow == {"I1"} with input as w1_input(p, "medisch", "onderzoek_hulpvraag", lid1)
		"W1" in ingest.deny with input as w1_input(p, "wvggz_wzd", "casusoverleg", lid1)
	}
}
