# METADATA
# title: Onward disclosure (O1-O4)
# description: >-
#   Releasing data to a subject outside the controlling organisations (controlling_org is
#   not true), e.g. a Zorg- en Veiligheidshuis. Sticky conditions and the profile switch
#   standaard_geen_verdere_verstrekking limit it; every allowed release records the recipient.
#   Under geheimhouder_data_medisch, algemeen data a secrecy holder sent counts as medisch
#   here too (lib.effective_category).
# custom:
#   source: brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams (vraag a) en § Zorg- en veiligheidshuizen
package wams.disclosure

import data.wams.lib
import data.wams.relations

# METADATA
# title: Onward disclosure with a known category
# description: >-
#   An onward read whose category is known (the category rules apply). Not the coordinator
#   appointed on the zaak, from another organisation, reading its own coordination dossier:
#   it keeps that dossier for the college (R5; recorded as recipient by wams.relations).
onward if {
	lib.onward
	lib.category != null
	not relations.own_coordination_dossier
	not relations.reads_own_writing
}

# METADATA
# title: ZVH handover
# description: A Zorg- en Veiligheidshuis employee acting for zvh_overdracht.
zvh if {
	lib.role == "zvh_medewerker"
	lib.purpose == "zvh_overdracht"
}

# METADATA
# title: No onward disclosure by default
# description: The profile switch standaard_geen_verdere_verstrekking is on.
standaard_geen_verdere_verstrekking if lib.profile.standaard_geen_verdere_verstrekking == true

# METADATA
# scope: document
# title: O1 data that may not be passed on
# description: >-
#   Onward disclosure of data labelled geen_verdere_verstrekking (a sticky condition), or,
#   under standaard_geen_verdere_verstrekking, of anything a provider sent in: any data whose
#   writer was not a college role (consulent, coordinator, medisch_adviseur) of a controlling
#   organisation, the mayor's office and casusoverleg participants included (lib.provider_sent
#   reads labels.provider_sent, labels.source_role and labels.source_controlling_org).
# custom:
#   id: O1
#   source: >-
#     Wams art. 5.4.2 (voorwaarden); brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams,
#     vragen a en c (niet verder verstrekken; vgl. art. 1.10 lid 2 concept-Besluit)
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
o1_geen_verdere_verstrekking if {
	onward
	"geen_verdere_verstrekking" in lib.voorwaarden
}

o1_geen_verdere_verstrekking if {
	onward
	lib.provider_sent
	standaard_geen_verdere_verstrekking
}

# METADATA
# title: O2 onward disclosure of sensitive data
# description: >-
#   Onward disclosure of medisch, wvggz_wzd or onbekend data without the label
#   geen_verdere_verstrekking, other than the O4 case. When standaard_geen_verdere_verstrekking
#   is on (knmg) it is denied to every recipient. When it is off (wetsvoorstel) O2 applies to
#   ZVH handovers only: a zvh_medewerker acting for zvh_overdracht receives it with the
#   recipient recorded (AO); O2 grants nothing to any other recipient outside the controlling
#   organisations, whose request is decided by its own rules (e.g. C1) or denied by default.
#   Always denied for onbekend.
# custom:
#   id: O2
#   source: AVG art. 9; brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams, vraag a en § Zorg- en veiligheidshuizen
#   outcome: {"wetsvoorstel": "AO", "knmg": "D"}
#   outcome_note: wetsvoorstel AO for a ZVH handover only; no grant to other recipients
o2_gevoelig if {
	onward
	lib.effective_category in lib.sensitive_categories
	not "geen_verdere_verstrekking" in lib.voorwaarden
	not o4_zvh_toestemming
}

# METADATA
# title: O3 ZVH handover of algemeen data
# description: >-
#   zvh_medewerker with purpose zvh_overdracht receives algemeen data (recipient recorded).
#   Data a provider sent in is caught by O1 under standaard_geen_verdere_verstrekking.
# custom:
#   id: O3
#   source: brief KNMG c.s. 2 maart 2023, § Zorg- en veiligheidshuizen (proportionele gegevensdeling)
#   outcome: {"wetsvoorstel": "AO", "knmg": "AO"}
o3_zvh_algemeen if {
	onward
	zvh
	lib.effective_category == "algemeen"
}

# METADATA
# title: O4 ZVH handover of provider data given with consent
# description: >-
#   zvh_medewerker receives medisch or wvggz_wzd data a provider sent in with consent and
#   without conditions. Consent to give it to the college does not extend to onward
#   disclosure under standaard_geen_verdere_verstrekking (our reading of the letter's
#   proportionality ask).
# custom:
#   id: O4
#   source: brief KNMG c.s. 2 maart 2023, § Zorg- en veiligheidshuizen en § Artikel 5.4.2 Wams, vraag a
#   outcome: {"wetsvoorstel": "AO", "knmg": "D"}
o4_zvh_toestemming if {
	onward
	zvh
	lib.effective_category in {"medisch", "wvggz_wzd"}
	lib.provider_sent
	lib.labels.grondslag == "toestemming"
	count(lib.voorwaarden) == 0
}

# METADATA
# scope: document
# title: Allow reasons
# description: Ids of the disclosure rules that allow the request; each records the recipient.
allow contains "O2" if {
	o2_gevoelig
	zvh
	lib.effective_category != "onbekend"
	not standaard_geen_verdere_verstrekking
	lib.recipient_known
}

allow contains "O3" if {
	o3_zvh_algemeen
	lib.recipient_known
}

allow contains "O4" if {
	o4_zvh_toestemming
	not standaard_geen_verdere_verstrekking
	lib.recipient_known
}

# METADATA
# scope: document
# title: Deny reasons
# description: Ids of the disclosure rules that deny the request.
deny contains "O1" if o1_geen_verdere_verstrekking

deny contains "O2" if {
	o2_gevoelig
	standaard_geen_verdere_verstrekking
}

deny contains "O2" if {
	o2_gevoelig
	lib.effective_category == "onbekend"
}

deny contains "O4" if {
	o4_zvh_toestemming
	standaard_geen_verdere_verstrekking
}

# METADATA
# title: Obligations
# description: Every allowed onward disclosure records the recipient.
obligations contains lib.record_recipient if count(allow) > 0

# METADATA
# title: User messages
# description: Dutch text for each deny id of this package.
messages := {
	"O1": "Deze gegevens mogen niet verder worden verstrekt.",
	"O2": "Medische en Wvggz/Wzd-gegevens mogen niet verder worden verstrekt.",
	"O4": "Toestemming voor verstrekking aan de gemeente geldt niet voor verdere verstrekking.",
}
