# METADATA
# title: Tests for wams.relations
# description: >-
#   N1-N4 under both profiles and with the switch need_to_know off, the fail-closed cases of
#   the relation input, R5 for the coordinator appointed on the zaak (also from another
#   organisation) and the whole decision for it.
package wams.relations_test

import data.wams.authz
import data.wams.disclosure
import data.wams.lib_test
import data.wams.read
import data.wams.relations

# METADATA
# title: A relation
# description: The relation object the sidecar sends for the given kinds and writer flag.
rel(kinds, writer) := {"kinds": kinds, "zaken": ["9b7c1c1e-0d9e-4b43-9a8e-4a5f2f0c0a11"], "writer": writer}

# METADATA
# title: Make an input
# description: >-
#   lib_test.mk with the subject's role and controlling_org, the action, the resource type,
#   category and relation, and the purpose (the other keys from the base input).
use(p, role, action, type, category, relation, purpose) := lib_test.mk(p, {
	"subject": {"properties": {"role": role, "controlling_org": role in {"consulent", "coordinator", "medisch_adviseur", "fg"}}},
	"action": {"name": action},
	"resource": {"type": type, "properties": {"category": category, "relation": relation}},
	"context": {"purpose": purpose},
})

# METADATA
# title: Profile without need-to-know
# description: The given shipped profile with the switch need_to_know off.
off(p) := object.union(data.profiles[p], {"need_to_know": false})

test_n1_no_relation_denied if {
	every p in lib_test.profiles {
		every type in relations.bound_types {
			every action in ["read", "list", "download", "update", "delete"] {
				relations.deny == {"N1"} with input as use(p, "consulent", action, type, "algemeen", rel([], false), "onderzoek_hulpvraag")
			}
		}
	}
}

test_n1_a_relation_or_the_writer_passes if {
	every p in lib_test.profiles {
		every type in relations.bound_types {
			count(relations.deny) == 0 with input as use(p, "consulent", "read", type, "algemeen", rel(["behandelaar"], false), "onderzoek_hulpvraag")
			count(relations.deny) == 0 with input as use(p, "consulent", "update", type, "algemeen", rel(["creator"], false), "onderzoek_hulpvraag")
		}

		# An aanbieder reads back what it wrote, also a document linked to no zaak.
		own := object.union(
			use(p, "aanbieder", "read", "enkelvoudiginformatieobject", "medisch", rel([], true), "onderzoek_hulpvraag"),
			{"resource": {"properties": {"relation": {"zaken": []}}}},
		)
		count(relations.deny) == 0 with input as own
		relations.deny == {"N1"} with input as object.union(own, {"resource": {"properties": {"relation": {"writer": false}}}})
	}
}

test_n1_every_bound_type_in_the_whole_decision if {
	# The entrypoint consults this package for every case-bound type (authz's consulted).
	every p in lib_test.profiles {
		every type in relations.bound_types {
			res := authz.decision with input as use(p, "consulent", "read", type, "algemeen", rel([], false), "onderzoek_hulpvraag")
			res.decision == false
			res.deny_reason == "N1"
			ok := authz.decision with input as use(p, "consulent", "read", type, "algemeen", rel(["behandelaar"], false), "onderzoek_hulpvraag")
			ok.decision == true
		}
	}
}

test_objects_of_a_zaak_are_decided_like_a_rol if {
	# A status, resultaat, zaakobject or objectinformatieobject is read as its zaak's rol would be:
	# same outcome and reasons per profile, role, category and relation.
	every p in lib_test.profiles {
		every role in ["consulent", "medisch_adviseur", "coordinator", "aanbieder"] {
			every cat in ["algemeen", "medisch", "wvggz_wzd", "coordinatiedossier", "onbekend"] {
				every r in [rel([], false), rel(["behandelaar"], false), rel(["coordinator"], false)] {
					rol := authz.decision with input as use(p, role, "read", "rol", cat, r, "onderzoek_hulpvraag")
					every type in ["status", "resultaat", "zaakobject", "objectinformatieobject"] {
						d := authz.decision with input as use(p, role, "read", type, cat, r, "onderzoek_hulpvraag")
						[d.decision, d.reasons] == [rol.decision, rol.reasons]
					}
				}
			}
		}
	}
}

