# METADATA
# title: Ingest by providers and the mayor (I1-I9, W1)
# description: >-
#   Data sent in to the municipality (a create of a document with X-Herkomst) must rest on a
#   valid ground for the sender: art. 5.4.2 lid 1 for a party without secrecy, consent or
#   lid 2 (conditions a, b, c; profile switch geheimhouders_zonder_toestemming) for a secrecy
#   holder, or the conflict of duties. Conditions set by the sender become sticky labels.
# custom:
#   source: Wams art. 5.4.2; brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams en Bijlage
package wams.ingest

import data.wams.lib

# METADATA
# title: Provider roles
# description: Roles whose ingest is governed by art. 5.4.2 / 5.4.3 (I1-I8).
provider_roles := {"aanbieder", "casusoverleg_deelnemer"}

# METADATA
# title: Conflict-of-duties conditions
# description: The six cumulative conditions of the letter's annex.
cvp_conditions := {
	"toestemming_gevraagd",
	"ernstige_schade",
	"gewetensnood",
	"geen_andere_weg",
	"schade_voorkomen",
	"minimale_doorbreking",
}

# METADATA
# title: Provider ingest
# description: An ingest (document create with X-Herkomst) by a provider role.
provider_ingest if {
	lib.is_ingest
	lib.role in provider_roles
}

# METADATA
# title: Ground
# description: The grondslag of X-Herkomst.
grondslag := lib.herkomst.grondslag

# METADATA
# title: Lid 2 conditions claimed
# description: The conditions of art. 5.4.2 lid 2 the sender says hold.
lid2 := lib.herkomst_set(lib.herkomst, "lid2")

# METADATA
# title: Conflict-of-duties conditions claimed
# description: The conditions of the conflict of duties the sender says hold.
cvp := lib.herkomst_set(lib.herkomst, "cvp")

# METADATA
# title: Conditions set by the sender
# description: The voorwaarden of X-Herkomst.
herkomst_voorwaarden := lib.herkomst_set(lib.herkomst, "voorwaarden")

# METADATA
# title: Consent reference present
# description: X-Herkomst carries a non-empty consent reference.
consent_reference if {
	ref := lib.herkomst.toestemming
	is_string(ref)
	ref != ""
}

# METADATA
# title: Lid 2 mode
# description: The profile switch geheimhouders_zonder_toestemming (abc, bc or nooit).
lid2_mode := lib.profile.geheimhouders_zonder_toestemming

# METADATA
# title: I1 lid 1 by a party without secrecy
# description: An aanbieder (or casusoverleg participant) without secrecy answers a request (art. 5.4.2 lid 1).
# custom:
#   id: I1
#   source: Wams art. 5.4.2 lid 1; brief KNMG c.s. 2 maart 2023, Bijlage (Wat regelt de Wams)
#   outcome: {"wetsvoorstel": "AO", "knmg": "AO"}
i1_lid1_zonder_geheim if {
	provider_ingest
	grondslag == "lid1"
	lib.secrecy == "geen"
}

# METADATA
# title: I2 ingest with consent
# description: >-
#   Ingest with grondslag toestemming and a consent reference; for a secrecy holder the ground
#   of art. 5.4.2 lid 2, first sentence. The sender's voorwaarden become sticky labels.
# custom:
#   id: I2
#   source: Wams art. 5.4.2 lid 2; brief KNMG c.s. 2 maart 2023, § Wams in relatie tot beroepsgeheim
#   outcome: {"wetsvoorstel": "AO", "knmg": "AO"}
i2_toestemming if {
	provider_ingest
	grondslag == "toestemming"
	consent_reference
}

# METADATA
# title: I3 lid 2 with a, b and c
# description: >-
#   A secrecy holder sends without consent on its own judgement that conditions a, b and c
#   hold. Allowed when geheimhouders_zonder_toestemming is abc or bc, denied when nooit.
# custom:
#   id: I3
#   source: Wams art. 5.4.2 lid 2 onder a-c; brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams, vraag b
#   outcome: {"wetsvoorstel": "AO", "knmg": "D"}
i3_lid2_abc if {
	provider_ingest
	grondslag == "lid2"
	lib.secrecy_holder
	{"a", "b", "c"} - lid2 == set()
}

