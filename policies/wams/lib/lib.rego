# METADATA
# title: Shared facts about the request
# description: >-
#   Normalises the decision input of docs/decision-api.md into named facts (role, purpose,
#   category, labels, herkomst, profile, ...) so the rule packages never repeat the
#   fail-closed defaults. Holds no rules of docs/rules.md itself.
# custom:
#   source: docs/decision-api.md; docs/rules.md "Vocabulary"
package wams.lib

# METADATA
# title: Active profile
# description: The switches of the configured profile, data.profiles[input.context.profile].
profile := data.profiles[input.context.profile]

# METADATA
# scope: document
# title: Role
# description: The subject's role claim, or null when absent.
default role := null

role := r if {
	r := input.subject.properties.role
	is_string(r)
}

# METADATA
# scope: document
# title: Purpose
# description: The X-Doelbinding value as sent, or null when absent.
default purpose := null

purpose := p if {
	p := input.context.purpose
	is_string(p)
}

# METADATA
# title: Action
# description: The action name (read, list, download, create, update, delete).
action := input.action.name

# METADATA
# title: Resource type
# description: zaak, enkelvoudiginformatieobject, rol or records.
resource_type := input.resource.type

# METADATA
# scope: document
# title: Category
# description: The resource category, or null when not known yet.
default category := null

category := c if {
	c := input.resource.properties.category
	is_string(c)
}

# METADATA
# scope: document
# title: Labels
# description: The sticky labels stored at ingest, or an empty object when none are stored.
default labels := {}

labels := l if {
	l := input.resource.properties.labels
	is_object(l)
}

# METADATA
# title: Sticky conditions on the resource
# description: The voorwaarden stored with the data at ingest.
voorwaarden contains v if {
	vs := labels.voorwaarden
	is_array(vs)
	some v in vs
}

# METADATA
# title: Provider sent it in
# description: True when the labels say a provider sent this data to the municipality.
provider_sent if labels.provider_sent == true

# METADATA
# scope: document
# title: Secrecy
# description: The subject's secrecy claim; an absent or non-string claim counts as geen.
default secrecy := "geen"

secrecy := s if {
	s := input.subject.properties.secrecy
	is_string(s)
}

# METADATA
# scope: document
# title: Secrecy holder
# description: Statutory secrecy, which art. 5.4.2 lid 2 protects.
secrecy_holder if secrecy == "wettelijk"

secrecy_holder if {
	secrecy == "beroepscode"
	profile.beroepscode_als_wettelijk == true
}

# METADATA
# title: Is a read
# description: The action releases data (read, list or download).
is_read if action in {"read", "list", "download"}

# METADATA
# title: Is a write
# description: The action changes data (create, update or delete).
is_write if action in {"create", "update", "delete"}

# METADATA
# scope: document
# title: Reads or writes
# description: The action is a read or a write.
reads_or_writes if is_read

reads_or_writes if is_write

# METADATA
# title: College roles
# description: Roles acting for the college van B&W inside the controlling organisation.
college_roles := {"consulent", "coordinator", "medisch_adviseur"}

# METADATA
# title: Ingest roles
# description: Roles that send data in to the municipality (ingest needs X-Herkomst).
ingest_roles := {"aanbieder", "burgemeester_wvggz", "casusoverleg_deelnemer"}

# METADATA
# title: Sensitive categories
# description: >-
#   Categories with special protection. onbekend is listed with wvggz_wzd: a type the
#   catalogue does not know is never treated as algemeen.
sensitive_categories := {"medisch", "wvggz_wzd", "onbekend"}

# METADATA
# title: Herkomst
# description: The parsed X-Herkomst dictionary, when present.
herkomst := h if {
	h := input.context.herkomst
	is_object(h)
}

# METADATA
# title: Herkomst list field
# description: A list field of X-Herkomst as a set of strings; empty when absent.
herkomst_set(h, key) := {v | some v in object.get(h, key, [])}

# METADATA
# title: Creates a document
# description: A create of an enkelvoudiginformatieobject, the shape of an ingest.
creates_document if {
	action == "create"
	resource_type == "enkelvoudiginformatieobject"
}

# METADATA
# title: Ingest
# description: A provider-side role creates a document and sends X-Herkomst.
is_ingest if {
	creates_document
	role in ingest_roles
	herkomst
}

# METADATA
# title: Controlling organisation
# description: True only when the sidecar said the subject belongs to a controlling organisation.
controlling_org if input.subject.properties.controlling_org == true

# METADATA
# title: Onward disclosure
# description: >-
#   A read of Wams data (not of the decision records) by a subject outside the controlling
#   organisations. A missing controlling_org counts as outside (fail closed).
onward if {
	not controlling_org
	is_read
	resource_type != "records"
}

# METADATA
# title: Collection
# description: The top-level resource of a batch decision (the list itself).
collection if {
	is_array(input.evaluations)
	input.resource.id == null
}

# METADATA
# scope: document
# title: Purpose-only phase
# description: >-
#   A read whose category is not known yet (request phase, or the collection of a batch):
#   only the purpose rules decide; the category rules decide in the response phase.
purpose_only if {
	is_read
	resource_type != "records"
	category == null
	input.action.properties.phase == "request"
}

purpose_only if {
	is_read
	resource_type != "records"
	category == null
	collection
}

# METADATA
# title: Data-subject access request
# description: >-
#   A read of the decision records by subject.type data_subject with no role and no
#   X-Doelbinding: the `sidecar records query` for a data subject (AVG art. 15). See records.
data_subject_access if {
	resource_type == "records"
	action in {"read", "list"}
	input.subject.type == "data_subject"
	role == null
	purpose == null
}

# METADATA
# title: Recipient obligation
# description: The record_recipient obligation for the subject's organisation.
record_recipient := {"type": "record_recipient", "recipient": input.subject.properties.org}

# METADATA
# title: Recipient known
# description: The subject's organisation is known, so an onward disclosure can be recorded.
recipient_known if is_string(input.subject.properties.org)
