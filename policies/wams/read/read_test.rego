# METADATA
# title: Tests for wams.read
# description: >-
#   R1-R5 under both profiles, data a secrecy holder sent gated like medisch (R2), and the
#   limits of consent on every later use (I2 purpose-bound consent, I10 withdrawn consent).
package wams.read_test

import data.wams.lib_test
import data.wams.read

use(p, role, action, category, labels) := lib_test.mk(p, {
	"subject": {"properties": {"role": role}},
	"action": {"name": action},
	"resource": {"properties": {"category": category, "labels": labels}},
	"context": {"purpose": "gecoordineerde_aanpak"},
})

test_r1_college_reads_and_writes_algemeen if {
	every p in lib_test.profiles {
		every role in ["consulent", "coordinator", "medisch_adviseur"] {
			read.allow == {"R1"} with input as use(p, role, "read", "algemeen", null)
		}
		read.allow == {"R1"} with input as use(p, "consulent", "create", "algemeen", null)
	}
}

test_r1_not_for_other_roles_or_outside if {
	every p in lib_test.profiles {
		count(read.allow) == 0 with input as use(p, "zvh_medewerker", "read", "algemeen", null)
		outside := object.union(
			use(p, "consulent", "read", "algemeen", null),
			{"subject": {"properties": {"controlling_org": false}}},
		)
		count(read.allow) == 0 with input as outside
	}
}

test_r2_medisch_by_consulent if {
	read.allow == {"R2"} with input as use("wetsvoorstel", "consulent", "read", "medisch", null)
	read.deny == {"R2"} with input as use("knmg", "consulent", "read", "medisch", null)
	read.deny == {"R2"} with input as use("knmg", "coordinator", "download", "medisch", null)
}

test_r2_sticky_alleen_medisch_adviseur if {
	labels := {"provider_sent": true, "voorwaarden": ["alleen_medisch_adviseur"]}
	every p in lib_test.profiles {
		read.deny == {"R2"} with input as use(p, "consulent", "read", "medisch", labels)
		read.deny == {"R2"} with input as use(p, "consulent", "read", "algemeen", labels)
		read.allow == {"R3"} with input as use(p, "medisch_adviseur", "read", "medisch", labels)
	}
}

test_r3_medisch_adviseur_reads_and_writes_medisch if {
	every p in lib_test.profiles {
		every action in ["read", "create", "update"] {
			read.allow == {"R3"} with input as use(p, "medisch_adviseur", action, "medisch", null)
		}
		count(read.allow) == 0 with input as use(p, "consulent", "create", "medisch", null)
	}
}

test_r4_wvggz_wzd if {
	read.allow == {"R4"} with input as use("wetsvoorstel", "consulent", "read", "wvggz_wzd", null)
	read.deny == {"R4"} with input as use("knmg", "consulent", "read", "wvggz_wzd", null)
	read.deny == {"R4"} with input as use("knmg", "coordinator", "read", "wvggz_wzd", null)
	every p in lib_test.profiles {
		read.allow == {"R4"} with input as use(p, "medisch_adviseur", "read", "wvggz_wzd", null)
	}
}

test_r4_onbekend_as_strict_as_wvggz if {
	every p in lib_test.profiles {
		read.deny == {"R4"} with input as use(p, "consulent", "read", "onbekend", null)
		read.allow == {"R4"} with input as use(p, "medisch_adviseur", "read", "onbekend", null)
		count(read.allow) == 0 with input as use(p, "consulent", "read", "onbekend", null)
	}
}

test_r5_coordinatiedossier if {
	every p in lib_test.profiles {
		# The coordinator appointed on the zaak (need_to_know; see also wams.relations_test).
		appointed := {"resource": {"properties": {"relation": {"kinds": ["coordinator"]}}}}
		read.allow == {"R5"} with input as object.union(use(p, "coordinator", "read", "coordinatiedossier", null), appointed)
		read.allow == {"R5"} with input as object.union(use(p, "coordinator", "update", "coordinatiedossier", null), appointed)
		read.deny == {"R5"} with input as use(p, "coordinator", "update", "coordinatiedossier", null)
		read.allow == {"R5"} with input as use(p, "consulent", "read", "coordinatiedossier", null)
		read.deny == {"R5"} with input as use(p, "consulent", "update", "coordinatiedossier", null)
		read.deny == {"R5"} with input as use(p, "medisch_adviseur", "read", "coordinatiedossier", null)
		fg := object.union(use(p, "fg", "read", "coordinatiedossier", null), {"context": {"purpose": "verantwoording"}})
		read.allow == {"R5"} with input as fg
		read.deny == {"R5"} with input as object.union(fg, {"action": {"name": "update"}})
	}
}