# METADATA
# title: I4 lid 2 with only b and c
# description: >-
#   As I3 but condition a (goede hulp of zorg) is not claimed. Denied: the conditions are
#   cumulative; allowed only under switch value bc (the Raad van State advice and the
#   letter's ask to drop condition a).
# custom:
#   id: I4
#   source: Wams art. 5.4.2 lid 2; brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams, vraag b
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
i4_lid2_bc if {
	provider_ingest
	grondslag == "lid2"
	lib.secrecy_holder
	{"b", "c"} - lid2 == set()
	not "a" in lid2
}

# METADATA
# title: I5 no valid ground
# description: >-
#   A provider ingest that matches none of I1-I4 and I6-I8: e.g. a secrecy holder using lid1,
#   consent without a reference, lid 2 with other conditions, lid 2 by a party without
#   secrecy, or an unknown grondslag. The denied attempt is recorded by the sidecar.
# custom:
#   id: I5
#   source: Wams art. 5.4.2 lid 2; brief KNMG c.s. 2 maart 2023, Bijlage ((Medisch) beroepsgeheim)
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
i5_geen_grond if {
	provider_ingest
	not i1_lid1_zonder_geheim
	not i2_toestemming
	not i3_lid2_abc
	not i4_lid2_bc
	not cvp_ground
	not i8_beroepscode_lid1
}

# METADATA
# title: Conflict-of-duties ground
# description: The sender invokes the conflict of duties (break-glass under existing law).
cvp_ground if {
	provider_ingest
	grondslag == "conflict_van_plichten"
}

# METADATA
# title: I6 conflict of duties with all six conditions
# description: >-
#   Break-glass: allowed with obligations review_by_fg, highest_record_level and the implicit
#   sticky condition geen_verdere_verstrekking.
# custom:
#   id: I6
#   source: brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams (conflict van plichten) en Bijlage
#   outcome: {"wetsvoorstel": "AO", "knmg": "AO"}
i6_cvp_volledig if {
	cvp_ground
	cvp_conditions - cvp == set()
}

# METADATA
# title: I7 conflict of duties with fewer than six conditions
# description: The conditions are cumulative; goed hulpverlenerschap alone is no ground.
# custom:
#   id: I7
#   source: brief KNMG c.s. 2 maart 2023, Bijlage ((Medisch) beroepsgeheim)
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
i7_cvp_onvolledig if {
	cvp_ground
	cvp_conditions - cvp != set()
}

# METADATA
# title: I8 code-based secrecy using lid 1
# description: >-
#   An aanbieder with a code-based duty (beroepscode) sends under lid 1 without consent.
#   Allowed while code-based secrecy is not treated as statutory; denied under switch
#   beroepscode_als_wettelijk (then it is a secrecy holder and needs consent or lid 2).
# custom:
#   id: I8
#   source: Wams art. 5.4.2 lid 1-2; brief KNMG c.s. 2 maart 2023, § Wams in relatie tot beroepsgeheim, vraag a
#   outcome: {"wetsvoorstel": "AO", "knmg": "D"}
i8_beroepscode_lid1 if {
	provider_ingest
	grondslag == "lid1"
	lib.secrecy == "beroepscode"
}

# METADATA
# title: I9 create without X-Herkomst
# description: >-
#   A create by an ingest role (aanbieder, burgemeester_wvggz, casusoverleg_deelnemer), or by
#   any other secrecy holder outside the college roles, without X-Herkomst. The sidecar
#   answers 400.
# custom:
#   id: I9
#   source: Wams art. 5.4.2; docs/rules.md I9 (herkomst must be recorded)
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
i9_zonder_herkomst if {
	lib.action == "create"
	not lib.herkomst
	sends_in
}

# METADATA
# scope: document
# title: Sends data in
# description: The subject is a party that sends data in to the municipality.
sends_in if lib.role in lib.ingest_roles

