# METADATA
# title: Wams access decision
# description: >-
#   The single entrypoint for the sidecar (POST /v1/data/wams/authz/decision). Combines the
#   concern packages: a deny wins over an allow, and anything not explicitly allowed is
#   denied. The result shape is docs/decision-api.md.
# custom:
#   source: docs/decision-api.md; docs/rules.md
package wams.authz

import data.wams.disclosure
import data.wams.lib
import data.wams.profile
import data.wams.purpose
import data.wams.read

# METADATA
# title: Decision
# description: >-
#   The decision object (decision, reasons, reason_user, obligations, grondslag,
#   processing_activity) plus, when the input has evaluations, one result per item in the
#   same order, each decided with the item as resource.
# entrypoint: true
decision := object.union(result, {"evaluations": evaluation_results}) if {
	is_array(input.evaluations)
} else := result

# METADATA
# title: Batch results
# description: >-
#   One result per input.evaluations item, same order. Items are decided per distinct batch
#   key, the item's resource with its id replaced and without relation.zaken (no rule reads
#   a resource id or the ids of the zaken a relation runs through), so a list of 50 documents
#   of four kinds costs four evaluations, not fifty; a malformed item has no key and is left
#   out. The keys and results are local variables of one rule: as rules of their own, OPA
#   would look them up again for every item.
evaluation_results := [results[key] | some key in keys] if {
	keys := [batch_key(object.get(item, "resource", {})) | some item in input.evaluations]
	results := {key: item_result(key) | some key in {k | some k in keys}}
}

# METADATA
# title: Batch key
# description: An item's resource with its id replaced and relation.zaken left out (see Batch results).
batch_key(resource) := json.remove(object.union(resource, {"id": "item"}), ["properties/relation/zaken"])

# METADATA
# title: Item result
# description: >-
#   The result with key as input.resource and no evaluations. The item's input is built here
#   from the top level of input and passed whole (`with input as`): a `with` on a part of the
#   input (input.resource) makes OPA copy the whole input, evaluations included, for every
#   distinct key (opa bench, 50 items of two kinds: a third of the allocations).
item_result(key) := r if {
	item_input := object.union(
		object.remove(input, {"resource", "evaluations"}),
		{"resource": key, "evaluations": null},
	)

	# Intentional: `with` decides the item as input.resource.
	# regal ignore:with-outside-test-context
	r := result with input as item_input
}

# METADATA
# title: Result
# description: >-
#   The decision object without evaluations. An allow carries the obligations of the rules
#   that fired and no deny reason; a deny carries no obligations and explains its most
#   important deny. Only the branch taken is evaluated.
result := {
	"decision": true,
	"reasons": reasons,
	"reason_user": "Toegestaan.",
	"obligations": [o | some o in fired_obligations],
	"grondslag": grondslag,
	"processing_activity": processing_activity,
	"deny_reason": null,
} if {
	allowed
} else := {
	"decision": false,
	"reasons": reasons,
	"reason_user": reason_user,
	"obligations": [],
	"grondslag": grondslag,
	"processing_activity": processing_activity,
	"deny_reason": deny_reason,
}

# METADATA
# title: Profile valid
# description: >-
#   The configured profile exists and has exactly the switches, each with an allowed value.
#   The same condition as an empty profile.errors entry, checked without building messages
#   (it runs on every decision; profile.errors explains what is wrong, for readiness and tools).
#   Counting the valid switches is cheaper in OPA than an `every` over them.
profile_valid if {
	p := lib.profile
	is_object(p)
	count(p) == count(profile.switches) + count(profile.list_switches)
	count({name | some name, allowed in profile.switches; p[name] in allowed}) + count({name |
		some name, _ in profile.list_switches
		profile.valid_list(name, p[name])
	}) == count(p)
}

# METADATA
# scope: document
# title: Consulted packages
# description: >-
#   The packages whose rules can fire for this input, besides purpose and read (whose denies,
#   and read's grants, are asked on every request). This is the one place that names the
#   condition under which each package is asked: for speed, a package whose condition does not
#   hold is skipped without evaluating any of its rules. Every ingest rule needs a create;
#   every coordination rule a rol (the appointment: K1, K2) or coordination-dossier data (K3);
#   every casusoverleg rule the purpose casusoverleg; every records rule the records resource;
#   every disclosure rule an onward read (by a subject outside the controlling organisations,
#   tested first as it is cheaper); purpose's notes and obligations (P3 allowed) the purpose
#   onderzoek_zonder_hulpvraag. The conditions are written on the input itself, not through
#   wams.lib, so that OPA's rule index skips a body that does not match at almost no cost.
#   denies, grants, fired_notes, fired_obligations and deny_texts ask each consulted package
#   through data.wams[pkg]. skips_test.rego checks on every fixture case, and variants of it,
#   that nothing a package decides is lost, so a rule that can fire outside its package's
#   condition fails it: widen the condition here.
consulted contains "purpose" if input.context.purpose == "onderzoek_zonder_hulpvraag"

consulted contains "ingest" if input.action.name == "create"

consulted contains "coordination" if input.resource.type == "rol"

consulted contains "coordination" if input.resource.properties.category == "coordinatiedossier"

consulted contains "casusoverleg" if input.context.purpose == "casusoverleg"

consulted contains "records" if input.resource.type == "records"

# Need-to-know: every relations rule needs a case-bound resource (zaak, rol, document, link).
consulted contains "relations" if input.resource.type == "zaak"

consulted contains "relations" if input.resource.type == "rol"

consulted contains "relations" if input.resource.type == "enkelvoudiginformatieobject"

consulted contains "relations" if input.resource.type == "zaakinformatieobject"

consulted contains "relations" if input.resource.type == "objectinformatieobject"

consulted contains "relations" if input.resource.type == "status"

