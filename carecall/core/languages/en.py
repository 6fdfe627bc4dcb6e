"""English: the reference catalogue (see `core.languages`). Every other language has every
line here, with the same placeholders."""

from __future__ import annotations

from carecall.core.languages.words import Understanding

CODE = "en"
NAME = "English"
NATIVE_NAME = "English"
SAY_LANGUAGE = "en-US"
SAY_VOICE: str | None = None
"""Twilio's default voice."""
MODEL_NOTE = ""

LINES: dict[str, str] = {
    # --- the call's opening (one sentence each), then the guided check-in's first question --
    "greeting.hello": "Hello!",
    "greeting.hello_name": "Hello {name}!",
    "greeting.intro": (
        "This is {bot_name}, an automated assistant calling on behalf of {organization_name} "
        "for your daily check-in."
    ),
    "organization.default": "your care team",
    # --- the guided check-in: each question, then what is said to each kind of answer ------
    "checkin.feeling": "How are you today?",
    "checkin.feeling.good": "I'm glad to hear that.",
    "checkin.feeling.okay": "Thank you for telling me.",
    "checkin.feeling.bad": "I'm sorry to hear that.",
    "checkin.sleep": "About how many hours did you sleep last night?",
    "checkin.sleep.number": "That sounds like a good night's rest.",
    "checkin.sleep.low": "That's not very much. I hope you can rest a little today.",
    "checkin.meals": "Have you had something to eat today?",
    "checkin.meals.yes": "Good, I'm glad you've eaten.",
    "checkin.meals.no": "Please try to have something to eat soon.",
    "checkin.medication": "Have you taken your medicines today?",
    "checkin.medication.yes": "Good, thank you.",
    "checkin.medication.no": "Please remember to take them the way your doctor told you.",
    "checkin.pain": "Are you in any pain today?",
    "checkin.pain.yes": "I'm sorry to hear that. If it gets worse, please call your doctor.",
    "checkin.pain.no": "I'm glad to hear that.",
    "checkin.needs": ("Is there anything you need, or anything you'd like your care team to know?"),
    "checkin.needs.nothing": "All right.",
    "checkin.needs.something": "Thank you. I'll make a note of that.",
    "checkin.thanks": "Thank you.",
    "checkin.not_understood": "I'm sorry, I didn't quite catch that.",
    "checkin.moving_on": "That's all right.",
    "checkin.goodbye": "Thank you for talking with me today. Goodbye, and take care!",
    "checkin.opt_out_goodbye": (
        "I understand. I'll make sure we don't call you again. Take care, goodbye."
    ),
    # --- lines of every call ---------------------------------------------------------------
    "call.fallback": "I'm sorry, I didn't catch that. Could you say it again?",
    "call.hold_cue": "Mm-hmm.",
    "call.time_up_goodbye": (
        "We've been chatting for a while, so I'll let you go now. Thank you, and take care. "
        "Goodbye!"
    ),
    "call.idle_first": "Take your time, there's no rush. I'm listening.",
    "call.idle_second": "Are you still there? If you can hear me, just say hello.",
    "call.idle_goodbye": (
        "I haven't heard anything for a little while, so I'll let you go now. "
        "We'll call again soon. Take care. Goodbye!"
    ),
    "call.shutdown_goodbye": (
        "I'm sorry, I have to go now. Someone will call you again soon. Goodbye!"
    ),
    "call.transfer": "Connecting you to {name} now. Please stay on the line.",
    "voicemail.named": (
        "Hello {name}, this is {bot_name} calling on behalf of {organization_name} for your "
        "daily check-in. Sorry we missed you; we'll try again a little later. Take care!"
    ),
    "voicemail.unnamed": (
        "Hello, this is {bot_name} calling on behalf of {organization_name} for your daily "
        "check-in. Sorry we missed you; we'll try again a little later. Take care!"
    ),
    "screener.named": (
        "This is {bot_name} calling for {name}'s daily check-in from {organization_name}."
    ),
    "screener.unnamed": (
        "This is {bot_name} calling with a daily check-in from {organization_name}."
    ),
    # --- care advice after a red flag (the guided check-in says it word for word) ----------
    "advice.call_911": (
        "This sounds serious, and I want you to get help right away. Please call 9 1 1 now. "
        "If it's easier, I can end our call so you can call them straight away. "
        "I'm also letting your caregiver know."
    ),
    "advice.call_988": (
        "I'm really glad you told me, and I'm sorry you're feeling this way. You're not alone. "
        "You can call or text 9 8 8 at any time, day or night, to talk with someone who can "
        "help. I'm here with you, and I'd like to let your caregiver know so they can be with "
        "you too."
    ),
    "advice.unsafe_at_home": (
        "I'm so sorry that is happening to you. It is not your fault, and you deserve to be "
        "safe. If you are in danger right now, please call 9 1 1. "
        "I'm letting your caregiver know, and I can connect you with them."
    ),
    "advice.not_eating": (
        "That worries me, and I'd like you to get some help with it today. If you can, have a "
        "few sips of water now. If you feel faint, very weak or muddled, please call 9 1 1. "
        "I'm letting your caregiver know so they can check on you."
    ),
    "advice.medication": (
        "Thank you for telling me. Taking too much, or the wrong medicine, can be dangerous. "
        "Please call Poison Control on 1 800 222 1222 now, or 9 1 1 if you feel unwell or very "
        "sleepy. I'm letting your caregiver know."
    ),
    # --- texts to caregivers: a red flag -----------------------------------------------------
    "text.red_flag": (
        "{organization}: URGENT — during today's call {name} {said}. {advised}Please check on "
        "{name} now."
    ),
    "text.red_flag.said": "said {quote}",
    "text.red_flag.spoke_of": "spoke of {what}",
    "text.advised.988": "We gave them the 988 crisis line. ",
    "text.advised.poison": "We gave them Poison Control's number. ",
    "text.advised.911": "We advised calling 911. ",
    "red_flag.fall": "a fall",
    "red_flag.chest_pain": "chest pain",
    "red_flag.breathing": "trouble breathing",
    "red_flag.stroke": "signs of a stroke",
    "red_flag.self_harm": "thoughts of harming themselves",
    "red_flag.abuse": "someone hurting or threatening them",
    "red_flag.severe_bleeding": "bleeding that won't stop",
    "red_flag.unconscious": "someone collapsed or can't be woken",
    "red_flag.sudden_confusion": "sudden confusion",
    "red_flag.not_eating_drinking": "not eating or drinking for days",
    "red_flag.medication_error": "too much or the wrong medicine",
    # --- texts to caregivers: a measure getting worse ---------------------------------------
    "text.trend": "{organization}: {reason} Please check in with {name} soon.",
    "trend.worse": "{name}'s {measure} has got worse over the last {count} calls ({levels})",
    "trend.then": ", then ",
    "trend.reached": "{name}'s {measure} has reached “{level}”",
    "trend.before": " (the call before: {level})",
    "trend.quoted": "{reason}: {quote}.",
    "trend.unquoted": "{reason}.",
    "quote": "“{words}”",
    "measure.mood": "mood",
    "measure.sleep": "sleep",
    "measure.eating": "eating",
    "measure.pain": "pain",
    "measure.medication": "taking of medication",
    "measure.social_contact": "contact with other people",
    "measure.loneliness": "loneliness",
    "measure.mobility": "getting around",
    "measure.confusion": "confusion",
    "level.mood.0": "good",
    "level.mood.1": "a little low",
    "level.mood.2": "low",
    "level.mood.3": "very low or hopeless",
    "level.sleep.0": "sleeping well",
    "level.sleep.1": "some poor nights",
    "level.sleep.2": "sleeping badly",
    "level.sleep.3": "hardly sleeping",
    "level.eating.0": "eating well",
    "level.eating.1": "eating a little less",
    "level.eating.2": "eating poorly",
    "level.eating.3": "hardly eating",
    "level.pain.0": "no pain",
    "level.pain.1": "mild pain",
    "level.pain.2": "pain that gets in the way",
    "level.pain.3": "severe pain",
    "level.medication.0": "taken as prescribed",
    "level.medication.1": "unsure or missed once",
    "level.medication.2": "missed several doses",
    "level.medication.3": "not taking it",
    "level.social_contact.0": "in regular contact with people",
    "level.social_contact.1": "some contact",
    "level.social_contact.2": "little contact",
    "level.social_contact.3": "no contact with anyone",
    "level.loneliness.0": "not lonely",
    "level.loneliness.1": "a little lonely",
    "level.loneliness.2": "lonely",
    "level.loneliness.3": "very lonely",
    "level.mobility.0": "getting around well",
    "level.mobility.1": "a little unsteady",
    "level.mobility.2": "struggling to get around",
    "level.mobility.3": "fell or can't get around",
    "level.confusion.0": "clear",
    "level.confusion.1": "a little forgetful",
    "level.confusion.2": "confused at times",
    "level.confusion.3": "very confused",
    # --- escalations: the person could not be reached ----------------------------------------
    "text.escalation": (
        "{organization}: {situation} ({reason}). Please check on {name}. Reply OK to let us "
        "know you've got this."
    ),
    "call.escalation": (
        "Hello, this is an automated message from {organization}. {situation}, {reason}. "
        "Please check on {name}."
    ),
    "escalation.situation": "We couldn't reach {full_name} for their {which}",
    "escalation.press_1": "Press 1 to let us know you've got this.",
    "escalation.no_key": "We didn't hear a key press. Goodbye.",
    "escalation.tries.one": "{count} try: {outcome}",
    "escalation.tries.many": "{count} tries: {outcome}",
    "outcome.voicemail": "went to voicemail",
    "outcome.no-answer": "no answer",
    "outcome.busy": "line busy",
    "outcome.failed": "call failed",
    "outcome.skipped": "not called",
    "checkin.which": "{time} check-in {day}",
    "checkin.which.unknown": "check-in",
    "day.today": "today",
    "day.yesterday": "yesterday",
    "day.on": "on {weekday} {day} {month}",
    "weekday.0": "Monday",
    "weekday.1": "Tuesday",
    "weekday.2": "Wednesday",
    "weekday.3": "Thursday",
    "weekday.4": "Friday",
    "weekday.5": "Saturday",
    "weekday.6": "Sunday",
    "month.1": "January",
    "month.2": "February",
    "month.3": "March",
    "month.4": "April",
    "month.5": "May",
    "month.6": "June",
    "month.7": "July",
    "month.8": "August",
    "month.9": "September",
    "month.10": "October",
    "month.11": "November",
    "month.12": "December",
    # --- answers to a caregiver's text or key press ------------------------------------------
    "reply.nothing_waiting": (
        "Thank you for your message. There's nothing waiting for an answer from you right now."
    ),
    "reply.how_to_acknowledge": "To let us know you're checking on {names}, reply OK.",
    "reply.already": "Thank you, {first_name}. Someone is already checking on {names}.",
    "reply.noted": "Thank you, {first_name}. We've noted that you're checking on {names}.",
    "reply.no_name": "there",
    "names.and": " and ",
    "names.none": "them",
    "keypad.goodbye": "Goodbye.",
    "keypad.already": "Thank you. Someone is already checking on {name}. Goodbye.",
    "keypad.noted": "Thank you. We've noted that you're checking on {name}. Goodbye.",
}


