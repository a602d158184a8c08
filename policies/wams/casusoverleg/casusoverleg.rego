# METADATA
# title: Casusoverleg (C1-C2)
# description: >-
#   Participants of a case conference (art. 5.4.3) receive general data; what a secrecy
#   holder shares in a case conference is governed by the ingest rules (art. 5.4.2 lid 2).
# custom:
#   source: Wams art. 5.4.3; brief KNMG c.s. 2 maart 2023, § Artikel 5.4.3 Wams
package wams.casusoverleg

import data.wams.lib

# METADATA
# title: C1 participant reads algemeen
# description: >-
#   casusoverleg_deelnemer with purpose casusoverleg reads algemeen data (recipient recorded;
#   the minutes go to the coordination dossier). Other categories are denied to this role,
#   and so is algemeen data a secrecy holder sent under geheimhouder_data_medisch (it counts
#   as medisch).
#   Onward-disclosure limits (O1) still apply to external participants.
# custom:
#   id: C1
#   source: Wams art. 5.4.3 lid 1; brief KNMG c.s. 2 maart 2023, § Artikel 5.4.3 Wams
#   outcome: {"wetsvoorstel": "AO", "knmg": "AO"}
c1_deelnemer if {
	lib.role == "casusoverleg_deelnemer"
	lib.purpose == "casusoverleg"
	lib.is_read
	lib.category != null
}

# METADATA
# title: C2 secrecy holder shares in a casusoverleg
# description: >-
#   A secrecy holder's ingest with purpose casusoverleg. Marks the request; the outcome is
#   that of I2-I8: lid 2 governs every disclosure by a secrecy holder, so lid 1 of art. 5.4.3
#   cannot widen it.
# custom:
#   id: C2
#   source: Wams art. 5.4.3 lid 2; brief KNMG c.s. 2 maart 2023, § Artikel 5.4.3 Wams
#   outcome: {"wetsvoorstel": "AO", "knmg": "D"}
#   outcome_note: as I2-I8 (consent AO in both; lid 2 AO in wetsvoorstel, D in knmg)
c2_geheimhouder if {
	lib.is_ingest
	lib.role in {"aanbieder", "casusoverleg_deelnemer"}
	lib.secrecy_holder
	lib.purpose == "casusoverleg"
}

# METADATA
# title: Allow reasons
# description: Ids of the casusoverleg rules that allow the request.
allow contains "C1" if {
	c1_deelnemer
	lib.effective_category == "algemeen"
	lib.recipient_known
}

# METADATA
# title: Deny reasons
# description: Ids of the casusoverleg rules that deny the request.
deny contains "C1" if {
	c1_deelnemer
	lib.effective_category != "algemeen"
}

# METADATA
# title: Notes
# description: Ids of casusoverleg rules that fired without deciding.
notes contains "C2" if c2_geheimhouder

# METADATA
# title: Obligations
# description: The participant is recorded as recipient.
obligations contains lib.record_recipient if "C1" in allow

# METADATA
# title: User messages
# description: Dutch text for each deny id of this package.
messages := {"C1": "In een casusoverleg worden alleen algemene gegevens gedeeld."}
