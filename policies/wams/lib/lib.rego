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
# title: Labels stored
# description: The resource has stored labels (an object), so it was written with X-Herkomst.
labels_stored if is_object(input.resource.properties.labels)

# METADATA
# title: No labels stored
# description: The input says that no labels are stored for the resource (labels is null).
labels_none if input.resource.properties.labels == null

# METADATA
# title: Labels unknown
# description: >-
#   The input lacks resource.properties.labels (or it is neither null nor an object), so
#   nothing is known about the data's provenance. The sidecar always sends the key; an input
#   without it is judged as the worst case of every label (fail closed): all sticky
#   conditions, sent in by a provider with secrecy, consent withdrawn.
labels_unknown if {
	not labels_stored
	not labels_none
}

# METADATA
# title: Known sticky conditions
# description: The voorwaarden a sender can set (X-Herkomst voorwaarden).
known_voorwaarden := {"geen_verdere_verstrekking", "alleen_medisch_adviseur"}

# METADATA
# title: Sticky conditions on the resource
# description: >-
#   The voorwaarden stored with the data at ingest; all known conditions when the labels are
#   unknown (fail closed).
voorwaarden contains v if {
	vs := labels.voorwaarden
	is_array(vs)
	some v in vs
}

voorwaarden contains v if {
	labels_unknown
	some v in known_voorwaarden
}

# METADATA
# scope: document
# title: Provider sent it in
# description: >-
#   The data was sent in by a provider: its writer was not a college role (consulent,
#   coordinator, medisch_adviseur) of a controlling organisation. Decided from the labels so
#   that labels written before source_controlling_org existed are judged the same way where
#   their keys allow: labels.provider_sent true, or labels.source_role not a college role
#   (or absent), or labels.source_controlling_org false. Labels that name a college role but
#   do not say source_controlling_org true count as sent in by a provider (not proven to be
#   the college's own data), and so do unknown labels. No labels (null): data written
#   without X-Herkomst, i.e. by the college itself, not by a provider.
provider_sent if labels_unknown

provider_sent if labels.provider_sent == true

provider_sent if {
	labels_stored
	not college_writer
}

# METADATA
# title: Written by the college
# description: >-
#   The labels prove that a college role of a controlling organisation wrote the data
#   (labels.source_role a college role and labels.source_controlling_org true).
college_writer if {
	labels.source_role in college_roles
	labels.source_controlling_org == true
}

# METADATA
# scope: document
# title: Sender had secrecy
# description: >-
#   The sender had statutory secrecy (labels.source_secrecy wettelijk), or a code-based duty
#   (beroepscode) while the profile treats that as statutory. Labels without source_secrecy
#   (written before the key existed) count as a secrecy holder's, except lid1 data while
#   beroepscode is not treated as statutory: lid 1 was only ever accepted from a sender
#   without statutory secrecy (I1, I8). Unknown labels count as a secrecy holder's.
sender_secrecy_holder if labels_unknown

sender_secrecy_holder if labels.source_secrecy == "wettelijk"

sender_secrecy_holder if {
	labels.source_secrecy == "beroepscode"
	profile.beroepscode_als_wettelijk == true
}

sender_secrecy_holder if {
	labels_stored
	not source_secrecy_known
	not lid1_without_statutory_code
}

# METADATA
# title: Sender's secrecy recorded
# description: >-
#   The labels name the sender's secrecy (labels.source_secrecy is a string). A rule of its
#   own: a missing key inside `not is_string(...)` would make the expression undefined.
source_secrecy_known if is_string(labels.source_secrecy)

# METADATA
# title: Old lid 1 label under a non-statutory code
# description: >-
#   The labels say lid1 and the profile does not treat beroepscode as statutory: the sender
#   had no statutory secrecy.
lid1_without_statutory_code if {
	labels.grondslag == "lid1"
	profile.beroepscode_als_wettelijk == false
}

# METADATA
# title: Secrecy holder's data gated as medisch
# description: >-
#   Under the profile switch geheimhouder_data_medisch, data a provider with secrecy sent in
#   is gated like medisch whatever its declared category (R2-R4, O2-O4, C1).
geheimhouder_data if {
	profile.geheimhouder_data_medisch == true
	provider_sent
	sender_secrecy_holder
}

# METADATA
# scope: document
# title: Category as the medical gates see it
# description: >-
#   The category, except that algemeen data of a secrecy holder (geheimhouder_data) counts as
#   medisch. Other categories keep their own (at least as strict) rules; R2 adds the medisch
#   gate to them as well.
effective_category := "medisch" if {
	category == "algemeen"
	geheimhouder_data
} else := category

# METADATA
# title: Consent withdrawn
# description: >-
#   The labels say the consent the data was given under was withdrawn
#   (labels.toestemming_ingetrokken true), or the labels are unknown (fail closed). An absent
#   key means never withdrawn: labels written before withdrawal existed.
consent_withdrawn if labels_unknown

consent_withdrawn if labels.toestemming_ingetrokken == true

# METADATA
# scope: document
# title: Secrecy
# description: >-
#   The subject's secrecy claim (the sidecar sends geen for a token without the claim). A
#   missing or non-string value is onbekend: no ground that depends on the sender's secrecy
#   (I1, I3, I4, I8) applies to it, only consent or the conflict of duties (fail closed).
default secrecy := "onbekend"

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
# scope: document
# title: Data subject indicated
# description: >-
#   X-Herkomst named the data subject: context.herkomst.betrokkene true (presence only, the
#   sidecar never passes the BSN), or betrokkene_present true (the earlier name of the same
#   flag). Absent counts as not indicated.
betrokkene_indicated if herkomst.betrokkene == true

betrokkene_indicated if herkomst.betrokkene_present == true

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
	not on_records
}

# METADATA
# title: Records resource
# description: >-
#   The request is on the decision records. Written as a positive test so that `not
#   on_records` also holds when resource.type is missing.
on_records if input.resource.type == "records"

# METADATA
# title: FG accounting
# description: >-
#   The fg of a controlling organisation acting for verantwoording (accountability): the
#   exception in I2 (purpose-bound consent) and I10 (withdrawn consent).
fg_verantwoording if {
	role == "fg"
	purpose == "verantwoording"
	controlling_org
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
#   A read, update or delete whose object is not known yet (request phase), or the collection
#   of a batch: only the purpose rules decide. The category rules decide on the object itself:
#   in the response phase of a read, and on the object's current metadata before an update or
#   delete is forwarded.
purpose_only if {
	action in {"read", "list", "download", "update", "delete"}
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
