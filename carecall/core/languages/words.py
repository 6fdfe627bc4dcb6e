"""`Understanding`: the kinds of words a language's catalogue lists (see `core.languages`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Understanding:
    """The words short spoken answers and text replies are understood by, in one language.

    All are folded as `fold` does (lower case, no accents), so "sí" and "si" are one word.
    Phrases are words separated by spaces. ``numbers`` and ``tens`` are ``"word=value"``;
    ``contractions`` are ``"words=word"`` ("do not=don't"), joined before anything is read.
    """

    yes: tuple[str, ...]
    yes_phrases: tuple[str, ...]
    """Words that say yes together ("i have", "ya comi"), unless a no follows at once."""
    negators: tuple[str, ...]
    """Words that turn what follows around ("not very well"); they also answer no."""
    no: tuple[str, ...]
    """Words that answer no besides the negators ("nope", "nada")."""
    unsure: tuple[str, ...]
    """Phrases that answer neither ("not sure"): their words say neither yes nor no."""
    hurts: tuple[str, ...]
    """Words that answer "are you in any pain?" yes ("sore", "duele")."""
    no_pain: tuple[str, ...]
    """Words that answer it no ("fine")."""
    good: tuple[str, ...]
    okay: tuple[str, ...]
    bad: tuple[str, ...]
    good_phrases: tuple[str, ...]
    okay_phrases: tuple[str, ...]
    negation_reach: int
    """How many words before a good or bad word a negator turns it around: three in English
    ("I don't feel very good"), four where the subject is left out ("no me siento muy bien")."""
    openers: tuple[str, ...]
    """A first word that only opens a sentence and says nothing ("well, ...", "bueno, ...")."""
    numbers: tuple[str, ...]
    tens: tuple[str, ...]
    """Tens that a unit may follow ("twenty four", "treinta y dos")."""
    tens_joiners: tuple[str, ...]
    """Words between the tens and the unit ("y"); may be empty."""
    half: tuple[str, ...]
    """What adds a half to a number said just before ("and a half", "y media")."""
    nothing: tuple[str, ...]
    """Words of an answer that says there is nothing ("no, thank you, I'm fine")."""
    repeat_phrases: tuple[str, ...]
    repeat_alone: tuple[str, ...]
    """Words that, alone, ask to hear it again when one of ``repeat_triggers`` is among them."""
    repeat_triggers: tuple[str, ...]
    opt_out_phrases: tuple[str, ...]
    stop_words: tuple[str, ...]
    """Opt-out phrases that start with one of these don't count after a negator ("don't stop
    calling")."""
    leaving_phrases: tuple[str, ...]
    """"I have to go": a goodbye when it ends the turn or one of ``leaving_ends`` follows."""
    leaving_ends: tuple[str, ...]
    goodbyes: tuple[str, ...]
    """One word that says goodbye near the start or end of a turn ("bye", "adios")."""
    reported: tuple[str, ...]
    """Words before a goodbye that only report one ("I said goodbye to her")."""
    contractions: tuple[str, ...]
    acknowledgements: tuple[str, ...]
    """A caregiver's text reply that starts with one of these says "I've got this"."""
    acknowledgement_phrases: tuple[str, ...]

    OPTIONAL = frozenset({"tens_joiners", "contractions", "good_phrases", "okay_phrases"})
    """Kinds of words a language may leave empty."""
