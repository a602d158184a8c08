# METADATA
# title: Reading and writing inside the college (R1-R5) and consent on use (I2, I10)
# description: >-
#   What the college roles (consulent, coordinator, medisch_adviseur) inside the controlling
#   organisation may read and write, by category; data a secrecy holder sent is gated like
#   medisch under geheimhouder_data_medisch. Also the limits consent puts on every later use,
#   by anyone: purpose-bound consent (I2) and withdrawn consent (I10). Onward disclosure is
#   wams.disclosure.
# custom:
#   source: >-
#     brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams, § Coördinatiefunctie, § Wvggz en Wzd;
#     AVG art. 6 lid 1 onder a en art. 7 lid 3
package wams.read

import data.wams.lib
import data.wams.relations

# METADATA
# title: Consulent or coordinator
# description: The college roles without their own professional secrecy.
non_medical_roles := {"consulent", "coordinator"}

# METADATA
# title: R1 college reads or writes algemeen
# description: >-
#   consulent, coordinator or medisch_adviseur reads general data for an allowed purpose. The
#   college also writes its own algemeen data (e.g. creates the zaak of an investigation):
#   our reading, as the college is the controller of that data. Not for algemeen data a
#   secrecy holder sent under geheimhouder_data_medisch: that is gated like medisch (R2, R3).
# custom:
#   id: R1
#   source: Wams art. 2.3a.1 en 5.4.1; docs/rules.md R1
#   outcome: {"wetsvoorstel": "A", "knmg": "A"}
r1_algemeen if {
	lib.effective_category == "algemeen"
	lib.controlling_org
	lib.role in lib.college_roles
	lib.reads_or_writes
}

# METADATA
# title: R2 consulent or coordinator reads medisch
# description: >-
#   Allowed unless the profile switch medisch_alleen_adviseur is true or the data carries the
#   sticky condition alleen_medisch_adviseur.
# custom:
#   id: R2
#   source: >-
#     AVG art. 9; brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams en § Coördinatiefunctie
#     (vraag: alleen een medisch adviseur neemt kennis van medische gegevens)
#   outcome: {"wetsvoorstel": "A", "knmg": "D"}
r2_medisch if {
	lib.effective_category == "medisch"
	r2_lezer
}

# METADATA
# title: R2 data a secrecy holder sent is gated like medisch
# description: >-
#   Under the profile switch geheimhouder_data_medisch, data a provider with statutory
#   secrecy sent in (labels.source_secrecy wettelijk, or beroepscode under
#   beroepscode_als_wettelijk; labels without source_secrecy count as a holder's, see
#   wams.lib) is what the letter calls medical data, whatever its declared category: a
#   consulent or coordinator reads it only as it may read medisch. Algemeen data of a holder
#   counts as medisch (R1 does not grant it, R3 does); for the other categories this gate
#   comes on top of their own rules (R4, R5).
# custom:
#   id: R2
#   source: >-
#     brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams ("(medische) gegevens, verstrekt door
#     een zorgverlener met een beroepsgeheim, alleen [...] door of onder verantwoordelijkheid
#     van een medisch adviseur")
#   outcome: {"wetsvoorstel": "A", "knmg": "D"}
r2_geheimhouder_data if {
	lib.geheimhouder_data
	lib.effective_category != "medisch"
	r2_lezer
}

# METADATA
# title: R2 reader
# description: >-
#   A consulent or coordinator of a controlling organisation reads, or the coordinator of the
#   case (also one from another organisation, R5) reads its own coordination dossier.
r2_lezer if {
	lib.controlling_org
	lib.is_read
	lib.role in non_medical_roles
}

r2_lezer if {
	lib.is_read
	relations.own_coordination_dossier
}

# METADATA
# title: R2 sticky condition alleen_medisch_adviseur
# description: >-
#   Data a provider gave with the condition alleen_medisch_adviseur is released to nobody
#   but the medisch_adviseur, in any category (the condition is sticky).
# custom:
#   id: R2
#   source: Wams art. 5.4.2 (voorwaarden); brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams, vragen b-c
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
r2_alleen_medisch_adviseur if {
	lib.is_read
	"alleen_medisch_adviseur" in lib.voorwaarden
	lib.role != "medisch_adviseur"
}

