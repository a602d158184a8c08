# METADATA
# title: Need-to-know per case (N1-N4)
# description: >-
#   Access to a zaak and to what belongs to it (its rollen, the documents linked to it, the
#   links themselves, and so its coordination dossier) follows the relations the case system
#   holds: a rol on the zaak naming the subject, one of its teams or its organisation, or the
#   subject having created the zaak through the sidecar. The sidecar puts the subject's
#   relation to the object in input.resource.properties.relation ({"kinds", "zaken",
#   "writer"}; null where not determined) and, for a link being created, its relation to the
#   document in input.resource.properties.document_relation. Under the profile switch
#   need_to_know; when it is false this package decides nothing (R5 then falls back to the
#   role alone). The fg of a controlling organisation acting for verantwoording needs no
#   relation.
# custom:
#   source: >-
#     AVG art. 5 lid 1 onder c (minimale gegevensverwerking) en art. 25 lid 2; brief KNMG c.s.
#     2 maart 2023, § Hergebruik en proportionaliteit, § Artikel 5.4.3 Wams, § Zorg- en
#     veiligheidshuizen; docs/rules.md "Need-to-know and consent rules"
package wams.relations

import data.wams.lib

# METADATA
# title: Switch need_to_know
# description: The profile makes access follow the case relations.
need_to_know if lib.profile.need_to_know == true

# METADATA
# title: Case-bound resource types
# description: >-
#   The resources whose access follows a zaak: a rol, a link (the Zaken API's
#   zaakinformatieobject and its Documenten API mirror, objectinformatieobject), a status, a
#   resultaat and a zaakobject belong to their zaak.
bound_types := {
	"zaak", "rol", "enkelvoudiginformatieobject", "zaakinformatieobject", "objectinformatieobject",
	"status", "resultaat", "zaakobject",
}

# METADATA
# title: Relation kinds to the zaak
# description: >-
#   The strings in relation.kinds: the subject's relation kinds (roltype mapping, plus creator)
#   to the zaken the object belongs to. Empty when the relation is null, missing or malformed.
kinds := string_set(object.get(input.resource.properties, "relation", null))

# METADATA
# title: Relation determined
# description: The sidecar sent a relation object (null means not determined for this request).
determined if is_object(input.resource.properties.relation)

# METADATA
# title: Writer
# description: The subject wrote this object itself through the sidecar (relation.writer true).
writer if input.resource.properties.relation.writer == true

# METADATA
# title: Related
# description: The subject has a relation to the object's zaak, or wrote the object itself.
related if count(kinds) > 0

related if writer

# METADATA
# title: Kinds of a relation object
# description: The strings in r.kinds when r is an object with a kinds array; else empty.
string_set(r) := {k | some k in r.kinds; is_string(k)} if {
	is_object(r)
	is_array(r.kinds)
} else := set()

# METADATA
# title: Create with nothing to relate to
# description: >-
#   A create of a zaak or of a document: no zaak exists for it yet, so no relation can be
#   required (a document links to a zaak later, under N4).
creates_unbound if {
	lib.action == "create"
	lib.resource_type in {"zaak", "enkelvoudiginformatieobject"}
}

# METADATA
# title: Relation not needed yet
# description: >-
#   No relation was determined while the category is not known either and nothing is
#   created: the purpose-only request phase of a read, or the collection of a list. The
#   sidecar decides again on the object itself (response phase, each item of a list), and
#   there a missing relation denies. Every other decision on a case-bound resource needs one.
undetermined_allowed if {
	not determined
	lib.category == null
	lib.action != "create"
}

# METADATA
# title: Need-to-know applies
# description: >-
#   The request uses a case-bound resource under need_to_know, in a decision that must know
#   the relation; the fg of a controlling organisation acting for verantwoording is exempt.
applies if {
	need_to_know
	lib.resource_type in bound_types
	lib.reads_or_writes
	not creates_unbound
	not undetermined_allowed
	not lib.fg_verantwoording
}

# METADATA
# title: N1 no relation to the case
# description: >-
#   Reading or writing a zaak, its rollen, its documents, its zaakinformatieobjecten (and so
#   its coordination dossier) without a relation: no relation kind and not the object's
#   writer. A relation the sidecar should have sent but did not (null or missing) denies
#   (fail closed). A provider reads back what it wrote (writer); a document linked to no zaak
#   is therefore visible only to its writer (and the fg for verantwoording). Creating a zaak
#   or a document needs no relation; creating a rol or a link needs one to its zaak.
# custom:
#   id: N1
#   source: >-
#     AVG art. 5 lid 1 onder c en art. 25 lid 2 (alleen wie bij de zaak betrokken is);
#     brief KNMG c.s. 2 maart 2023, § Hergebruik en proportionaliteit
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
n1_zonder_relatie if {
	not related
	applies
}