consulted contains "relations" if input.resource.type == "resultaat"

consulted contains "relations" if input.resource.type == "zaakobject"

consulted contains "disclosure" if {
	not lib.controlling_org
	disclosure.onward
}

# Break-glass review: data with a review status, a review action, or labels missing from the
# input (which the review rules count as rejected).
consulted contains "review" if is_string(input.resource.properties.labels.review_status)

consulted contains "review" if input.resource.type == "review"

consulted contains "review" if {
	l := object.get(input, ["resource", "properties", "labels"], false)
	not is_object(l)
	l != null
}

# METADATA
# scope: document
# title: Deny reasons
# description: >-
#   Ids of all deny rules that fired: purpose and read always, the other packages when
#   consulted.
denies contains id if some id in purpose.deny

denies contains id if some id in read.deny

denies contains id if {
	some pkg in consulted
	some id in data.wams[pkg].deny
}

# METADATA
# scope: document
# title: Grants
# description: >-
#   Ids of all rules that grant access to the data: read always, the other packages when
#   consulted (purpose grants nothing).
grants contains id if some id in read.allow

grants contains id if {
	some pkg in consulted
	some id in data.wams[pkg].allow
}

# METADATA
# scope: document
# title: Notes
# description: >-
#   Ids of rules that fired without granting or denying (P3 allowed, C2, K2 allowed), from
#   the consulted packages. Not named notes: data.wams[pkg].notes would then include this rule.
fired_notes contains id if {
	some pkg in consulted
	some id in data.wams[pkg].notes
}

# METADATA
# scope: document
# title: Obligations
# description: >-
#   Union of the obligations the consulted packages attach to the rules that fired; only an
#   allow carries them. Not named obligations, for the reason given at fired_notes.
fired_obligations contains o if {
	some pkg in consulted
	some o in data.wams[pkg].obligations
}

# METADATA
# scope: document
# title: Allowed
# description: >-
#   True when the profile is valid, no deny fired, and either a rule grants the request or
#   the request is decided on purpose alone (a read whose category is not known yet) and the
#   role may act for the purpose.
default allowed := false

allowed if {
	profile_valid
	count(denies) == 0
	count(grants) > 0
}

allowed if {
	profile_valid
	count(denies) == 0
	lib.purpose_only
	purpose.permitted
}

# METADATA
# scope: document
# title: Reasons
# description: Sorted ids of the rules that fired, deny and allow; ["PROFILE"] for a bad profile.
default reasons := ["PROFILE"]

reasons := sort(((denies | grants) | fired_notes)) if profile_valid

# METADATA
# scope: document
# title: Effective denies
# description: The deny ids, or PROFILE alone when the profile is missing or invalid.
default effective_denies := {"PROFILE"}

effective_denies := denies if profile_valid

# METADATA
# title: Deny priority
# description: The order in which a deny's text is chosen for reason_user, most important first.
deny_priority := [
	"PROFILE",
	"P1", "P2", "P3",
	"N4", "N2", "N3", "N1",
	"I9", "I10", "B2", "B1", "K1", "K2", "K3",
	"O1", "O4", "O2",
	"I7", "I5", "I2", "I8", "I3", "I4", "W1",
	"R5", "R4", "R2", "C1", "L1", "B3",
]

# METADATA
# scope: document
# title: Deny texts
# description: >-
#   The Dutch user text of each deny that fired, from the messages of the package that owns
#   the rule id (reason_user asks only for the most important one, so only that package's
#   texts are evaluated). Only the consulted packages are asked, as for the deny reasons.
deny_texts[id] := "Het ingestelde beleidsprofiel ontbreekt of is ongeldig; de toegang is geweigerd." if {
	id := "PROFILE"
	not profile_valid
}

deny_texts[id] := purpose.messages[id] if some id in purpose.deny

deny_texts[id] := read.messages[id] if some id in read.deny

deny_texts[id] := data.wams[pkg].messages[id] if {
	some pkg in consulted
	some id in data.wams[pkg].deny
}

# METADATA
# scope: document
# title: Deny reason
# description: >-
#   For a deny: the id of the most important deny that fired, the first of deny_priority (the
#   one reason_user explains), or null for a default deny. Operators count denies by it. When a
#   single deny fired (the usual case) it is that one, without a walk through deny_priority.
default deny_reason := null

deny_reason := id if {
	count(effective_denies) == 1
	some id in effective_denies
	id in deny_priority
} else := [id | some id in deny_priority; id in effective_denies][0]

# METADATA
# scope: document
# title: User reason
# description: >-
#   For a deny: short Dutch text, the most important deny's text or a generic text for a
#   default deny (an allow says Toegestaan.).
default reason_user := "Geen regel staat deze verwerking toe."

reason_user := deny_texts[deny_reason]

# METADATA
# scope: document
# title: Legal ground
# description: >-
#   The grondslag of X-Herkomst on ingest, else the grondslag stored in the labels, else null.
default grondslag := null

grondslag := g if {
	g := lib.herkomst.grondslag
	is_string(g)
}

grondslag := g if {
	g := lib.labels.grondslag
	is_string(g)
	not lib.herkomst
}

# METADATA
# scope: document
# title: Processing activity
# description: >-
#   urn:wams:verwerking:<purpose> for a known purpose, else urn:wams:verwerking:inzage_betrokkene
#   for a data subject's access request (which has no purpose), else null.
default processing_activity := null

processing_activity := concat("", ["urn:wams:verwerking:", lib.purpose]) if {
	lib.purpose in purpose.known_purposes
}

processing_activity := "urn:wams:verwerking:inzage_betrokkene" if {
	input.resource.type == "records" # implied by lib.data_subject_access; lets OPA's rule index skip this body
	lib.data_subject_access
}
