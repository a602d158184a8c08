# METADATA
# title: Tests for wams.read
# description: R1-R5 under both profiles.
package wams.read_test

import data.wams.lib_test
import data.wams.read

use(p, role, action, category, labels) := lib_test.mk(p, {
	"subject": {"properties": {"role": role}},
	"action": {"name": action},
	"resource": {"properties": {"category": category, "labels": labels}},
	"context": {"purpose": "gecoordineerde_aanpak"},
})

test_r1_college_reads_and_writes_algemeen if {
	every p in lib_test.profiles {
		every role in ["consulent", "coordinator", "medisch_adviseur"] {
			read.allow == {"R1"} with input as use(p, role, "read", "algemeen", null)
		}
		read.allow == {"R1"} with input as use(p, "consulent", "create", "algemeen", null)
	}
}

test_r1_not_for_other_roles_or_outside if {
	every p in lib_test.profiles {
		count(read.allow) == 0 with input as use(p, "zvh_medewerker", "read", "algemeen", null)
		outside := object.union(
			use(p, "consulent", "read", "algemeen", null),
			{"subject": {"properties": {"controlling_org": false}}},
		)
		count(read.allow) == 0 with input as outside
	}
}

test_r2_medisch_by_consulent if {
	read.allow == {"R2"} with input as use("wetsvoorstel", "consulent", "read", "medisch", null)
	read.deny == {"R2"} with input as use("knmg", "consulent", "read", "medisch", null)
	read.deny == {"R2"} with input as use("knmg", "coordinator", "download", "medisch", null)
}

test_r2_sticky_alleen_medisch_adviseur if {
	labels := {"provider_sent": true, "voorwaarden": ["alleen_medisch_adviseur"]}
	every p in lib_test.profiles {
		read.deny == {"R2"} with input as use(p, "consulent", "read", "medisch", labels)
		read.deny == {"R2"} with input as use(p, "consulent", "read", "algemeen", labels)
		read.allow == {"R3"} with input as use(p, "medisch_adviseur", "read", "medisch", labels)
	}
}

test_r3_medisch_adviseur_reads_and_writes_medisch if {
	every p in lib_test.profiles {
		every action in ["read", "create", "update"] {
			read.allow == {"R3"} with input as use(p, "medisch_adviseur", action, "medisch", null)
		}
		count(read.allow) == 0 with input as use(p, "consulent", "create", "medisch", null)
	}
}

test_r4_wvggz_wzd if {
	read.allow == {"R4"} with input as use("wetsvoorstel", "consulent", "read", "wvggz_wzd", null)
	read.deny == {"R4"} with input as use("knmg", "consulent", "read", "wvggz_wzd", null)
	read.deny == {"R4"} with input as use("knmg", "coordinator", "read", "wvggz_wzd", null)
	every p in lib_test.profiles {
		read.allow == {"R4"} with input as use(p, "medisch_adviseur", "read", "wvggz_wzd", null)
	}
}

test_r4_onbekend_as_strict_as_wvggz if {
	every p in lib_test.profiles {
		read.deny == {"R4"} with input as use(p, "consulent", "read", "onbekend", null)
		read.allow == {"R4"} with input as use(p, "medisch_adviseur", "read", "onbekend", null)
		count(read.allow) == 0 with input as use(p, "consulent", "read", "onbekend", null)
	}
}

test_r5_coordinatiedossier if {
	every p in lib_test.profiles {
		read.allow == {"R5"} with input as use(p, "coordinator", "read", "coordinatiedossier", null)
		read.allow == {"R5"} with input as use(p, "coordinator", "update", "coordinatiedossier", null)
		read.allow == {"R5"} with input as use(p, "consulent", "read", "coordinatiedossier", null)
		read.deny == {"R5"} with input as use(p, "consulent", "update", "coordinatiedossier", null)
		read.deny == {"R5"} with input as use(p, "medisch_adviseur", "read", "coordinatiedossier", null)
		fg := object.union(use(p, "fg", "read", "coordinatiedossier", null), {"context": {"purpose": "verantwoording"}})
		read.allow == {"R5"} with input as fg
		read.deny == {"R5"} with input as object.union(fg, {"action": {"name": "update"}})
	}
}

test_r5_not_for_rol if {
	inp := object.union(use("knmg", "consulent", "create", "coordinatiedossier", null), {"resource": {"type": "rol"}})
	count(read.deny) == 0 with input as inp
}
