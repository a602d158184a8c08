# METADATA
# title: Tests for wams.profile
# description: Profile validation of the shipped and of broken profiles.
package wams.profile_test

import data.wams.authz
import data.wams.lib_test
import data.wams.profile
import data.wams.purpose

test_shipped_profiles_valid if {
	profile.errors.knmg == set()
	profile.errors.wetsvoorstel == set()
}

test_broken_profile if {
	broken := object.union(
		object.remove(data.profiles.knmg, ["medisch_alleen_adviseur"]),
		{"geheimhouders_zonder_toestemming": "soms", "beroepscode_als_wettelijk": "ja", "extra": 1},
	)
	errs := profile.errors.broken with data.profiles.broken as broken
	"missing switch medisch_alleen_adviseur" in errs
	"unknown switch extra" in errs
	"switch geheimhouders_zonder_toestemming must be one of [\"abc\", \"bc\", \"nooit\"], not soms" in errs
	"switch beroepscode_als_wettelijk must be one of [false, true], not ja" in errs
	count(errs) == 4
}

test_profile_not_an_object if {
	profile.errors.lijst == {"profile must be a JSON object"} with data.profiles.lijst as []
}

test_new_switches_in_both_profiles if {
	data.profiles.knmg.geheimhouder_data_medisch == true
	data.profiles.wetsvoorstel.geheimhouder_data_medisch == false
	data.profiles.knmg.toestemming_doelgebonden == true
	data.profiles.wetsvoorstel.toestemming_doelgebonden == false
	every p in ["knmg", "wetsvoorstel"] {
		data.profiles[p].lid_grond_doelen == ["onderzoek_hulpvraag", "onderzoek_zonder_hulpvraag", "casusoverleg"]
	}
}

test_list_switch_takes_known_purposes_only if {
	known := "[\"casusoverleg\", \"gecoordineerde_aanpak\", \"handhaving\", \"onderzoek_hulpvraag\", \"onderzoek_zonder_hulpvraag\", \"verantwoording\", \"zvh_overdracht\"]"
	every value in ["casusoverleg", ["casusoverleg", "spoed"], ["casusoverleg", "casusoverleg"], {"casusoverleg": true}, null] {
		broken := object.union(data.profiles.knmg, {"lid_grond_doelen": value})
		errs := profile.errors.broken with data.profiles.broken as broken
		errs == {sprintf("switch lid_grond_doelen must be a list of distinct values from %s, not %v", [known, value])}
		res := authz.decision with input as lib_test.mk("broken", {}) with data.profiles.broken as broken
		res.reasons == ["PROFILE"]
	}
	every value in [[], ["casusoverleg"]] {
		ok := object.union(data.profiles.knmg, {"lid_grond_doelen": value})
		profile.errors.ok == set() with data.profiles.ok as ok
		authz.profile_valid with input as lib_test.mk("ok", {}) with data.profiles.ok as ok
	}
}

test_new_switches_are_required if {
	broken := object.remove(data.profiles.knmg, ["geheimhouder_data_medisch", "toestemming_doelgebonden", "lid_grond_doelen"])
	errs := profile.errors.broken with data.profiles.broken as broken
	errs == {
		"missing switch geheimhouder_data_medisch",
		"missing switch toestemming_doelgebonden",
		"missing switch lid_grond_doelen",
	}
}

test_lid_grond_doelen_takes_the_known_purposes if {
	profile.list_switches.lid_grond_doelen == purpose.known_purposes
	profile.switch_names == object.keys(profile.switches) | {"lid_grond_doelen"}
}
