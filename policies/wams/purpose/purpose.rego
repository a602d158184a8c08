# METADATA
# title: Purpose limitation (P1-P3)
# description: >-
#   Every processing names a known purpose (X-Doelbinding) that the subject's role may act
#   for; enforcement (handhaving) never uses Wams data; investigation without a help request
#   depends on the profile.
# custom:
#   source: docs/rules.md "Purposes each role may act for"; brief KNMG c.s. 2 maart 2023
package wams.purpose

import data.wams.lib

# METADATA
# title: Known purposes
# description: The X-Doelbinding values of docs/rules.md.
known_purposes := {
	"onderzoek_hulpvraag",
	"onderzoek_zonder_hulpvraag",
	"gecoordineerde_aanpak",
	"casusoverleg",
	"zvh_overdracht",
	"handhaving",
	"verantwoording",
}

# METADATA
# title: Role to purpose table
# description: >-
#   The purposes each role may act for (docs/rules.md); consulent, medisch_adviseur and
#   aanbieder share the purposes of the college and the providers; the mayor's office
#   (burgemeester_wvggz) sends for the investigations and the coordinated approach (W1).
#   handhaving has none: every Wams request by it is denied (P1). onderzoek_zonder_hulpvraag
#   is further limited by P3.
#   Written out in full, so that OPA holds it as one constant.
role_purposes := {
	"consulent": {"onderzoek_hulpvraag", "onderzoek_zonder_hulpvraag", "gecoordineerde_aanpak", "casusoverleg"},
	"medisch_adviseur": {"onderzoek_hulpvraag", "onderzoek_zonder_hulpvraag", "gecoordineerde_aanpak", "casusoverleg"},
	"coordinator": {"gecoordineerde_aanpak", "casusoverleg"},
	"aanbieder": {"onderzoek_hulpvraag", "onderzoek_zonder_hulpvraag", "gecoordineerde_aanpak", "casusoverleg"},
	"burgemeester_wvggz": {"onderzoek_hulpvraag", "onderzoek_zonder_hulpvraag", "gecoordineerde_aanpak"},
	"casusoverleg_deelnemer": {"casusoverleg"},
	"zvh_medewerker": {"zvh_overdracht"},
	"fg": {"verantwoording"},
	"handhaving": set(),
}

# METADATA
# title: Role may act for the purpose
# description: The pair (role, purpose) is in the role to purpose table.
permitted if lib.purpose in role_purposes[lib.role]

# METADATA
# scope: document
# title: P1 enforcement
# description: >-
#   The purpose or the role is handhaving: Wams data may not be used for enforcement or fraud
#   detection, and every Wams request by the role handhaving is denied.
# custom:
#   id: P1
#   source: >-
#     brief KNMG c.s. 2 maart 2023, § Hergebruik en proportionaliteit (vraag: doelbinding in de
#     wet, geen fraudebestrijding of handhaving)
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
p1_handhaving if lib.purpose == "handhaving"

p1_handhaving if lib.role == "handhaving"

# METADATA
# title: P2 no or unknown purpose
# description: >-
#   X-Doelbinding is absent or not a purpose of docs/rules.md. Not applied to a data subject's
#   access request (L2), which has no employee and no X-Doelbinding.
# custom:
#   id: P2
#   source: AVG art. 5 lid 1 onder b (doelbinding); Wams art. 5.4.1; docs/rules.md P2
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
p2_doel_onbekend if {
	not lib.purpose in known_purposes
	not lib.data_subject_access
}

# METADATA
# title: P2 purpose not allowed for the role
# description: >-
#   The purpose is known but the role may not act for it (role to purpose table); also an
#   unknown or absent role. handhaving is left to P1.
# custom:
#   id: P2
#   source: AVG art. 5 lid 1 onder b (doelbinding); docs/rules.md "Purposes each role may act for"
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
p2_rol_doel if {
	not permitted
	lib.purpose in known_purposes
	lib.purpose != "handhaving"
	lib.role != "handhaving"
}

# METADATA
# title: P3 investigation without a help request
# description: >-
#   Purpose onderzoek_zonder_hulpvraag (art. 2.3a.4, bemoeizorg). Allowed and recorded as its
#   own processing when the profile switch onderzoek_zonder_hulpvraag_toegestaan is true
#   (obligation record_processing), denied otherwise.
# custom:
#   id: P3
#   source: >-
#     Wams art. 2.3a.4; brief KNMG c.s. 2 maart 2023, § Vrijwillige gecoördineerde aanpak en
#     bemoeizorg: twee verschillende zaken
#   outcome: {"wetsvoorstel": "AO", "knmg": "D"}
p3_zonder_hulpvraag if lib.purpose == "onderzoek_zonder_hulpvraag"

# METADATA
# title: P3 allowed by the profile
# description: The profile allows investigation without a help request.
p3_toegestaan if lib.profile.onderzoek_zonder_hulpvraag_toegestaan == true

# METADATA
# scope: document
# title: Deny reasons
# description: Ids of the purpose rules that deny the request.
deny contains "P1" if p1_handhaving

deny contains "P2" if p2_doel_onbekend

deny contains "P2" if p2_rol_doel

deny contains "P3" if {
	p3_zonder_hulpvraag
	not p3_toegestaan
}

# METADATA
# title: Notes
# description: Ids of purpose rules that fired and allow with an obligation, without granting access.
notes contains "P3" if {
	p3_zonder_hulpvraag
	p3_toegestaan
}

# METADATA
# title: Obligations
# description: P3 in a profile that allows it is recorded as its own processing activity.
obligations contains {"type": "record_processing", "processing_activity": activity} if {
	"P3" in notes
	activity := "urn:wams:verwerking:onderzoek_zonder_hulpvraag"
}

# METADATA
# title: User messages
# description: Dutch text for each deny id of this package; P2 only while P2 applies.
messages := object.union(
	{
		"P1": "Gegevens uit het sociaal domein mogen niet voor handhaving of fraudebestrijding worden gebruikt.",
		"P3": "Onderzoek zonder hulpvraag is in dit profiel niet toegestaan.",
	},
	p2_message,
)

# METADATA
# scope: document
# title: P2 message
# description: >-
#   The P2 entry of messages: the text for an unknown purpose, else the text for a role that
#   may not act for the purpose, else nothing.
default p2_message := {}

p2_message := {"P2": "Geef een geldig doel van de verwerking op (X-Doelbinding)."} if p2_doel_onbekend

p2_message := {"P2": "Uw rol mag niet voor dit doel gegevens verwerken."} if {
	not p2_doel_onbekend
	p2_rol_doel
}