sends_in if {
	lib.secrecy_holder
	not lib.role in lib.college_roles
}

# METADATA
# title: W1 mayor ingests Wvggz/Wzd documents
# description: >-
#   burgemeester_wvggz ingests wvggz_wzd documents for gecoordineerde_aanpak; who may read
#   them is R4. Under wvggz_wzd_hergebruik alleen_medisch_adviseur the document gets the sticky
#   condition alleen_medisch_adviseur. Any other category from this role is denied.
# custom:
#   id: W1
#   source: Wams art. 5.4.1-5.4.2; brief KNMG c.s. 2 maart 2023, § Wvggz en Wzd, vragen a-b
#   outcome: {"wetsvoorstel": "AO", "knmg": "AO"}
w1_burgemeester if {
	lib.is_ingest
	lib.role == "burgemeester_wvggz"
}

# METADATA
# title: W1 category and purpose fit
# description: The mayor's ingest is a wvggz_wzd document for gecoordineerde_aanpak.
w1_past if {
	lib.category == "wvggz_wzd"
	lib.purpose == "gecoordineerde_aanpak"
}

# METADATA
# scope: document
# title: Allow reasons
# description: Ids of the ingest rules that allow the request.
allow contains "I1" if i1_lid1_zonder_geheim

allow contains "I2" if i2_toestemming

allow contains "I3" if {
	i3_lid2_abc
	lid2_mode in {"abc", "bc"}
}

allow contains "I4" if {
	i4_lid2_bc
	lid2_mode == "bc"
}

allow contains "I6" if i6_cvp_volledig

allow contains "I8" if {
	i8_beroepscode_lid1
	not lib.secrecy_holder
}

allow contains "W1" if {
	w1_burgemeester
	w1_past
}

# METADATA
# scope: document
# title: Deny reasons
# description: Ids of the ingest rules that deny the request.
deny contains "I3" if {
	i3_lid2_abc
	not lid2_mode in {"abc", "bc"}
}

deny contains "I4" if {
	i4_lid2_bc
	lid2_mode != "bc"
}

deny contains "I5" if i5_geen_grond

deny contains "I7" if i7_cvp_onvolledig

deny contains "I8" if {
	i8_beroepscode_lid1
	lib.secrecy_holder
}

deny contains "I9" if i9_zonder_herkomst

deny contains "W1" if {
	w1_burgemeester
	not w1_past
}

# METADATA
# scope: document
# title: Sticky conditions
# description: The conditions stored with the ingested data and enforced on every later use.
sticky contains c if {
	count(allow) > 0
	some c in herkomst_voorwaarden
}

sticky contains "geen_verdere_verstrekking" if "I6" in allow

sticky contains "alleen_medisch_adviseur" if {
	"W1" in allow
	lib.profile.wvggz_wzd_hergebruik == "alleen_medisch_adviseur"
}

# METADATA
# scope: document
# title: Obligations
# description: Sticky conditions for an allowed ingest; review and highest record level for break-glass (I6).
obligations contains {"type": "sticky_conditions", "conditions": sort(sticky)} if count(sticky) > 0

obligations contains {"type": "review_by_fg"} if "I6" in allow

obligations contains {"type": "highest_record_level"} if "I6" in allow

# METADATA
# title: User messages
# description: Dutch text for each deny id of this package.
messages := {
	"I3": "Verstrekken zonder toestemming van de cliënt is voor geheimhouders in dit profiel niet toegestaan.",
	"I4": "Zonder toestemming moeten de voorwaarden a, b en c van art. 5.4.2 lid 2 alle drie gelden.",
	"I5": "Voor deze verstrekking ontbreekt een geldige grondslag.",
	"I7": "Bij conflict van plichten moeten alle zes voorwaarden zijn vervuld.",
	"I8": "Met een beroepscode geldt hier het beroepsgeheim: verstrek alleen met toestemming van de cliënt.",
	"I9": "Bij het aanleveren van gegevens is de kop X-Herkomst verplicht.",
	"W1": "De burgemeester levert hier alleen Wvggz/Wzd-stukken aan voor een gecoördineerde aanpak.",
}