test_n1_fails_closed_on_a_missing_relation if {
	every p in lib_test.profiles {
		# The response phase: the sidecar always sends the relation; null or missing denies.
		base := use(p, "consulent", "read", "zaak", "algemeen", null, "onderzoek_hulpvraag")
		relations.deny == {"N1"} with input as base
		relations.deny == {"N1"} with input as object.union(base, {"resource": {"properties": {"relation": {"kinds": "behandelaar"}}}})
		relations.deny == {"N1"} with input as object.union(base, {"resource": {"properties": {"relation": "behandelaar"}}})
		relations.deny == {"N1"} with input as object.union(base, {"resource": {"properties": {"relation": {"kinds": [7], "writer": "true"}}}})
		missing := json.remove(base, ["resource/properties/relation"])
		relations.deny == {"N1"} with input as missing

		# A rol (or a link) is created on an existing zaak: the relation to it is needed.
		relations.deny == {"N1"} with input as use(p, "consulent", "create", "rol", "algemeen", null, "onderzoek_hulpvraag")
		relations.deny == {"N1"} with input as use(p, "consulent", "create", "rol", null, null, "onderzoek_hulpvraag")
		count(relations.deny) == 0 with input as use(p, "consulent", "create", "rol", "algemeen", rel(["behandelaar"], false), "onderzoek_hulpvraag")
	}
}

test_n1_not_needed_where_nothing_is_released_yet if {
	every p in lib_test.profiles {
		# The purpose-only request phase of a read, and the collection of a list.
		request := object.union(
			use(p, "consulent", "read", "zaak", null, null, "onderzoek_hulpvraag"),
			{"action": {"properties": {"phase": "request"}}},
		)
		count(relations.deny) == 0 with input as request
		collection := object.union(
			use(p, "consulent", "list", "zaak", null, null, "onderzoek_hulpvraag"),
			{"resource": {"id": null}, "evaluations": []},
		)
		count(relations.deny) == 0 with input as collection

		# A relation sent there anyway is judged.
		relations.deny == {"N1"} with input as object.union(request, {"resource": {"properties": {"relation": rel([], false)}}})

		# Creating a zaak or a document: nothing to relate to yet.
		count(relations.deny) == 0 with input as use(p, "consulent", "create", "zaak", "algemeen", null, "onderzoek_hulpvraag")
		count(relations.deny) == 0 with input as use(p, "aanbieder", "create", "enkelvoudiginformatieobject", "medisch", null, "onderzoek_hulpvraag")

		# The decision records are not case data.
		count(relations.deny) == 0 with input as use(p, "fg", "list", "records", null, null, "verantwoording")
	}
}

test_n1_fg_accounting_needs_no_relation if {
	every p in lib_test.profiles {
		fg := use(p, "fg", "read", "enkelvoudiginformatieobject", "coordinatiedossier", null, "verantwoording")
		count(relations.deny) == 0 with input as fg
		count(relations.deny) == 0 with input as object.union(fg, {"resource": {"properties": {"relation": rel([], false)}}})

		# Not for another purpose, and not for the fg of another organisation.
		relations.deny == {"N1"} with input as object.union(fg, {"context": {"purpose": "onderzoek_hulpvraag"}})
		relations.deny == {"N1"} with input as object.union(fg, {"subject": {"properties": {"controlling_org": false}}})
	}
}

test_n2_zvh_reads_only_handed_over_zaken if {
	every p in lib_test.profiles {
		every type in relations.bound_types {
			count(relations.deny) == 0 with input as use(p, "zvh_medewerker", "read", type, "algemeen", rel(["zvh_overdracht"], false), "zvh_overdracht")
			relations.deny == {"N2"} with input as use(p, "zvh_medewerker", "read", type, "algemeen", rel(["casusoverleg", "overig"], false), "zvh_overdracht")
		}
		relations.deny == {"N1", "N2"} with input as use(p, "zvh_medewerker", "read", "zaak", "algemeen", rel([], false), "zvh_overdracht")
		relations.deny == {"N1", "N2"} with input as use(p, "zvh_medewerker", "read", "zaak", "algemeen", null, "zvh_overdracht")
		relations.messages.N2 == "Deze zaak is niet overgedragen aan uw Zorg- en Veiligheidshuis." with input as use(p, "zvh_medewerker", "read", "zaak", "algemeen", rel(["overig"], false), "zvh_overdracht")
	}
}