# METADATA
# title: R2 allowed by the profile
# description: Medical data is not restricted to the medical adviser.
r2_toegestaan if lib.profile.medisch_alleen_adviseur == false

# METADATA
# title: R3 medical adviser reads or writes medisch
# description: >-
#   The medisch_adviseur, with its own professional secrecy, reads and writes medical data,
#   and algemeen data a secrecy holder sent under geheimhouder_data_medisch.
# custom:
#   id: R3
#   source: >-
#     brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams (verwerking door of onder
#     verantwoordelijkheid van een medisch adviseur)
#   outcome: {"wetsvoorstel": "A", "knmg": "A"}
r3_medisch_adviseur if {
	lib.effective_category == "medisch"
	lib.controlling_org
	lib.role == "medisch_adviseur"
	lib.reads_or_writes
}

# METADATA
# title: R4 reading Wvggz/Wzd documents (and onbekend)
# description: >-
#   A college role reads wvggz_wzd or onbekend data. medisch_adviseur may in every profile;
#   consulent and coordinator only for wvggz_wzd under wvggz_wzd_hergebruik iedereen_college,
#   and never for onbekend (protected at least as strictly as wvggz_wzd).
# custom:
#   id: R4
#   source: Wams art. 5.4.1-5.4.2; brief KNMG c.s. 2 maart 2023, § Wvggz en Wzd, vragen a-b
#   outcome: {"wetsvoorstel": "A", "knmg": "D"}
r4_wvggz_wzd if {
	lib.category in {"wvggz_wzd", "onbekend"}
	lib.controlling_org
	lib.is_read
	lib.role in lib.college_roles
}

# METADATA
# scope: document
# title: R4 reader fits
# description: The reader may read this wvggz_wzd or onbekend data under the profile.
r4_past if lib.role == "medisch_adviseur"

r4_past if {
	lib.role in non_medical_roles
	lib.category == "wvggz_wzd"
	lib.profile.wvggz_wzd_hergebruik == "iedereen_college"
}

# METADATA
# title: R5 coordination dossier
# description: >-
#   Under need_to_know the coordinator appointed on that zaak (a coordinator rol naming it),
#   also one from another organisation, reads and writes the coordination dossier, and so
#   does the coordinator that wrote the object itself; a coordinator creates a dossier
#   document (one of a controlling organisation also a dossier zaak), as there is no zaak to
#   be appointed on yet. The consulent reads it and the fg reads it only for verantwoording,
#   both with a relation to the zaak where N1 requires one; anyone else is denied. With
#   need_to_know off, any coordinator of a controlling organisation reads and writes it (by
#   role). The rollen of a coordination zaak are read the same way; creating them is the K
#   rules' business.
# custom:
#   id: R5
#   source: >-
#     brief KNMG c.s. 2 maart 2023, § Coördinatiefunctie (de coördinator, ook een partij buiten
#     de gemeente, is verwerkingsverantwoordelijke voor het coördinatiedossier), vraag c
#   outcome: {"wetsvoorstel": "A", "knmg": "A"}
r5_coordinatiedossier if {
	lib.category == "coordinatiedossier"
	lib.resource_type != "rol"
	lib.reads_or_writes
}

# Who is party to a coordination zaak (its rollen, which have the zaak's category) is read like the
# dossier; creating or removing a rol is the K rules' business.
r5_coordinatiedossier if {
	lib.category == "coordinatiedossier"
	lib.resource_type == "rol"
	lib.is_read
}

# METADATA
# scope: document
# title: R5 subject fits
# description: The subject may use the coordination dossier this way.
r5_past if {
	not relations.need_to_know
	lib.controlling_org
	lib.role == "coordinator"
}

r5_past if relations.own_coordination_dossier

r5_past if {
	relations.need_to_know
	lib.role == "coordinator"
	lib.action == "create"
	lib.resource_type == "enkelvoudiginformatieobject"
}

r5_past if {
	relations.need_to_know
	lib.controlling_org
	lib.role == "coordinator"
	lib.action == "create"
	lib.resource_type == "zaak"
}

r5_past if {
	lib.controlling_org
	lib.role == "consulent"
	lib.is_read
}