# METADATA
# title: N2 zaak not handed over to the ZVH
# description: >-
#   A zvh_medewerker uses a zaak, its rollen or its documents only when the zaak was handed
#   over to its organisation: zvh_overdracht among the relation kinds (a handover rol naming
#   its organisation), or it wrote the object itself. O1-O4 still decide what is released.
# custom:
#   id: N2
#   source: brief KNMG c.s. 2 maart 2023, § Zorg- en veiligheidshuizen (proportionele gegevensdeling)
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
n2_niet_overgedragen if {
	lib.role == "zvh_medewerker"
	applies
	not "zvh_overdracht" in kinds
	not writer
}

# METADATA
# title: Handover rol
# description: >-
#   The request creates a rol of a handover roltype (context.handover true, set by the sidecar
#   from the roltype): the zaak is handed over to a Zorg- en Veiligheidshuis. A rol that names
#   a handover recipient (context.handover_recipient not null) is one too, so that leaving
#   either key out does not turn a handover into an ordinary rol (fail closed).
handover if {
	lib.action == "create"
	lib.resource_type == "rol"
	input.context.handover == true
}

handover if {
	lib.action == "create"
	lib.resource_type == "rol"
	object.get(input.context, "handover_recipient", null) != null
}

# METADATA
# title: Handover recipient
# description: The organisation the handover rol names (context.handover_recipient, a non-empty string).
handover_recipient := r if {
	r := input.context.handover_recipient
	is_string(r)
	r != ""
}

# METADATA
# title: Handover permitted
# description: >-
#   A coordinator related to the zaak (a relation kind) hands it over, and the rol names the
#   receiving organisation so that it can be recorded as recipient.
handover_permitted if {
	lib.role == "coordinator"
	count(kinds) > 0
	handover_recipient
}

# METADATA
# title: N2 handover by someone else
# description: >-
#   Creating the handover rol is for the coordinator related to the zaak, and the rol must
#   name the receiving organisation (else the recipient cannot be recorded: fail closed).
#   Anyone else, or a rol without that organisation, is denied. An allowed handover records
#   the recipient (record_recipient).
# custom:
#   id: N2
#   source: >-
#     brief KNMG c.s. 2 maart 2023, § Zorg- en veiligheidshuizen (de coördinator draagt een
#     casus over aan een Zorg- en Veiligheidshuis; proportionele gegevensdeling)
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
n2_overdracht_door_ander if {
	handover
	need_to_know
	not handover_permitted
}

# METADATA
# title: N2 handover allowed
# description: The handover rol is created by the related coordinator; its recipient is recorded.
# custom:
#   id: N2
#   source: brief KNMG c.s. 2 maart 2023, § Zorg- en veiligheidshuizen
#   outcome: {"wetsvoorstel": "AO", "knmg": "AO"}
#   outcome_note: the allowed handover by the related coordinator, recipient recorded
n2_overdracht if {
	handover
	need_to_know
	handover_permitted
}

# METADATA
# title: N3 no casusoverleg rol on the zaak
# description: >-
#   A casusoverleg_deelnemer uses a zaak and its objects only when it holds a casusoverleg
#   rol on that zaak (casusoverleg among the relation kinds), or wrote the object itself.
# custom:
#   id: N3
#   source: >-
#     Wams art. 5.4.3 lid 1 (de gegevens die noodzakelijk zijn voor de bespreking in het
#     casusoverleg); brief KNMG c.s. 2 maart 2023, § Artikel 5.4.3 Wams
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
n3_geen_casusoverleg if {
	lib.role == "casusoverleg_deelnemer"
	applies
	not "casusoverleg" in kinds
	not writer
}

# METADATA
# title: Link created
# description: The request links a document to a zaak (creates a zaakinformatieobject).
links if {
	lib.action == "create"
	lib.resource_type == "zaakinformatieobject"
}

# METADATA
# title: Relation to the document being linked
# description: >-
#   document_relation shows a relation to the document: the subject wrote it, or relates to
#   a zaak it is already linked to. Null, missing or malformed is no relation.
document_related if input.resource.properties.document_relation.writer == true

document_related if count(string_set(object.get(input.resource.properties, "document_relation", null))) > 0

# METADATA
# title: Related to both
# description: The subject relates to the zaak (a relation kind) and to the document.
linked_by_related if {
	count(kinds) > 0
	document_related
}

# METADATA
# title: N4 link without a relation to both
# description: >-
#   Linking a document to a zaak needs a relation to the zaak (a relation kind) and to the
#   document (its writer, or related to a zaak it is linked to); otherwise anyone could pull
#   any document into their own case, or any case into view of their own document.
# custom:
#   id: N4
#   source: AVG art. 5 lid 1 onder b en c, art. 25 lid 2; docs/rules.md N4
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
n4_koppeling_zonder_relatie if {
	links
	need_to_know
	not linked_by_related
}

