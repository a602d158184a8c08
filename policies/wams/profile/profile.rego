# METADATA
# title: Profile validation
# description: >-
#   Checks each profile under data.profiles against the switches of docs/rules.md. errors[name]
#   is the set of problems (missing, unknown or mistyped switches); empty when valid. The
#   sidecar refuses to become ready when its profile has errors or does not exist.
# custom:
#   source: docs/rules.md "Profile switches"; docs/decision-api.md "Profiles"
package wams.profile

# METADATA
# title: Switches
# description: Each switch with its allowed values (booleans are true/false).
switches := {
	"geheimhouders_zonder_toestemming": {"abc", "bc", "nooit"},
	"beroepscode_als_wettelijk": {true, false},
	"medisch_alleen_adviseur": {true, false},
	"standaard_geen_verdere_verstrekking": {true, false},
	"onderzoek_zonder_hulpvraag_toegestaan": {true, false},
	"wvggz_wzd_hergebruik": {"iedereen_college", "alleen_medisch_adviseur"},
	"coordinator_bereid_en_gescheiden": {true, false},
}

# METADATA
# scope: document
# title: Errors per profile
# description: The problems of each profile under data.profiles.
errors[name] := problems(p) if {
	some name, p in data.profiles
	is_object(p)
}

errors[name] := {"profile must be a JSON object"} if {
	some name, p in data.profiles
	not is_object(p)
}

# METADATA
# title: Problems of one profile
# description: Missing, unknown and mistyped switches of the profile object p.
problems(p) := (missing(p) | unknown(p)) | mistyped(p)

# METADATA
# title: Missing switches
# description: Switches of docs/rules.md that the profile lacks.
missing(p) := {sprintf("missing switch %s", [k]) | some k, _ in switches; not k in object.keys(p)}

# METADATA
# title: Unknown switches
# description: Keys of the profile that are not switches of docs/rules.md.
unknown(p) := {sprintf("unknown switch %s", [k]) | some k, _ in p; not switches[k]}

# METADATA
# title: Mistyped switches
# description: Switches whose value is not one of the allowed values.
mistyped(p) := {msg |
	some k, allowed in switches
	v := p[k]
	not v in allowed
	msg := sprintf("switch %s must be one of %v, not %v", [k, sort(allowed), v])
}