r5_past if {
	lib.controlling_org
	lib.role == "fg"
	lib.purpose == "verantwoording"
	lib.is_read
}

# METADATA
# title: Use other than reading the records
# description: >-
#   A read, update or delete of Wams data (not a create, which has no stored labels yet, and
#   not the decision records). Written with `not` so that a missing resource.type counts.
use if {
	lib.action in {"read", "list", "download", "update", "delete"}
	not lib.on_records
}

# METADATA
# title: I2 consent data used for another purpose
# description: >-
#   Under the profile switch toestemming_doelgebonden, data given with consent
#   (labels.grondslag toestemming) is used (read, updated or deleted) only for the purpose the
#   consent was given for: labels.purpose, the X-Doelbinding of the ingest. Labels without a
#   purpose (written before the key existed) fit no purpose (fail closed). The fg of a
#   controlling organisation acting for verantwoording is not a use for another purpose.
# custom:
#   id: I2
#   source: >-
#     AVG art. 6 lid 1 onder a (toestemming voor een of meer specifieke doeleinden) en art. 5
#     lid 1 onder b; brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams, vraag c en
#     § Hergebruik en proportionaliteit
#   outcome: {"wetsvoorstel": "A", "knmg": "D"}
i2_ander_doel if {
	lib.profile.toestemming_doelgebonden == true
	lib.labels.grondslag == "toestemming"
	use
	not toestemming_doel
	not lib.fg_verantwoording
}

# METADATA
# title: Consent purpose matches
# description: The request's purpose is the one stored with the consent data (labels.purpose).
toestemming_doel if {
	p := lib.labels.purpose
	is_string(p)
	p == lib.purpose
}

# METADATA
# title: I10 consent withdrawn
# description: >-
#   Any read (read, list, download) of data whose consent was withdrawn
#   (labels.toestemming_ingetrokken true), by anyone, in every profile; only the fg of a
#   controlling organisation acting for verantwoording still may. Labels missing from the
#   input count as withdrawn (fail closed).
# custom:
#   id: I10
#   source: AVG art. 7 lid 3 (intrekken van toestemming) en art. 17 lid 1 onder b; AVG art. 5 lid 2 (verantwoording)
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
i10_ingetrokken if {
	lib.is_read
	not lib.on_records
	lib.consent_withdrawn
	not lib.fg_verantwoording
}

# METADATA
# scope: document
# title: Allow reasons
# description: Ids of the read rules that allow the request.
allow contains "R1" if r1_algemeen

allow contains "R2" if {
	r2_medisch
	r2_toegestaan
}

allow contains "R2" if {
	r2_geheimhouder_data
	r2_toegestaan
}

allow contains "R3" if r3_medisch_adviseur

allow contains "R4" if {
	r4_wvggz_wzd
	r4_past
}

allow contains "R5" if {
	r5_coordinatiedossier
	r5_past
}

# METADATA
# scope: document
# title: Deny reasons
# description: Ids of the read rules that deny the request.
deny contains "R2" if {
	r2_medisch
	not r2_toegestaan
}

deny contains "R2" if r2_alleen_medisch_adviseur

deny contains "R2" if {
	r2_geheimhouder_data
	not r2_toegestaan
}

deny contains "I2" if i2_ander_doel

deny contains "I10" if i10_ingetrokken

deny contains "R4" if {
	r4_wvggz_wzd
	not r4_past
}

deny contains "R5" if {
	r5_coordinatiedossier
	not r5_past
}

# METADATA
# title: User messages
# description: Dutch text for each deny id of this package.
messages := {
	"I2": "Met toestemming verstrekte gegevens mogen alleen worden gebruikt voor het doel waarvoor de toestemming is gegeven.",
	"I10": "De betrokkene heeft de toestemming ingetrokken; deze gegevens worden niet meer verstrekt.",
	"R2": "Medische gegevens zijn alleen toegankelijk voor de medisch adviseur.",
	"R4": "Deze stukken (Wvggz/Wzd of onbekend type) zijn alleen toegankelijk voor de medisch adviseur.",
	"R5": "Het coördinatiedossier is alleen toegankelijk voor de coördinator van deze zaak (en lezend voor de consulent).",
}