# METADATA
# title: N4 provider links what it sent
# description: >-
#   A party that sends data in (aanbieder, burgemeester_wvggz, casusoverleg_deelnemer) links a
#   document it wrote itself to a zaak it relates to. The college roles link under their
#   category rules (R1, R3, R5).
# custom:
#   id: N4
#   source: docs/rules.md N4
#   outcome: {"wetsvoorstel": "A", "knmg": "A"}
#   outcome_note: the allow side; only for a document the sender wrote itself
n4_aanbieder_koppelt if {
	links
	need_to_know
	lib.role in lib.ingest_roles
	count(kinds) > 0
	input.resource.properties.document_relation.writer == true
}

# METADATA
# title: Coordinator of this case
# description: >-
#   Under need_to_know, a coordinator appointed on the object's zaak (coordinator among the
#   relation kinds), also one from another organisation, or the coordinator that wrote the
#   object itself. R5 lets it read and write the coordination dossier.
case_coordinator if {
	need_to_know
	lib.resource_type in bound_types
	lib.role == "coordinator"
	"coordinator" in kinds
}

case_coordinator if {
	need_to_know
	lib.resource_type in bound_types
	lib.role == "coordinator"
	writer
}

# METADATA
# scope: document
# title: Its own coordination dossier
# description: >-
#   The case coordinator uses coordination-dossier data of its own case. One from outside the
#   controlling organisations only when its organisation is known: under the bill the
#   appointed coordinator keeps the dossier for the college, so this is not onward disclosure
#   (wams.disclosure leaves it out), but the recipient is recorded.
own_coordination_dossier if {
	lib.category == "coordinatiedossier"
	case_coordinator
	lib.controlling_org
}

own_coordination_dossier if {
	lib.category == "coordinatiedossier"
	case_coordinator
	not lib.controlling_org
	lib.recipient_known
}

# METADATA
# title: N1 a provider reads back what it sent
# description: >-
#   An aanbieder reads (reads, lists, downloads) what it wrote itself through the sidecar
#   (relation.writer): the data came from it, so giving it back is neither a new disclosure nor
#   onward (the onward-disclosure rules do not apply to it). The ground and consent rules for the
#   data still do (I2, I10).
# custom:
#   id: N1
#   source: >-
#     Wams art. 5.4.2 (de aanbieder verstrekt; wat hij zelf verstrekte kan hij teruglezen);
#     docs/rules.md N1 (an aanbieder may read back what it wrote)
#   outcome: {"wetsvoorstel": "A", "knmg": "A"}
provider_reads_back if {
	lib.role == "aanbieder"
	reads_own_writing
}

# METADATA
# title: Reads its own writing
# description: A read of an object the subject wrote itself through the sidecar, its category known.
reads_own_writing if {
	lib.is_read
	writer
	lib.category != null
}

# METADATA
# scope: document
# title: Deny reasons
# description: Ids of the need-to-know rules that deny the request.
deny contains "N1" if n1_zonder_relatie

deny contains "N2" if n2_niet_overgedragen

deny contains "N2" if n2_overdracht_door_ander

deny contains "N3" if n3_geen_casusoverleg

deny contains "N4" if n4_koppeling_zonder_relatie

# METADATA
# title: Allow reasons
# description: Ids of the need-to-know rules that allow the request.
allow contains "N4" if n4_aanbieder_koppelt

allow contains "N1" if provider_reads_back

# METADATA
# title: Notes
# description: Ids of need-to-know rules that fired and allow without granting (the handover).
notes contains "N2" if n2_overdracht

# METADATA
# scope: document
# title: Obligations
# description: >-
#   An allowed handover records the receiving organisation; a coordinator outside the
#   controlling organisations reading its own coordination dossier is recorded as recipient.
obligations contains {"type": "record_recipient", "recipient": handover_recipient} if n2_overdracht

obligations contains lib.record_recipient if {
	own_coordination_dossier
	not lib.controlling_org
	lib.is_read
}

# METADATA
# title: User messages
# description: Dutch text for each deny id of this package; N2 for the situation that applies.
messages := {
	"N1": "U bent niet betrokken bij deze zaak (geen rol op de zaak); alleen wie bij de zaak betrokken is, heeft toegang.",
	"N2": n2_message,
	"N3": "U heeft geen rol in het casusoverleg over deze zaak.",
	"N4": "Een document kan alleen aan een zaak worden gekoppeld door wie bij zowel de zaak als het document betrokken is.",
}

# METADATA
# scope: document
# title: N2 message
# description: The handover text while a handover is denied, else the text for reading a zaak not handed over.
n2_message := "Alleen de coördinator die bij de zaak betrokken is, kan een zaak overdragen aan een Zorg- en Veiligheidshuis, en alleen met de ontvangende organisatie erbij." if {
	n2_overdracht_door_ander
} else := "Deze zaak is niet overgedragen aan uw Zorg- en Veiligheidshuis."