test_r5_not_for_rol if {
	inp := object.union(use("knmg", "consulent", "create", "coordinatiedossier", null), {"resource": {"type": "rol"}})
	count(read.deny) == 0 with input as inp
}

test_r5_rollen_of_a_coordination_zaak_are_read_like_the_dossier if {
	appointed := {"kinds": ["coordinator"], "zaken": ["z"], "writer": false}
	every p in lib_test.profiles {
		rol := object.union(use(p, "coordinator", "read", "coordinatiedossier", null), {"resource": {
			"type": "rol",
			"properties": {"relation": appointed},
		}})
		read.allow == {"R5"} with input as rol
		read.allow == {"R5"} with input as object.union(rol, {"subject": {"properties": {"role": "consulent"}}})

		# Appointing someone is the K rules' business, not R5's.
		count(read.allow) == 0 with input as object.union(rol, {"action": {"name": "create"}})
		count(read.allow) == 0 with input as object.union(rol, {"subject": {"properties": {"role": "aanbieder"}}})
	}
}

# Labels of data sent in by a provider with statutory secrecy (new-style labels).
holder_labels := {
	"grondslag": "lid2", "voorwaarden": [], "provider_sent": true, "review_by_fg": false,
	"source_role": "aanbieder", "source_org": "huisarts-de-linde", "source_controlling_org": false,
	"source_secrecy": "wettelijk",
}

geheim_profile := object.union(data.profiles.wetsvoorstel, {"geheimhouder_data_medisch": true})

test_r2_secrecy_holders_algemeen_gated_like_medisch if {
	# knmg: the consulent and coordinator may not read it, the medical adviser may.
	read.deny == {"R2"} with input as use("knmg", "consulent", "read", "algemeen", holder_labels)
	count(read.allow) == 0 with input as use("knmg", "consulent", "read", "algemeen", holder_labels)
	read.deny == {"R2"} with input as use("knmg", "coordinator", "download", "algemeen", holder_labels)
	read.allow == {"R3"} with input as use("knmg", "medisch_adviseur", "read", "algemeen", holder_labels)
	count(read.deny) == 0 with input as use("knmg", "medisch_adviseur", "read", "algemeen", holder_labels)

	# ... nor write it (as for medisch, no rule grants a consulent's write).
	count(read.allow) == 0 with input as use("knmg", "consulent", "update", "algemeen", holder_labels)

	# wetsvoorstel: the switch is off, the data is algemeen.
	read.allow == {"R1"} with input as use("wetsvoorstel", "consulent", "read", "algemeen", holder_labels)
	count(read.deny) == 0 with input as use("wetsvoorstel", "consulent", "read", "algemeen", holder_labels)

	# With the switch on but medisch open to the college, it is read as medisch (R2 allows).
	read.allow == {"R2"} with input as use("custom", "consulent", "read", "algemeen", holder_labels)
		with data.profiles.custom as geheim_profile
}

test_r2_code_based_secrecy_per_profile if {
	code := object.union(holder_labels, {"source_secrecy": "beroepscode"})
	read.deny == {"R2"} with input as use("knmg", "consulent", "read", "algemeen", code)
	code_not_statutory := object.union(geheim_profile, {"medisch_alleen_adviseur": true})
	read.allow == {"R1"} with input as use("custom", "consulent", "read", "algemeen", code)
		with data.profiles.custom as code_not_statutory
}

test_r2_not_for_data_without_secrecy_or_the_colleges_own if {
	geen := object.union(holder_labels, {"source_secrecy": "geen"})
	own := object.union(holder_labels, {"source_role": "medisch_adviseur", "source_controlling_org": true, "provider_sent": false})
	every p in lib_test.profiles {
		read.allow == {"R1"} with input as use(p, "consulent", "read", "algemeen", geen)
		read.allow == {"R1"} with input as use(p, "consulent", "read", "algemeen", own)
		read.allow == {"R1"} with input as use(p, "consulent", "read", "algemeen", null)
	}
}

test_r2_gate_on_top_of_the_other_categories if {
	# A profile that opens wvggz_wzd to the college but keeps medisch for the adviser: a
	# secrecy holder's wvggz_wzd document passes R4 and is still stopped by the medisch gate.
	strict_medisch := object.union(geheim_profile, {"medisch_alleen_adviseur": true})
	inp := use("custom", "consulent", "read", "wvggz_wzd", holder_labels)
	read.allow == {"R4"} with input as inp with data.profiles.custom as strict_medisch
	read.deny == {"R2"} with input as inp with data.profiles.custom as strict_medisch
	dossier := use("custom", "consulent", "read", "coordinatiedossier", holder_labels)
	read.deny == {"R2"} with input as dossier with data.profiles.custom as strict_medisch

	# Both gates open: both rules grant.
	read.allow == {"R2", "R4"} with input as inp with data.profiles.custom as geheim_profile
	count(read.deny) == 0 with input as inp with data.profiles.custom as geheim_profile

	# onbekend stays at least as strict as wvggz_wzd.
	every p in lib_test.profiles {
		read.deny == {"R4"} with input as use(p, "consulent", "read", "onbekend", object.union(holder_labels, {"source_secrecy": "geen"}))
		"R4" in read.deny with input as use(p, "consulent", "read", "onbekend", holder_labels)
	}
}

