# METADATA
# title: Reading and writing inside the college (R1-R5)
# description: >-
#   What the college roles (consulent, coordinator, medisch_adviseur) inside the controlling
#   organisation may read and write, by category. Onward disclosure is wams.disclosure.
# custom:
#   source: brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams, § Coördinatiefunctie, § Wvggz en Wzd
package wams.read

import data.wams.lib

# METADATA
# title: Consulent or coordinator
# description: The college roles without their own professional secrecy.
non_medical_roles := {"consulent", "coordinator"}

# METADATA
# title: R1 college reads or writes algemeen
# description: >-
#   consulent, coordinator or medisch_adviseur reads general data for an allowed purpose. The
#   college also writes its own algemeen data (e.g. creates the zaak of an investigation):
#   our reading, as the college is the controller of that data.
# custom:
#   id: R1
#   source: Wams art. 2.3a.1 en 5.4.1; docs/rules.md R1
#   outcome: {"wetsvoorstel": "A", "knmg": "A"}
r1_algemeen if {
	lib.category == "algemeen"
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
	lib.category == "medisch"
	lib.controlling_org
	lib.is_read
	lib.role in non_medical_roles
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
# description: The medisch_adviseur, with its own professional secrecy, reads and writes medical data.
# custom:
#   id: R3
#   source: >-
#     brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams (verwerking door of onder
#     verantwoordelijkheid van een medisch adviseur)
#   outcome: {"wetsvoorstel": "A", "knmg": "A"}
r3_medisch_adviseur if {
	lib.category == "medisch"
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
#   The coordinator reads and writes the coordination dossier, the consulent reads it, the fg
#   reads it only for verantwoording; anyone else is denied. By role for now: checking the
#   appointment to the specific case follows when the upstream exposes it. Not applied to
#   rol resources (those are the K rules).
# custom:
#   id: R5
#   source: brief KNMG c.s. 2 maart 2023, § Coördinatiefunctie, vraag c
#   outcome: {"wetsvoorstel": "A", "knmg": "A"}
r5_coordinatiedossier if {
	lib.category == "coordinatiedossier"
	lib.resource_type != "rol"
	lib.reads_or_writes
}

# METADATA
# scope: document
# title: R5 subject fits
# description: The subject may use the coordination dossier this way.
r5_past if {
	lib.controlling_org
	lib.role == "coordinator"
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
# scope: document
# title: Allow reasons
# description: Ids of the read rules that allow the request.
allow contains "R1" if r1_algemeen

allow contains "R2" if {
	r2_medisch
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
	"R2": "Medische gegevens zijn alleen toegankelijk voor de medisch adviseur.",
	"R4": "Deze stukken (Wvggz/Wzd of onbekend type) zijn alleen toegankelijk voor de medisch adviseur.",
	"R5": "Het coördinatiedossier is alleen toegankelijk voor de coördinator (en lezend voor de consulent).",
}
