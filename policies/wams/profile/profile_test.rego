# METADATA
# title: Tests for wams.profile
# description: Profile validation of the shipped and of broken profiles.
package wams.profile_test

import data.wams.profile

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
