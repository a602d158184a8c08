# METADATA
# title: Decision records (L1-L2)
# description: >-
#   The sidecar's decision records (resource type records): the fg reads them for
#   verantwoording; a data subject gets its own access overview (AVG art. 15). Nobody else
#   reads them and nobody writes them through the API.
# custom:
#   source: AVG art. 15 en 30; HvJ EU C-579/21; brief KNMG c.s. 2 maart 2023, § Hergebruik en proportionaliteit
package wams.records

import data.wams.lib

# METADATA
# title: Records resource
# description: The request is on the decision records.
on_records if lib.resource_type == "records"

# METADATA
# title: L1 fg reads decision records
# description: >-
#   The fg of a controlling organisation (subject.properties.controlling_org true) reads the
#   decision records with purpose verantwoording; the read itself is recorded (obligation
#   record_processing, urn:wams:verwerking:verantwoording). An fg of another organisation,
#   and any other use of the records endpoint by an employee role, is denied under L1.
# custom:
#   id: L1
#   source: >-
#     AVG art. 5 lid 2, 30 en 38-39 (de FG van de verwerkingsverantwoordelijke); BIO 8.15;
#     docs/rules.md L1
#   outcome: {"wetsvoorstel": "AO", "knmg": "AO"}
l1_fg if {
	on_records
	lib.controlling_org
	lib.role == "fg"
	lib.purpose == "verantwoording"
	lib.is_read
}

# METADATA
# title: L2 data subject's access request
# description: >-
#   subject.type data_subject, no role and no X-Doelbinding, reading (read or list) the
#   records: the `sidecar records query` answers with dates, purposes, categories and
#   recipients, never employee identities (the shaping is the sidecar's). Recorded as
#   processing urn:wams:verwerking:inzage_betrokkene. P2 does not apply to it.
# custom:
#   id: L2
#   source: AVG art. 15; HvJ EU 22 juni 2023, C-579/21 (Pankki S)
#   outcome: {"wetsvoorstel": "AO", "knmg": "AO"}
l2_inzage if {
	on_records
	lib.data_subject_access
}

# METADATA
# scope: document
# title: Allow reasons
# description: Ids of the records rules that allow the request.
allow contains "L1" if l1_fg

allow contains "L2" if l2_inzage

# METADATA
# title: Deny reasons
# description: Ids of the records rules that deny the request.
deny contains "L1" if {
	on_records
	not l1_fg
	not l2_inzage
}

# METADATA
# scope: document
# title: Obligations
# description: Reads of the records are recorded as their own processing.
obligations contains {"type": "record_processing", "processing_activity": "urn:wams:verwerking:verantwoording"} if {
	"L1" in allow
}

obligations contains {"type": "record_processing", "processing_activity": "urn:wams:verwerking:inzage_betrokkene"} if {
	"L2" in allow
}

# METADATA
# title: User messages
# description: Dutch text for each deny id of this package.
messages := {"L1": "De verwerkingsregistratie is alleen voor de functionaris gegevensbescherming van de gemeente (verantwoording)."}
