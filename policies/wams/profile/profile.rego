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
# description: >-
#   Each switch whose value is one value, with its allowed values (booleans are true/false).
#   A constant, so that OPA does not rebuild it for every decision.
switches := {
	"geheimhouders_zonder_toestemming": {"abc", "bc", "nooit"},
	"beroepscode_als_wettelijk": {true, false},
	"medisch_alleen_adviseur": {true, false},
	"standaard_geen_verdere_verstrekking": {true, false},
	"onderzoek_zonder_hulpvraag_toegestaan": {true, false},
	"wvggz_wzd_hergebruik": {"iedereen_college", "alleen_medisch_adviseur"},
	"coordinator_bereid_en_gescheiden": {true, false},
	"need_to_know": {true, false},
	"geheimhouder_data_medisch": {true, false},
	"toestemming_doelgebonden": {true, false},
	"breakglass_voor_review": {"gewone_regels", "alleen_medisch_adviseur"},
}

# METADATA
# title: List switches
# description: >-
#   Each switch whose value is a list (JSON array), with the values its elements may take:
#   lid_grond_doelen, the purposes for which art. 5.4.2 lid 1 and lid 2 are a ground (any
#   known purpose; written out so that it stays a constant, profile_test checks it against
#   wams.purpose.known_purposes).
list_switches := {"lid_grond_doelen": {
	"onderzoek_hulpvraag",
	"onderzoek_zonder_hulpvraag",
	"gecoordineerde_aanpak",
	"casusoverleg",
	"zvh_overdracht",
	"handhaving",
	"verantwoording",
}}

# METADATA
# title: Switch names
# description: The names of all switches, single-valued and list.
switch_names := object.keys(switches) | object.keys(list_switches)

# METADATA
# title: Valid list value
# description: >-
#   v is a valid value of list switch name: a list of its allowed values, each at most once
#   (an empty list is valid). authz.profile_valid checks the list switches with it.
valid_list(name, v) if {
	is_array(v)
	count({x | some x in v}) == count(v)
	every x in v {
		x in list_switches[name]
	}
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
missing(p) := {sprintf("missing switch %s", [k]) | some k in switch_names; not k in object.keys(p)}

# METADATA
# title: Unknown switches
# description: Keys of the profile that are not switches of docs/rules.md.
unknown(p) := {sprintf("unknown switch %s", [k]) | some k, _ in p; not k in switch_names}

# METADATA
# title: Mistyped switches
# description: Switches whose value is not one of the allowed values (a list of them for a list switch).
mistyped(p) := {msg |
	some k, allowed in switches
	v := p[k]
	not v in allowed
	msg := sprintf("switch %s must be one of %v, not %v", [k, sort(allowed), v])
} | {msg |
	some k, allowed in list_switches
	v := p[k]
	not valid_list(k, v)
	msg := sprintf("switch %s must be a list of distinct values from %v, not %v", [k, sort(allowed), v])
}
