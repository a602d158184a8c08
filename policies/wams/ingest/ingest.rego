# METADATA
# title: Ingest by providers and the mayor (I1-I9, W1)
# description: >-
#   Data sent in to the municipality (a create of a document with X-Herkomst by an ingest
#   role: aanbieder, casusoverleg_deelnemer, burgemeester_wvggz) must rest on a valid ground
#   for the sender, whatever its role: art. 5.4.2 lid 1 for a party without secrecy, consent
#   or lid 2 (conditions a, b, c; profile switch geheimhouders_zonder_toestemming) for a
#   secrecy holder, or the conflict of duties. Lid 1 and lid 2 are a ground only for the
#   purposes of the profile switch lid_grond_doelen. Conditions set by the sender become
#   sticky labels.
# custom:
#   source: Wams art. 5.4.2; brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams en Bijlage
package wams.ingest

import data.wams.lib

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
# title: Ingest
# description: >-
#   An ingest (document create with X-Herkomst) by any ingest role, the mayor's office
#   included: every ingest passes the ground rules I1-I8.
ingest if lib.is_ingest

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
# title: Purpose for which lid 1 and lid 2 are a ground
# description: >-
#   The request's purpose (X-Doelbinding) is one of the profile switch lid_grond_doelen. Art.
#   5.4.2 lid 1 covers data "noodzakelijk voor het uitvoeren van een onderzoek als bedoeld in
#   artikel 2.3a.1, vierde lid, of artikel 2.3a.4, tweede lid"; art. 5.4.3 extends it (and lid
#   2 with it) to the casusoverleg. For any other purpose the sender needs consent or the
#   conflict of duties.
lid_grond_doel if {
	doelen := lib.profile.lid_grond_doelen
	is_array(doelen)
	lib.purpose in doelen
}

# METADATA
# title: I1 lid 1 by a party without secrecy
# description: >-
#   A sender without secrecy answers a request (art. 5.4.2 lid 1), for a purpose of
#   lid_grond_doelen.
# custom:
#   id: I1
#   source: >-
#     Wams art. 5.4.2 lid 1 (onderzoek als bedoeld in art. 2.3a.1 lid 4 of 2.3a.4 lid 2) en
#     5.4.3; brief KNMG c.s. 2 maart 2023, Bijlage (Wat regelt de Wams)
#   outcome: {"wetsvoorstel": "AO", "knmg": "AO"}
i1_lid1_zonder_geheim if {
	ingest
	grondslag == "lid1"
	lib.secrecy == "geen"
	lid_grond_doel
}

# METADATA
# title: I2 ingest with consent
# description: >-
#   Ingest with grondslag toestemming and a consent reference; for a secrecy holder the ground
#   of art. 5.4.2 lid 2, first sentence. Consent is a ground for every purpose. The sender's
#   voorwaarden become sticky labels; the sidecar stores the purpose with the labels (see
#   the I2 rules of wams.read).
# custom:
#   id: I2
#   source: Wams art. 5.4.2 lid 2; brief KNMG c.s. 2 maart 2023, § Wams in relatie tot beroepsgeheim
#   outcome: {"wetsvoorstel": "AO", "knmg": "AO"}
i2_toestemming if {
	ingest
	grondslag == "toestemming"
	consent_reference
}

# METADATA
# title: I2 consent without the data subject
# description: >-
#   A create with grondslag toestemming that does not name the data subject
#   (context.herkomst.betrokkene not true): consent is given by a person, so a consent that
#   names nobody cannot be checked, withdrawn or shown to the person (AVG art. 7 lid 1 en 3).
#   The sidecar also refuses it with 400 before asking OPA.
# custom:
#   id: I2
#   source: AVG art. 7 lid 1 en 3; Wams art. 5.4.2 lid 2; brief KNMG c.s. 2 maart 2023, § Wams in relatie tot beroepsgeheim
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
i2_zonder_betrokkene if {
	lib.action == "create"
	lib.herkomst.grondslag == "toestemming"
	not lib.betrokkene_indicated
}

# METADATA
# title: I3 lid 2 with a, b and c
# description: >-
#   A secrecy holder sends without consent on its own judgement that conditions a, b and c
#   hold, for a purpose of lid_grond_doelen. Allowed when geheimhouders_zonder_toestemming is
#   abc or bc, denied when nooit.
# custom:
#   id: I3
#   source: Wams art. 5.4.2 lid 2 onder a-c; brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams, vraag b
#   outcome: {"wetsvoorstel": "AO", "knmg": "D"}
i3_lid2_abc if {
	ingest
	grondslag == "lid2"
	lib.secrecy_holder
	lid_grond_doel
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
	ingest
	grondslag == "lid2"
	lib.secrecy_holder
	lid_grond_doel
	{"b", "c"} - lid2 == set()
	not "a" in lid2
}

# METADATA
# title: I5 no valid ground
# description: >-
#   An ingest (by any ingest role, the mayor's office included) that matches none of I1-I4
#   and I6-I8: e.g. a secrecy holder using lid1, consent without a reference, lid 2 with
#   other conditions, lid 2 by a party without secrecy, lid 1 or lid 2 for a purpose outside
#   lid_grond_doelen, or an unknown grondslag. The denied attempt is recorded by the sidecar.
# custom:
#   id: I5
#   source: >-
#     Wams art. 5.4.2 lid 1-2 en 5.4.3; brief KNMG c.s. 2 maart 2023, Bijlage ((Medisch)
#     beroepsgeheim; Wat regelt de Wams)
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
i5_geen_grond if {
	ingest
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
	ingest
	grondslag == "conflict_van_plichten"
}