# METADATA
# title: Handover rol created
# description: A create of a handover rol by role with the given relation kinds and recipient.
handover(p, role, kinds, recipient) := object.union(
	use(p, role, "create", "rol", "algemeen", rel(kinds, false), "gecoordineerde_aanpak"),
	{"context": {"handover": true, "handover_recipient": recipient}},
)

test_n2_handover_by_the_related_coordinator if {
	every p in lib_test.profiles {
		inp := handover(p, "coordinator", ["coordinator"], "zvh-midden")
		count(relations.deny) == 0 with input as inp
		relations.notes == {"N2"} with input as inp
		relations.obligations == {{"type": "record_recipient", "recipient": "zvh-midden"}} with input as inp

		# Through the whole decision: allowed (R1, the coordinator writes algemeen) with the recipient.
		res := authz.decision with input as inp
		res.decision == true
		res.reasons == ["N2", "R1"]
		res.obligations == [{"type": "record_recipient", "recipient": "zvh-midden"}]
	}
}

test_n2_handover_by_anyone_else_denied if {
	every p in lib_test.profiles {
		relations.deny == {"N2"} with input as handover(p, "consulent", ["behandelaar"], "zvh-midden")
		relations.deny == {"N1", "N2"} with input as handover(p, "coordinator", [], "zvh-midden")
		relations.deny == {"N2"} with input as handover(p, "coordinator", ["coordinator"], null)
		relations.deny == {"N2"} with input as handover(p, "coordinator", ["coordinator"], "")
		count(relations.notes) == 0 with input as handover(p, "consulent", ["behandelaar"], "zvh-midden")
		count(relations.obligations) == 0 with input as handover(p, "consulent", ["behandelaar"], "zvh-midden")

		res := authz.decision with input as handover(p, "consulent", ["behandelaar"], "zvh-midden")
		res.decision == false
		res.deny_reason == "N2"
		startswith(res.reason_user, "Alleen de coördinator die bij de zaak betrokken is")
		res.obligations == []
	}

	# An ordinary rol is no handover; a rol naming a recipient is one, also without the flag.
	ordinary := object.union(handover("knmg", "consulent", ["behandelaar"], null), {"context": {"handover": false}})
	count(relations.deny) == 0 with input as ordinary
	count(relations.deny) == 0 with input as json.remove(ordinary, ["context/handover", "context/handover_recipient"])
	relations.deny == {"N2"} with input as json.remove(handover("knmg", "consulent", ["behandelaar"], "x"), ["context/handover"])
	relations.deny == {"N2"} with input as json.remove(handover("knmg", "consulent", ["behandelaar"], "x"), ["context/handover_recipient"])
	relations.notes == {"N2"} with input as json.remove(handover("knmg", "coordinator", ["coordinator"], "x"), ["context/handover"])
}

test_n3_casusoverleg_participant_needs_its_rol if {
	every p in lib_test.profiles {
		every type in relations.bound_types {
			count(relations.deny) == 0 with input as use(p, "casusoverleg_deelnemer", "read", type, "algemeen", rel(["casusoverleg"], false), "casusoverleg")
			relations.deny == {"N3"} with input as use(p, "casusoverleg_deelnemer", "read", type, "algemeen", rel(["zvh_overdracht"], false), "casusoverleg")
		}
		relations.deny == {"N1", "N3"} with input as use(p, "casusoverleg_deelnemer", "read", "zaak", "algemeen", rel([], false), "casusoverleg")

		# What it wrote itself it reads back (N1 and N3).
		count(relations.deny) == 0 with input as use(p, "casusoverleg_deelnemer", "read", "enkelvoudiginformatieobject", "algemeen", rel([], true), "casusoverleg")
	}
}

# METADATA
# title: Link created
# description: A create of a zaakinformatieobject with the relations to the zaak and to the document.
link(p, role, zaak_relation, document_relation) := object.union(
	use(p, role, "create", "zaakinformatieobject", "algemeen", zaak_relation, "onderzoek_hulpvraag"),
	{"resource": {"properties": {"document_relation": document_relation}}},
)

