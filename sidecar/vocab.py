"""The shared vocabulary: every code the sidecar, its metrics and its policies agree on.

One place for each list. The Rego policies keep their own copies where they decide on them;
``tests/test_vocab.py`` checks that the rule ids here are exactly the ids in the policies'
METADATA and that every deny id has a place in the policy's ``deny_priority``. The rules
themselves are described in ``docs/rules.md``.
"""

from __future__ import annotations

ROLES = ("consulent", "coordinator", "medisch_adviseur", "aanbieder", "casusoverleg_deelnemer",
         "zvh_medewerker", "handhaving", "burgemeester_wvggz", "fg")
# College roles: they act for the college van B&W (the controlling organisation).
COLLEGE_ROLES = ("consulent", "coordinator", "medisch_adviseur")

PURPOSES = ("onderzoek_hulpvraag", "onderzoek_zonder_hulpvraag", "gecoordineerde_aanpak", "casusoverleg",
            "zvh_overdracht", "handhaving", "verantwoording")

# Data categories a catalogue mapping may name; ``onbekend`` is what an unmapped type becomes.
MAPPED_CATEGORIES = ("algemeen", "medisch", "wvggz_wzd", "coordinatiedossier")
CATEGORIES = (*MAPPED_CATEGORIES, "onbekend")

SECRECY_VALUES = ("wettelijk", "beroepscode", "geen")

GRONDSLAGEN = ("toestemming", "lid1", "lid2", "conflict_van_plichten")
LID2_CONDITIONS = ("a", "b", "c")
CVP_CONDITIONS = ("toestemming_gevraagd", "ernstige_schade", "gewetensnood", "geen_andere_weg",
                  "schade_voorkomen", "minimale_doorbreking")
VOORWAARDEN = ("geen_verdere_verstrekking", "alleen_medisch_adviseur")

# Obligations the sidecar understands; an allow carrying any other fails closed.
OBLIGATION_TYPES = ("record_recipient", "review_by_fg", "sticky_conditions", "record_processing",
                    "highest_record_level")

# The rule ids of docs/rules.md, as the policies' METADATA name them (custom.id).
RULE_IDS = (*(f"{p}{n}" for p, count in (("P", 3), ("I", 10), ("R", 5), ("W", 1), ("O", 4), ("C", 2),
                                          ("K", 3), ("L", 3)) for n in range(1, count + 1)),
            # Need-to-know (docs/rules.md "Need-to-know and consent rules"), appended explicitly.
            "N1", "N2", "N3", "N4",
            # Break-glass review by the FG (docs/rules.md, section "Break-glass review").
            "B1", "B2", "B3")