# METADATA
# title: I6 conflict of duties with all six conditions
# description: >-
#   Break-glass, for any ingest role and purpose: allowed with obligations review_by_fg,
#   highest_record_level and the implicit sticky condition geen_verdere_verstrekking.
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
# description: >-
#   The conditions are cumulative, whoever claims the conflict of duties; goed
#   hulpverlenerschap alone is no ground.
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
#   A sender with a code-based duty (beroepscode) sends under lid 1 without consent, for a
#   purpose of lid_grond_doelen. Allowed while code-based secrecy is not treated as
#   statutory; denied under switch beroepscode_als_wettelijk (then it is a secrecy holder and
#   needs consent or lid 2).
# custom:
#   id: I8
#   source: Wams art. 5.4.2 lid 1-2; brief KNMG c.s. 2 maart 2023, § Wams in relatie tot beroepsgeheim, vraag a
#   outcome: {"wetsvoorstel": "AO", "knmg": "D"}
i8_beroepscode_lid1 if {
	ingest
	grondslag == "lid1"
	lib.secrecy == "beroepscode"
	lid_grond_doel
}

# METADATA
# title: I9 create without X-Herkomst
# description: >-
#   A document created by an ingest role (aanbieder, burgemeester_wvggz, casusoverleg_deelnemer),
#   or by any other secrecy holder outside the college roles, without X-Herkomst: data sent in
#   must say on what ground. The sidecar answers 400. Other creates carry no data of the sender's
#   (a provider linking its document to a zaak, N4), so they need none.
# custom:
#   id: I9
#   source: Wams art. 5.4.2; docs/rules.md I9 (herkomst must be recorded)
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
i9_zonder_herkomst if {
	lib.creates_document
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
#   burgemeester_wvggz ingests wvggz_wzd documents for an investigation (onderzoek_hulpvraag,
#   onderzoek_zonder_hulpvraag where P3 allows it) or for gecoordineerde_aanpak; who may read
#   them is R4. W1 only fits the category and purpose: the ingest must also pass the ground
#   rules (I1-I8) like any other, so lid 1 serves only the investigation purposes and the
#   coordinated approach needs consent or the conflict of duties. Under wvggz_wzd_hergebruik
#   alleen_medisch_adviseur the document gets the sticky condition alleen_medisch_adviseur.
#   Any other category or purpose from this role is denied.
# custom:
#   id: W1
#   source: Wams art. 5.4.1-5.4.2; brief KNMG c.s. 2 maart 2023, § Wvggz en Wzd, vragen a-b
#   outcome: {"wetsvoorstel": "AO", "knmg": "AO"}
w1_burgemeester if {
	lib.is_ingest
	lib.role == "burgemeester_wvggz"
}

# METADATA
# title: W1 purposes
# description: The purposes the mayor's office may send Wvggz/Wzd documents for.
w1_doelen := {"onderzoek_hulpvraag", "onderzoek_zonder_hulpvraag", "gecoordineerde_aanpak"}

# METADATA
# title: W1 category and purpose fit
# description: The mayor's ingest is a wvggz_wzd document for one of the W1 purposes.
w1_past if {
	lib.category == "wvggz_wzd"
	lib.purpose in w1_doelen
}

# METADATA
# scope: document
# title: Allow reasons
# description: Ids of the ingest rules that allow the request.
allow contains "I1" if i1_lid1_zonder_geheim

allow contains "I2" if {
	i2_toestemming
	not i2_zonder_betrokkene
}

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
deny contains "I2" if i2_zonder_betrokkene

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
# description: >-
#   Sticky conditions for an allowed ingest; review by the FG and the highest record level
#   for every allowed conflict of duties (I6), whoever sent it.
obligations contains {"type": "sticky_conditions", "conditions": sort(sticky)} if count(sticky) > 0

obligations contains {"type": "review_by_fg"} if "I6" in allow

obligations contains {"type": "highest_record_level"} if "I6" in allow

# METADATA
# title: User messages
# description: Dutch text for each deny id of this package; I5 names the purpose when that is what is missing.
messages := {
	"I2": "Bij verstrekking met toestemming moet de betrokkene worden genoemd (X-Herkomst betrokkene).",
	"I3": "Verstrekken zonder toestemming van de cliënt is voor geheimhouders in dit profiel niet toegestaan.",
	"I4": "Zonder toestemming moeten de voorwaarden a, b en c van art. 5.4.2 lid 2 alle drie gelden.",
	"I5": i5_message,
	"I7": "Bij conflict van plichten moeten alle zes voorwaarden zijn vervuld.",
	"I8": "Met een beroepscode geldt hier het beroepsgeheim: verstrek alleen met toestemming van de cliënt.",
	"I9": "Bij het aanleveren van gegevens is de kop X-Herkomst verplicht.",
	"W1": "De burgemeester levert hier alleen Wvggz/Wzd-stukken aan, voor een onderzoek of een gecoördineerde aanpak.",
}

# METADATA
# scope: document
# title: I5 message
# description: >-
#   The I5 text: for lid 1 or lid 2 outside lid_grond_doelen it says that the purpose needs
#   consent or the conflict of duties; otherwise that a valid ground is missing.
default i5_message := "Voor deze verstrekking ontbreekt een geldige grondslag."

i5_message := "Lid 1 en lid 2 van art. 5.4.2 zijn voor dit doel geen grondslag: verstrek met toestemming van de cliënt." if {
	grondslag in {"lid1", "lid2"}
	not lid_grond_doel
}
