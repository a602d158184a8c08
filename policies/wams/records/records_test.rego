# METADATA
# title: Tests for wams.records
# description: L1-L2 under both profiles; L1 only for the fg of a controlling organisation.
package wams.records_test

import data.wams.lib_test
import data.wams.records

records_read(p, role, doel) := lib_test.mk(p, {
	"subject": {"properties": {"role": role}},
	"action": {"name": "list", "properties": {"phase": "request"}},
	"resource": {"type": "records", "id": null, "properties": {"category": null, "labels": null}},
	"context": {"purpose": doel},
})

test_l1_fg_reads_records if {
	every p in lib_test.profiles {
		records.allow == {"L1"} with input as records_read(p, "fg", "verantwoording")
		records.obligations == {{
			"type": "record_processing",
			"processing_activity": "urn:wams:verwerking:verantwoording",
		}} with input as records_read(p, "fg", "verantwoording")
	}
}

test_l1_others_denied if {
	every p in lib_test.profiles {
		records.deny == {"L1"} with input as records_read(p, "consulent", "onderzoek_hulpvraag")
		delete := object.union(records_read(p, "fg", "verantwoording"), {"action": {"name": "delete"}})
		records.deny == {"L1"} with input as delete
	}
}

subject_access(p) := object.union(records_read(p, null, null), {"subject": {"type": "data_subject", "id": "pseudo-1"}})

test_l2_data_subject_access if {
	every p in lib_test.profiles {
		records.allow == {"L2"} with input as subject_access(p)
		count(records.deny) == 0 with input as subject_access(p)
		records.obligations == {{
			"type": "record_processing",
			"processing_activity": "urn:wams:verwerking:inzage_betrokkene",
		}} with input as subject_access(p)
	}
}

test_l2_needs_data_subject_type if {
	every p in lib_test.profiles {
		inp := object.union(subject_access(p), {"subject": {"type": "user"}})
		records.deny == {"L1"} with input as inp
	}
}

test_l1_only_the_fg_of_a_controlling_organisation if {
	every p in lib_test.profiles {
		other := object.union(records_read(p, "fg", "verantwoording"), {"subject": {"properties": {"controlling_org": false, "org": "zvh-midden"}}})
		records.deny == {"L1"} with input as other
		count(records.allow) == 0 with input as other
		unknown := json.remove(records_read(p, "fg", "verantwoording"), ["subject/properties/controlling_org"])
		records.deny == {"L1"} with input as unknown
	}
}