UNDERSTANDING = Understanding(
    yes=(
        "yes", "yeah", "yep", "yup", "yea", "ya", "aye", "sure", "certainly", "definitely",
        "absolutely", "indeed", "correct", "mhm", "already",
    ),
    yes_phrases=(
        "i have", "i've", "i did", "i do", "i had", "i ate", "i took", "think so",
        "a little", "a bit", "of course", "uh huh",
    ),
    negators=(
        "no", "not", "never", "don't", "doesn't", "didn't", "isn't", "wasn't", "aren't",
        "ain't", "haven't", "hasn't", "can't", "won't", "couldn't",
    ),
    no=("nope", "nah", "none", "nothing", "nay"),
    unsure=("don't know", "not sure", "can't remember", "don't remember", "i forget"),
    hurts=("hurts", "hurting", "sore", "aches", "aching", "ache", "painful", "pain"),
    no_pain=("fine",),
    good=(
        "good", "great", "fine", "well", "wonderful", "lovely", "excellent", "fantastic",
        "grand", "marvellous", "marvelous", "super", "better", "happy", "brilliant",
        "splendid", "perfect", "terrific",
    ),
    okay=("okay", "ok", "alright", "fair", "average", "middling"),
    bad=(
        "bad", "terrible", "awful", "poorly", "sick", "ill", "unwell", "rough", "horrible",
        "sad", "lonely", "tired", "dreadful", "miserable", "worse", "low", "weak", "dizzy",
        "rotten",
    ),
    good_phrases=("can't complain", "mustn't grumble"),
    okay_phrases=(
        "could be worse", "so so", "all right", "not bad", "not too bad", "not so bad",
        "same as usual", "same as always", "getting by", "up and down",
    ),
    negation_reach=3,
    openers=("well",),
    numbers=(
        "zero=0", "one=1", "two=2", "three=3", "four=4", "five=5", "six=6", "seven=7",
        "eight=8", "nine=9", "ten=10", "eleven=11", "twelve=12", "thirteen=13", "fourteen=14",
        "fifteen=15", "sixteen=16", "seventeen=17", "eighteen=18", "nineteen=19",
    ),
    tens=("twenty=20", "thirty=30", "forty=40", "fifty=50", "sixty=60"),
    tens_joiners=(),
    half=("and a half",),
    nothing=(
        "no", "nothing", "not", "really", "thanks", "thank", "you", "i'm", "i", "am",
        "fine", "ok", "okay", "that's", "all", "dear", "at", "nope", "don't", "think", "so",
        "need", "anything", "right", "now", "today", "good",
    ),
    repeat_phrases=(
        "say that again", "say it again", "say again", "repeat that", "repeat it",
        "repeat the", "repeat yourself", "come again", "pardon", "didn't hear",
        "didn't catch", "couldn't hear", "can't hear", "what was that", "what did you say",
        "what's that", "one more time",
    ),
    repeat_alone=("what", "sorry", "huh", "eh", "excuse", "me", "again", "please", "i'm", "say"),
    repeat_triggers=("what", "sorry", "huh", "eh"),
    opt_out_phrases=(
        "stop calling", "stop ringing", "stop phoning", "don't call me", "don't call again",
        "don't ring me", "don't phone me", "never call me", "no more calls",
        "don't want these calls", "don't want any more calls", "don't want your calls",
        "don't want to be called", "take me off", "remove me", "unsubscribe",
    ),
    stop_words=("stop",),
    leaving_phrases=(
        "have to go", "got to go", "gotta go", "need to go", "must go", "better go",
        "should go", "have to hang up", "let you go", "talk to you later", "talk later",
    ),
    leaving_ends=("now", "sorry", "dear", "love", "bye", "goodbye", "then", "soon"),
    goodbyes=("bye", "goodbye"),
    reported=("said", "say", "says", "saying"),
    contractions=(
        "cannot=can't", "do not=don't", "does not=doesn't", "did not=didn't",
        "have not=haven't", "has not=hasn't", "is not=isn't", "was not=wasn't",
        "are not=aren't", "can not=can't", "will not=won't",
    ),
    acknowledgements=(
        "ok", "okay", "k", "kk", "yes", "y", "yep", "yeah", "yup", "sure", "done", "1", "👍",
    ),
    acknowledgement_phrases=("got it", "on it", "will do", "i got it", "i'm on it", "im on it"),
)  # fmt: skip


MACHINE_WORDS = (
    r"\b(leave (me |us )?(a |your )?(message|name and number)|after the (tone|beep)|"
    r"at the (tone|beep)|record your message|you('ve| have) reached|voice ?mail|mailbox)"
)
"""What an answering machine's greeting (or a screener sending the call to one) says, and a
person picking up does not: "I can't get to the phone" or "she's not available" alone could be
someone who answered (and may need help), so they don't count."""
SCREENER_WORDS = (
    r"\b(screening service|call (screening|screen|assistant)|(say|state|record) your name|"
    r"your name and (the )?(reason|why)|reason (for|of) (your |the |this )?call|"
    r"why (you're|you are) calling|what (you're|you are) calling about|"
    r"see if (this person|they're|they are|he's|she's|he is|she is) available|"
    r"(stay|hold) on the line|please hold)"
)
"""What a call-screening assistant says (Google's Call Screen, Apple's Call Screening, ...)."""
