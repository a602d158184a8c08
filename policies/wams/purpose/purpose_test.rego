# METADATA
# title: Tests for wams.purpose
# description: P1-P3 and the role to purpose table, under both profiles.
package wams.purpose_test

import data.wams.lib_test
import data.wams.purpose

with_role_purpose(p, role, doel) := lib_test.mk(p, {
	"subject": {"properties": {"role": role}},
	"context": {"purpose": doel},
})

test_p1_purpose_handhaving_denied if {
	every p in lib_test.profiles {
		"P1" in purpose.deny with input as with_role_purpose(p, "consulent", "handhaving")
	}
}

test_p1_role_handhaving_denied if {
	every p in lib_test.profiles {
		"P1" in purpose.deny with input as with_role_purpose(p, "handhaving", "onderzoek_hulpvraag")
		not "P2" in purpose.deny with input as with_role_purpose(p, "handhaving", "onderzoek_hulpvraag")
	}
}

test_p1_not_fired_for_other_purposes if {
	every p in lib_test.profiles {
		count(purpose.deny) == 0 with input as with_role_purpose(p, "consulent", "gecoordineerde_aanpak")
	}
}

test_p2_absent_or_unknown_purpose_denied if {
	msg := "Geef een geldig doel van de verwerking op (X-Doelbinding)."
	every p in lib_test.profiles {
		"P2" in purpose.deny with input as with_role_purpose(p, "consulent", null)
		"P2" in purpose.deny with input as with_role_purpose(p, "consulent", "nieuwsgierigheid")
		purpose.messages.P2 == msg with input as with_role_purpose(p, "consulent", null)
	}
}

test_p2_role_purpose_table if {
	msg := "Uw rol mag niet voor dit doel gegevens verwerken."
	every p in lib_test.profiles {
		"P2" in purpose.deny with input as with_role_purpose(p, "coordinator", "onderzoek_hulpvraag")
		"P2" in purpose.deny with input as with_role_purpose(p, "zvh_medewerker", "casusoverleg")
		"P2" in purpose.deny with input as with_role_purpose(p, "fg", "gecoordineerde_aanpak")
		"P2" in purpose.deny with input as with_role_purpose(p, "onbekende_rol", "casusoverleg")
		purpose.messages.P2 == msg with input as with_role_purpose(p, "fg", "casusoverleg")
		not "P2" in purpose.deny with input as with_role_purpose(p, "fg", "verantwoording")
		not "P2" in purpose.deny with input as with_role_purpose(p, "burgemeester_wvggz", "gecoordineerde_aanpak")
		not "P2" in purpose.deny with input as with_role_purpose(p, "casusoverleg_deelnemer", "casusoverleg")
	}
}

test_p2_not_for_data_subject_access if {
	inp := object.union(lib_test.base, {
		"subject": {"type": "data_subject", "properties": {"role": null}},
		"resource": {"type": "records", "properties": {"category": null}},
		"context": {"purpose": null},
	})
	count(purpose.deny) == 0 with input as inp
}

test_p3_knmg_denied if {
	"P3" in purpose.deny with input as with_role_purpose("knmg", "consulent", "onderzoek_zonder_hulpvraag")
	count(purpose.obligations) == 0 with input as with_role_purpose("knmg", "consulent", "onderzoek_zonder_hulpvraag")
}

test_p3_wetsvoorstel_allowed_and_recorded if {
	inp := with_role_purpose("wetsvoorstel", "consulent", "onderzoek_zonder_hulpvraag")
	count(purpose.deny) == 0 with input as inp
	"P3" in purpose.notes with input as inp
	purpose.obligations == {{
		"type": "record_processing",
		"processing_activity": "urn:wams:verwerking:onderzoek_zonder_hulpvraag",
	}} with input as inp
}

test_p3_not_fired_with_help_request if {
	every p in lib_test.profiles {
		not "P3" in purpose.deny with input as with_role_purpose(p, "consulent", "onderzoek_hulpvraag")
		not "P3" in purpose.notes with input as with_role_purpose(p, "consulent", "onderzoek_hulpvraag")
	}
}

test_permitted if {
	purpose.permitted with input as with_role_purpose("knmg", "aanbieder", "casusoverleg")
	not purpose.permitted with input as with_role_purpose("knmg", "handhaving", "handhaving")
}

test_mayor_sends_for_the_investigations if {
	every p in lib_test.profiles {
		count(purpose.deny) == 0 with input as with_role_purpose(p, "burgemeester_wvggz", "onderzoek_hulpvraag")
		"P2" in purpose.deny with input as with_role_purpose(p, "burgemeester_wvggz", "casusoverleg")
	}
	purpose.deny == {"P3"} with input as with_role_purpose("knmg", "burgemeester_wvggz", "onderzoek_zonder_hulpvraag")
	purpose.notes == {"P3"} with input as with_role_purpose("wetsvoorstel", "burgemeester_wvggz", "onderzoek_zonder_hulpvraag")
}
