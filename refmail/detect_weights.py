"""The weight of each detection feature and the threshold (data; set by hand, checked on dev).

Positive weights are evidence of an introduction, negative ones of a look-alike. A message is
an introduction when the sum of the weights of the features it shows reaches THRESHOLD.
`refmail classify` prints each feature with its weight, so a verdict is always explained.
"""

THRESHOLD = 3.5

WEIGHTS: dict[str, float] = {
    # the author's words: the act of introducing and the hand-off
    "cue_introduce": 3.0,
    "cue_meet": 3.0,
    "cue_connect": 3.0,
    "cue_should_talk": 2.0,
    "cue_reach_each_other": 1.0,
    "cue_common_ground": 1.0,
    "cue_opt_in_ask": 3.0,
    "cue_hand_off": 1.5,
    "cue_can_help": 0.75,  # a hand-off that only says someone can help: half a pointer
    "cue_gave_name": 1.5,
    "cue_vouches": 1.0,
    "cue_passes_on_cv": 3.0,  # someone's résumé passed on: a referral, with one more sign
    "knows_the_candidate": 1.0,  # ... the author's own tie to the candidate: that sign
    "cue_copy_in": 2.0,
    "cue_copy_why": 1.0,
    "copy_to_reach": 1.0,
    "hands_to_the_copied": 2.0,  # someone copied will reach the reader, or is to be reached
    "brings_in_the_reader": 2.0,  # someone new asked to serve one copied from the thread
    "copy_for_own_task": -2.5,
    "copy_for_logistics": -2.5,
    "copy_unexplained": -1.5,
    "copy_in_another_mail": -4.0,
    "copies_a_roll": -4.0,
    "copy_in_a_list_item": -2.0,  # a step of a procedure, a point of a plan: said, not made
    "asks_the_copied": 0.5,
    # the shape of the message
    "subject_names_intro": 2.5,
    "people_addressed_2plus": 0.5,
    "owner_and_someone_new": 0.5,
    "forwards_a_person": 1.0,
    "names_two_parties": 1.0,
    "greets_the_parties": 0.75,
    "speaks_to_each": 1.5,
    "describes_a_party": 0.75,
    "describes_each_side": 1.5,
    "describes_the_other": 1.0,
    "note_names_forwarded_author": 1.0,
    "gives_an_address": 1.0,
    "directs_to_a_party": 1.5,
    "directs_to_forwarded": 2.5,
    "directs_to_someone_described": 2.5,
    "sends_someone_to_reader": 2.5,
    "presents_the_copied": 1.5,
    "names_the_copied": 2.0,
    "names_someone_unaddressed": 1.5,
    "copied_last_in_cc": 1.0,
    "copies_a_group": 1.0,
    "single_person_addressed": -0.5,
    "no_connecting_act": -2.0,
    "colleagues_only": -1.5,
    # look-alikes
    "neg_asks_for_intro": -5.0,
    "neg_thanks_for_intro": -5.0,
    "neg_self_intro": -5.0,
    "neg_reply": -3.5,
    "neg_moved_to_bcc": -5.0,
    "neg_out_of_office": -4.0,
    "neg_bulk": -6.0,
    "neg_logistics": -2.0,
    "neg_fyi_copy": -4.0,
    "neg_missed_copy": -4.0,
    "neg_list_copy": -3.0,
    "neg_admin_copy": -4.0,
    "neg_welcome": -3.0,
    "neg_referral_programme": -5.0,
    "neg_offer_later": -3.0,
    "neg_pointer": -2.0,
    "neg_relay": -2.5,
    "neg_phone_line": -3.0,
    "request_subject": -3.0,
    "patch_posting": -4.0,
    "calendar_invite": -4.0,
    "no_new_party": -5.0,
    "broadcast": -6.0,
    "forwards_to_many": -3.0,
    "addressed_to_a_list": -3.0,
    "no_parties": -10.0,
}