test_n4_link_needs_both_relations if {
	every p in lib_test.profiles {
		count(relations.deny) == 0 with input as link(p, "consulent", rel(["behandelaar"], false), rel([], true))
		count(relations.deny) == 0 with input as link(p, "consulent", rel(["behandelaar"], false), rel(["overig"], false))
		relations.deny == {"N4"} with input as link(p, "consulent", rel(["behandelaar"], false), rel([], false))
		relations.deny == {"N4"} with input as link(p, "consulent", rel(["behandelaar"], false), null)
		relations.deny == {"N4"} with input as json.remove(link(p, "consulent", rel(["behandelaar"], false), null), ["resource/properties/document_relation"])
		relations.deny == {"N1", "N4"} with input as link(p, "consulent", rel([], false), rel([], true))
		relations.deny == {"N1", "N4"} with input as link(p, "consulent", null, rel([], true))
	}
}

test_n4_provider_links_what_it_sent if {
	every p in lib_test.profiles {
		inp := link(p, "aanbieder", rel(["behandelaar"], false), rel([], true))
		relations.allow == {"N4"} with input as inp
		count(relations.deny) == 0 with input as inp

		# Not a document it relates to only through another zaak, not without the zaak, and
		# not by a college role (those link under their category rules).
		count(relations.allow) == 0 with input as link(p, "aanbieder", rel(["behandelaar"], false), rel(["overig"], false))
		count(relations.allow) == 0 with input as link(p, "aanbieder", rel([], false), rel([], true))
		count(relations.allow) == 0 with input as link(p, "consulent", rel(["behandelaar"], false), rel([], true))
	}
}

test_switch_off_decides_nothing if {
	every p in lib_test.profiles {
		inputs := [
			use("uit", "consulent", "read", "zaak", "algemeen", rel([], false), "onderzoek_hulpvraag"),
			use("uit", "consulent", "read", "zaak", "algemeen", null, "onderzoek_hulpvraag"),
			use("uit", "zvh_medewerker", "read", "zaak", "algemeen", rel(["overig"], false), "zvh_overdracht"),
			use("uit", "casusoverleg_deelnemer", "read", "zaak", "algemeen", rel(["overig"], false), "casusoverleg"),
			handover("uit", "consulent", [], null),
			handover("uit", "coordinator", ["coordinator"], "zvh-midden"),
			link("uit", "consulent", rel([], false), rel([], false)),
			link("uit", "aanbieder", rel(["behandelaar"], false), rel([], true)),
		]
		every inp in inputs {
			count(relations.deny) == 0 with input as inp with data.profiles.uit as off(p)
			count(relations.allow) == 0 with input as inp with data.profiles.uit as off(p)
			count(relations.notes) == 0 with input as inp with data.profiles.uit as off(p)
			count(relations.obligations) == 0 with input as inp with data.profiles.uit as off(p)
		}

		# The same inputs with the switch on.
		on := data.profiles[p]
		relations.deny == {"N1"} with input as inputs[0] with data.profiles.uit as on
		relations.deny == {"N1", "N2"} with input as inputs[4] with data.profiles.uit as on
		relations.notes == {"N2"} with input as inputs[5] with data.profiles.uit as on
		relations.deny == {"N1", "N4"} with input as inputs[6] with data.profiles.uit as on
		relations.allow == {"N4"} with input as inputs[7] with data.profiles.uit as on

		# The whole decision: a consulent without a relation reads by its role alone.
		res := authz.decision with input as inputs[0] with data.profiles.uit as off(p)
		res.decision == true
		res.reasons == ["R1"]
	}
}

test_switch_need_to_know_in_both_profiles if {
	every p in lib_test.profiles {
		data.profiles[p].need_to_know == true
		relations.need_to_know with input as lib_test.mk(p, {})
		authz.profile_valid with input as lib_test.mk(p, {})
	}
	not relations.need_to_know with input as lib_test.mk("knmg", {}) with data.profiles.knmg as off("knmg")
}

# METADATA
# title: Coordination dossier use
# description: A use of coordination-dossier data (a document) by role with the given relation.
dossier(p, role, action, relation) := use(p, role, action, "enkelvoudiginformatieobject", "coordinatiedossier", relation, "gecoordineerde_aanpak")