consent_labels(doel) := {
	"grondslag": "toestemming", "toestemming": "TS-2026-0042", "voorwaarden": [], "provider_sent": true,
	"review_by_fg": false, "source_role": "aanbieder", "source_org": "huisarts-de-linde",
	"source_controlling_org": false, "source_secrecy": "wettelijk", "purpose": doel,
}

test_i2_consent_data_only_for_its_purpose if {
	other := consent_labels("onderzoek_hulpvraag") # use() acts for gecoordineerde_aanpak
	same := consent_labels("gecoordineerde_aanpak")
	msg := "Met toestemming verstrekte gegevens mogen alleen worden gebruikt voor het doel waarvoor de toestemming is gegeven."
	read.deny == {"I2"} with input as use("knmg", "medisch_adviseur", "read", "medisch", other)
	read.messages.I2 == msg with input as use("knmg", "medisch_adviseur", "read", "medisch", other)
	read.deny == {"I2"} with input as use("knmg", "medisch_adviseur", "update", "medisch", other)
	count(read.deny) == 0 with input as use("knmg", "medisch_adviseur", "read", "medisch", same)
	read.allow == {"R3"} with input as use("knmg", "medisch_adviseur", "read", "medisch", same)

	# Labels from before the purpose was stored fit no purpose.
	read.deny == {"I2"} with input as use("knmg", "medisch_adviseur", "read", "medisch", object.remove(same, ["purpose"]))

	# wetsvoorstel: consent is not purpose-bound.
	count(read.deny) == 0 with input as use("wetsvoorstel", "medisch_adviseur", "read", "medisch", other)

	# Other grounds are not bound this way.
	lid := object.union(other, {"grondslag": "lid1", "source_secrecy": "geen"})
	count(read.deny) == 0 with input as use("knmg", "medisch_adviseur", "read", "medisch", lid)
}

fg_dossier(p, labels) := object.union(use(p, "fg", "read", "coordinatiedossier", labels), {"context": {"purpose": "verantwoording"}})

test_i2_and_i10_leave_the_fgs_accounting if {
	withdrawn := object.union(consent_labels("gecoordineerde_aanpak"), {"toestemming_ingetrokken": true})
	every p in lib_test.profiles {
		read.allow == {"R5"} with input as fg_dossier(p, withdrawn)
		count(read.deny) == 0 with input as fg_dossier(p, withdrawn)

		# An fg of another organisation is not the controller's fg.
		outside := object.union(fg_dossier(p, withdrawn), {"subject": {"properties": {"controlling_org": false}}})
		"I10" in read.deny with input as outside
	}
	"I2" in read.deny with input as object.union(fg_dossier("knmg", withdrawn), {"subject": {"properties": {"controlling_org": false}}})
}

test_i10_withdrawn_consent_read_by_nobody if {
	withdrawn := object.union(consent_labels("gecoordineerde_aanpak"), {"toestemming_ingetrokken": true})
	msg := "De betrokkene heeft de toestemming ingetrokken; deze gegevens worden niet meer verstrekt."
	every p in lib_test.profiles {
		every action in ["read", "list", "download"] {
			read.deny == {"I10"} with input as use(p, "medisch_adviseur", action, "medisch", withdrawn)
		}
		"I10" in read.deny with input as use(p, "consulent", "read", "algemeen", withdrawn)
		read.messages.I10 == msg with input as use(p, "medisch_adviseur", "read", "medisch", withdrawn)

		# Not withdrawn (or never): no I10.
		not "I10" in read.deny with input as use(p, "medisch_adviseur", "read", "medisch", consent_labels("gecoordineerde_aanpak"))

		# Unknown labels are judged as withdrawn; the decision records are not Wams data.
		"I10" in read.deny with input as json.remove(use(p, "medisch_adviseur", "read", "medisch", null), ["resource/properties/labels"])
		records := object.union(use(p, "fg", "list", null, null), {"resource": {"type": "records"}})
		not "I10" in read.deny with input as json.remove(records, ["resource/properties/labels"])
	}
}
