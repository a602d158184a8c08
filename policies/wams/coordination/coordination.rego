# METADATA
# title: Coordinator appointment and coordination dossier (K1-K3)
# description: >-
#   Appointing a coordinator (creating a coordinator rol on a coordination zaak, POST
#   /zaken/api/v1/rollen) needs the client's agreement; under coordinator_bereid_en_gescheiden
#   the coordinator must be willing and not the client's treating provider. Writes to a
#   coordination dossier need a configured retention period.
# custom:
#   source: brief KNMG c.s. 2 maart 2023, § Coördinatiefunctie, vragen a-c
package wams.coordination

import data.wams.lib

# METADATA
# scope: document
# title: Coordinator appointment
# description: >-
#   A create of a rol that the sidecar marks as a coordinator appointment
#   (context.coordinator_appointment, from the configured coordinator roltypen), or that
#   carries any coordinator context (client_agreement, coordinator_willing,
#   coordinator_is_treating_provider not all null).
appointment if {
	lib.action == "create"
	lib.resource_type == "rol"
	input.context.coordinator_appointment == true
}

appointment if {
	lib.action == "create"
	lib.resource_type == "rol"
	some field in ["client_agreement", "coordinator_willing", "coordinator_is_treating_provider"]
	object.get(input.context, field, null) != null
}

# METADATA
# title: K1 appointment without the client's agreement
# description: >-
#   Denied unless context.client_agreement is true; false, null or a missing key all deny
#   (fail closed). With agreement, the college (role consulent) may appoint (allow side of
#   K1), subject to K2.
# custom:
#   id: K1
#   source: >-
#     Wams art. 2.3a.1 (gecoördineerde aanpak met instemming); brief KNMG c.s. 2 maart 2023,
#     § Coördinatiefunctie
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
k1_zonder_instemming if {
	appointment
	not client_agreement
}

# METADATA
# title: Client agreed
# description: >-
#   context.client_agreement is true. Tested positively so that a missing key counts as no
#   agreement (a `!= true` on a missing key is undefined and would not fire).
client_agreement if input.context.client_agreement == true

# METADATA
# title: K2 unwilling coordinator or treating provider
# description: >-
#   The coordinator is not known to be willing, or is (or may be) the client's own treating
#   provider. Denied under coordinator_bereid_en_gescheiden, allowed otherwise.
# custom:
#   id: K2
#   source: brief KNMG c.s. 2 maart 2023, § Coördinatiefunctie, vragen a-b
#   outcome: {"wetsvoorstel": "A", "knmg": "D"}
k2_onwillig_of_behandelaar if {
	appointment
	not willing_and_separate
}

# METADATA
# title: Willing and separate
# description: >-
#   The coordinator is willing and is not the client's treating provider; a missing or null
#   key is not established, so K2 fires (fail closed).
willing_and_separate if {
	input.context.coordinator_willing == true
	input.context.coordinator_is_treating_provider == false
}

# METADATA
# title: K2 switch on
# description: The profile requires a willing coordinator separate from treatment.
bereid_en_gescheiden if lib.profile.coordinator_bereid_en_gescheiden == true

# METADATA
# title: K3 coordination dossier without retention
# description: >-
#   A create or update of coordination-dossier data while no retention period is configured
#   (context.retention_configured is not true: false, null or a missing key). The bill has no
#   dossier rules; the sidecar refuses to create an unbounded dossier.
# custom:
#   id: K3
#   source: brief KNMG c.s. 2 maart 2023, § Coördinatiefunctie, vraag c (aanleggen en bewaren)
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
k3_geen_bewaartermijn if {
	lib.action in {"create", "update"}
	lib.category == "coordinatiedossier"
	not retention_configured
}

# METADATA
# title: Retention configured
# description: context.retention_configured is true (tested positively, so a missing key counts as not configured).
retention_configured if input.context.retention_configured == true

# METADATA
# title: Allow reasons
# description: Ids of the coordination rules that allow the request.
allow contains "K1" if {
	appointment
	not k1_zonder_instemming
	lib.role == "consulent"
}

# METADATA
# scope: document
# title: Deny reasons
# description: Ids of the coordination rules that deny the request.
deny contains "K1" if k1_zonder_instemming

deny contains "K2" if {
	k2_onwillig_of_behandelaar
	bereid_en_gescheiden
}

deny contains "K3" if k3_geen_bewaartermijn

# METADATA
# title: Notes
# description: Ids of coordination rules that fired and allow.
notes contains "K2" if {
	k2_onwillig_of_behandelaar
	not bereid_en_gescheiden
}

# METADATA
# title: User messages
# description: Dutch text for each deny id of this package.
messages := {
	"K1": "Een coördinator wordt alleen aangewezen als de cliënt instemt met de gecoördineerde aanpak.",
	"K2": "Alleen een bereidwillige coördinator die niet de eigen behandelaar van de cliënt is, kan worden aangewezen.",
	"K3": "Voor het coördinatiedossier is geen bewaartermijn ingesteld.",
}