test_r5_the_coordinator_appointed_on_the_zaak if {
	every p in lib_test.profiles {
		every action in ["read", "update"] {
			read.allow == {"R5"} with input as dossier(p, "coordinator", action, rel(["coordinator"], false))
			read.deny == {"R5"} with input as dossier(p, "coordinator", action, rel(["behandelaar"], false))
			read.deny == {"R5"} with input as dossier(p, "coordinator", action, null)
		}

		# What it wrote itself (e.g. before linking it), and creating dossier documents.
		read.allow == {"R5"} with input as dossier(p, "coordinator", "read", rel([], true))
		read.allow == {"R5"} with input as dossier(p, "coordinator", "create", null)
		read.allow == {"R5"} with input as use(p, "coordinator", "create", "zaak", "coordinatiedossier", null, "gecoordineerde_aanpak")

		# Other college roles as before, with a relation (N1).
		read.allow == {"R5"} with input as dossier(p, "consulent", "read", rel(["behandelaar"], false))
		read.deny == {"R5"} with input as dossier(p, "consulent", "update", rel(["behandelaar"], false))
		read.deny == {"R5"} with input as dossier(p, "medisch_adviseur", "read", rel(["medisch_adviseur"], false))
		relations.deny == {"N1"} with input as dossier(p, "consulent", "read", rel([], false))
	}
}

test_r5_without_need_to_know_by_role if {
	every p in lib_test.profiles {
		not_appointed := dossier(p, "coordinator", "update", rel(["behandelaar"], false))
		read.allow == {"R5"} with input as not_appointed with data.profiles.knmg as off("knmg") with data.profiles.wetsvoorstel as off("wetsvoorstel")
		read.deny == {"R5"} with input as not_appointed

		# An outside coordinator has no role-based access.
		outside := object.union(dossier(p, "coordinator", "read", rel(["coordinator"], false)), {"subject": {"properties": {"controlling_org": false, "org": "regie-extern"}}})
		read.deny == {"R5"} with input as outside with data.profiles.knmg as off("knmg") with data.profiles.wetsvoorstel as off("wetsvoorstel")
		read.allow == {"R5"} with input as outside
	}
}

# METADATA
# title: Coordinator from another organisation
# description: The coordinator of organisation regie-extern uses the dossier with the given relation and labels.
outside_coordinator(p, action, relation, labels) := object.union(dossier(p, "coordinator", action, relation), {
	"subject": {"properties": {"controlling_org": false, "org": "regie-extern"}},
	"resource": {"properties": {"labels": labels}},
})

# METADATA
# title: Provider labels
# description: Labels of data a provider without secrecy sent in with the sticky condition geen_verdere_verstrekking.
provider_labels := {
	"grondslag": "lid1", "voorwaarden": ["geen_verdere_verstrekking"], "provider_sent": true,
	"review_by_fg": false, "source_role": "aanbieder", "source_org": "wijkteam",
	"source_controlling_org": false, "source_secrecy": "geen",
}

test_r5_appointed_outside_coordinator_is_no_onward_disclosure if {
	every p in lib_test.profiles {
		every labels in [null, provider_labels] {
			inp := outside_coordinator(p, "read", rel(["coordinator"], false), labels)
			not disclosure.onward with input as inp
			count(disclosure.deny) == 0 with input as inp
			res := authz.decision with input as inp
			res.decision == true
			res.reasons == ["R5"]
			res.obligations == [{"type": "record_recipient", "recipient": "regie-extern"}]
		}

		# It writes its dossier too (no recipient: nothing is released).
		res_update := authz.decision with input as outside_coordinator(p, "update", rel(["coordinator"], false), null)
		res_update.decision == true
		res_update.obligations == []

		# Not appointed on this zaak: R5 denies, and it is onward disclosure again.
		other := outside_coordinator(p, "read", rel(["overig"], false), provider_labels)
		disclosure.onward with input as other
		res_other := authz.decision with input as other
		res_other.decision == false
		"R5" in res_other.reasons
		"O1" in res_other.reasons

		# Without its organisation it cannot be recorded as recipient: onward rules apply.
		anonymous := json.remove(outside_coordinator(p, "read", rel(["coordinator"], false), provider_labels), ["subject/properties/org"])
		disclosure.onward with input as anonymous
		"O1" in authz.decision.reasons with input as anonymous
	}
}

