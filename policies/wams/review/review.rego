# METADATA
# title: Break-glass review by the FG (B1-B3, L3)
# description: >-
#   Data sent in under a conflict of duties (I6, obligation review_by_fg) is reviewed by the
#   fg. The sidecar stores labels.review_status (open until the fg decides, then approved or
#   rejected). Before the review the profile switch breakglass_voor_review decides who may use
#   the data (B1); approved data follows the ordinary rules (its sticky conditions stay);
#   rejected data is used by nobody but the fg (B2). The fg reads such data for verantwoording
#   (L3) and decides the review itself (resource type review, action update: B3). Labels
#   missing from the input count as rejected (fail closed).
# custom:
#   source: >-
#     brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams (doorbreking van het beroepsgeheim bij
#     een conflict van plichten, achteraf getoetst); AVG art. 5 lid 2, 38 en 39 (taken van de
#     FG); docs/rules.md "Break-glass review"
package wams.review

import data.wams.lib

# METADATA
# scope: document
# title: Review status
# description: >-
#   labels.review_status (open, approved or rejected); rejected when the labels are unknown
#   (fail closed); undefined for data that was never under review.
status := s if {
	s := lib.labels.review_status
	is_string(s)
}

status := "rejected" if lib.labels_unknown

# METADATA
# title: Use of Wams data
# description: >-
#   A read, list, download, update or delete of Wams data: not a create (no stored labels
#   yet), not the decision records and not a review action. Written with `not` so that a
#   missing resource.type counts.
use if {
	lib.action in {"read", "list", "download", "update", "delete"}
	not lib.on_records
	not on_review
}

# METADATA
# title: Review resource
# description: The request is a review action (the FG console).
on_review if input.resource.type == "review"

# METADATA
# title: Related medical adviser
# description: >-
#   A medisch_adviseur with a relation to the data's zaak (need-to-know:
#   resource.properties.relation.kinds is not empty).
related_medisch_adviseur if {
	lib.role == "medisch_adviseur"
	some k in input.resource.properties.relation.kinds
	is_string(k)
}

# METADATA
# title: B1 use before the review
# description: >-
#   Under breakglass_voor_review alleen_medisch_adviseur, data awaiting review (status open)
#   is used only by a related medisch_adviseur and by the fg for verantwoording (L3); anyone
#   else is denied. Decided on the object itself: not in the purpose-only request phase of a
#   read, where the relation is not known yet. Under gewone_regels the ordinary rules decide.
# custom:
#   id: B1
#   source: >-
#     brief KNMG c.s. 2 maart 2023, § Artikel 5.4.2 Wams (bij doorbreking alleen de medisch
#     adviseur); Wams art. 5.4.2; docs/rules.md B1
#   outcome: {"wetsvoorstel": "A", "knmg": "D"}
b1_voor_review if {
	lib.profile.breakglass_voor_review == "alleen_medisch_adviseur"
	status == "open"
	use
	not lib.purpose_only
	not related_medisch_adviseur
	not lib.fg_verantwoording
}

# METADATA
# title: B2 rejected by the fg
# description: >-
#   Data whose review the fg rejected (status rejected) is used by nobody in any profile; the
#   fg still reads it for verantwoording (L3), and the console lists it for removal.
# custom:
#   id: B2
#   source: AVG art. 5 lid 1 onder a en art. 17 lid 1 onder d (onrechtmatig verwerkt); docs/rules.md B2
#   outcome: {"wetsvoorstel": "D", "knmg": "D"}
b2_afgewezen if {
	status == "rejected"
	use
	not l3_fg_leest
}

# METADATA
# title: L3 fg reads data under review
# description: >-
#   The fg of a controlling organisation reads (read, list, download) data that awaits review
#   or was rejected, for verantwoording; the read is recorded as processing
#   urn:wams:verwerking:verantwoording.
# custom:
#   id: L3
#   source: AVG art. 5 lid 2, 38 lid 2 en 39 (toezicht door de FG); docs/rules.md L3
#   outcome: {"wetsvoorstel": "AO", "knmg": "AO"}
l3_fg_leest if {
	status in {"open", "rejected"}
	lib.fg_verantwoording
	lib.is_read
	not lib.on_records
	not on_review
}

# METADATA
# title: B3 the fg decides the review
# description: >-
#   A review action (resource type review, action update: approve or reject) is taken only
#   by the fg of a controlling organisation for verantwoording, and only on data whose review
#   is open. Anything else on a review resource is denied. Recorded as processing
#   urn:wams:verwerking:verantwoording.
# custom:
#   id: B3
#   source: AVG art. 38 lid 2 en 39 lid 1 onder b; docs/rules.md B3
#   outcome: {"wetsvoorstel": "AO", "knmg": "AO"}
b3_fg_beoordeelt if {
	on_review
	lib.action == "update"
	lib.fg_verantwoording
	status == "open"
}

# METADATA
# scope: document
# title: Allow reasons
# description: Ids of the review rules that allow the request.
allow contains "L3" if l3_fg_leest

allow contains "B3" if b3_fg_beoordeelt

# METADATA
# scope: document
# title: Deny reasons
# description: Ids of the review rules that deny the request.
deny contains "B1" if b1_voor_review

deny contains "B2" if b2_afgewezen

deny contains "B3" if {
	on_review
	not b3_fg_beoordeelt
}

# METADATA
# scope: document
# title: Obligations
# description: The fg's reads and review decisions are recorded as its own processing.
obligations contains {"type": "record_processing", "processing_activity": "urn:wams:verwerking:verantwoording"} if {
	"L3" in allow
}

obligations contains {"type": "record_processing", "processing_activity": "urn:wams:verwerking:verantwoording"} if {
	"B3" in allow
}

# METADATA
# title: User messages
# description: Dutch text for each deny id of this package.
messages := {
	"B1": "Dit document wacht op beoordeling door de functionaris gegevensbescherming; tot dan is het alleen toegankelijk voor de medisch adviseur van de zaak.",
	"B2": "De functionaris gegevensbescherming heeft de doorbreking afgewezen; deze gegevens worden niet meer verstrekt.",
	"B3": "Alleen de functionaris gegevensbescherming van de gemeente beoordeelt een doorbreking, en alleen zolang die open staat (verantwoording).",
}