test_r5_outside_coordinator_keeps_the_medical_gates if {
	# Data a secrecy holder sent (geheimhouder_data_medisch in knmg) is for the medical adviser,
	# whichever organisation the coordinator is from.
	holder := object.union(provider_labels, {
		"voorwaarden": [], "grondslag": "toestemming", "purpose": "gecoordineerde_aanpak",
		"source_secrecy": "wettelijk",
	})
	res := authz.decision with input as outside_coordinator("knmg", "read", rel(["coordinator"], false), holder)
	res.decision == false
	res.deny_reason == "R2"
	res_w := authz.decision with input as outside_coordinator("wetsvoorstel", "read", rel(["coordinator"], false), holder)
	res_w.decision == true
	res_w.reasons == ["R5"]
}

test_decisions_with_relations if {
	every p in lib_test.profiles {
		no_relation := authz.decision with input as use(p, "consulent", "read", "zaak", "algemeen", rel([], false), "onderzoek_hulpvraag")
		no_relation.decision == false
		no_relation.reasons == ["N1", "R1"]
		no_relation.deny_reason == "N1"
		no_relation.reason_user == relations.messages.N1

		# The more specific N2 and N4 texts come before N1.
		zvh := authz.decision with input as use(p, "zvh_medewerker", "read", "zaak", "algemeen", null, "zvh_overdracht")
		zvh.deny_reason == "N2"
		unlinked := authz.decision with input as link(p, "consulent", rel([], false), null)
		unlinked.deny_reason == "N4"

		# The provider sends X-Herkomst with the link as with any create (I9).
		linked := authz.decision with input as object.union(
			link(p, "aanbieder", rel(["behandelaar"], false), rel([], true)),
			{"context": {"herkomst": {"grondslag": "lid1"}}},
		)
		linked.decision == true
		linked.reasons == ["N4"]
	}
}

# METADATA
# title: List item
# description: A batch item, an algemeen document related through the given zaken with the given kinds.
item(zaken, kinds) := {"resource": {
	"type": "enkelvoudiginformatieobject",
	"id": concat("-", zaken),
	"properties": {"category": "algemeen", "labels": null, "relation": {"kinds": kinds, "zaken": zaken, "writer": false}},
}}

test_batch_items_decided_by_their_relation if {
	# Items of one list: related through different zaken (one batch key), or not related.
	every p in lib_test.profiles {
		inp := lib_test.mk(p, {
			"action": {"name": "list"},
			"resource": {"id": null, "properties": {"category": null, "labels": null, "relation": null}},
			"evaluations": [item(["a"], ["behandelaar"]), item(["b"], ["behandelaar"]), item([], []), item(["c"], ["overig"])],
		})
		res := authz.decision with input as inp
		res.decision == true
		[e.decision | some e in res.evaluations] == [true, true, false, true]
		res.evaluations[2].reasons == ["N1", "R1"]
	}
}

test_a_provider_reads_back_what_it_sent_whole if {
	every p in lib_test.profiles {
		# Its own medical document, sent in with a stored sender (provider data), linked to no zaak:
		# the whole decision allows it, and not as an onward disclosure.
		own := object.union(
			use(p, "aanbieder", "read", "enkelvoudiginformatieobject", "medisch", rel([], true), "onderzoek_hulpvraag"),
			{
				"subject": {"properties": {"org": "huisarts-de-linde", "controlling_org": false}},
				"resource": {"properties": {"labels": {
					"grondslag": "lid1", "voorwaarden": ["geen_verdere_verstrekking"], "provider_sent": true,
					"source_role": "aanbieder", "source_org": "huisarts-de-linde", "source_controlling_org": false,
					"source_secrecy": "geen", "review_by_fg": false, "purpose": "onderzoek_hulpvraag",
				}}},
			},
		)
		d := authz.decision with input as own
		d.decision == true
		"N1" in d.reasons
		not disclosure.onward with input as own

		# Someone else's document (writer false) is not its to read, related or not.
		other := object.union(own, {"resource": {"properties": {"relation": {"kinds": ["behandelaar"], "writer": false}}}})
		od := authz.decision with input as other
		od.decision == false

		# Reading back is reading: it does not let a provider change what it sent.
		upd := object.union(own, {"action": {"name": "update"}})
		ud := authz.decision with input as upd
		ud.decision == false
	}
}
