"""A small linear classifier for red flags: what the phrase rules miss in unseen wording.

The phrase rules (`wellbeing.red_flags`) know the wording they were written for; people say the
same thing a hundred ways ("I had a bit of a tumble", "I've come over all confused"). This
model scores one caller line for each red-flag category from the words around them: word
stems, synonym classes (``tumble``, ``spill`` and ``fell`` are one class; so are ``muddled``,
``befuddled`` and ``confused``), word pairs, character n-grams (which survive spelling and
endings), and markers of time and negation scope ("didn't", "last year", "fine now") and of
whose trouble it is (a friend's news, a film, an animal).

It is a softmax regression (a ``none`` class and one per category), trained by
``python -m bench.train_red_flags`` on the training rows of `bench/data/red_flag_lines.csv`
(and the unit test lines), and shipped as `wellbeing/data/red_flag_model.json`: for each
feature kept, its weight per class, and each category's own flagging threshold. Inference is
pure Python (a dictionary look-up per feature and a few additions; ~0.15 ms a line,
`python -m bench.red_flags`), with no dependency.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

MODEL_FILE = Path(__file__).parent / "data" / "red_flag_model.json"
CHAR_NGRAMS = (3, 4, 5)

_WORD = re.compile(r"[a-z][a-z']*")
_SUFFIXES = ("ing", "ed", "es", "s", "'s", "ly")

SYNONYMS: dict[str, str] = {
    "fall": (
        "fall fell fallen falling tumble tumbled spill slipped slip tripped trip toppled "
        "keeled collapsed buckled stumbled cropper flat sprawling flying crumpled wedged "
        "header purler slithered slid length heap"
    ),
    "floor": "floor ground carpet lino rug pavement path patio stairs steps landing tiles flags",
    "chest": "chest breastbone ribs heart sternum breast jaw ticker",
    "cardiac": "angina gtn nitro spray stent bypass cardiac ticker heart",
    "pain": (
        "pain pains ache aching hurt hurts hurting sore agony burning sharp crushing "
        "squeezing pressure tight tightness heavy heaviness weight band vice gripping clamping "
        "brick poker wrung tightening"
    ),
    "sweat": "clammy sweaty sweating sweat grey pale cold wet",
    "breath": (
        "breath breathe breathing breathless air puffed panting gasping wheezing wheezy "
        "suffocating lungs puff puffing winded gulping rattle whistling airways breaths"
    ),
    "lung_aid": "inhaler inhalers nebuliser oxygen copd asthma sats spacer blue brown",
    "speech": "words word speech speak talking talk voice say nonsense sounds",
    "numb": (
        "numb dead weak floppy flopping heavy drooping droopy tingly clumsy feeling limp "
        "wonky lopsided dragging slipped veering cotton tingling"
    ),
    "blood": (
        "blood bleeding bleed bled gushing pouring pumping spurting dripping soaked "
        "streaming seeping sodden clots tarry burst running"
    ),
    "confused": (
        "confused muddled muddle befuddled disoriented foggy jumbled mixed lost fuzzy woolly "
        "hazy scrambled blank peculiar strange recognise whose doolally vacant delirious "
        "agitated topsy turvy sea sense"
    ),
    "phantom": "voices spiders soldiers ghosts insects hallucinating hallucinations there",
    "despair": (
        "point hopeless burden enough over end ending die dead gone disappear living alive worth "
        "pointless bothered finish favour useless mercy kindness nuisance waste done"
    ),
    "farewell": "goodbye goodbyes farewell letters will funeral order join innings last",
    "means": (
        "rope knife bridge cliff cliffs platform gun shotgun bleach bag wrists stockpiling "
        "hoarding counting saving stash jar lot hang nerve"
    ),
    "hurt_by": (
        "hit hits slapped shoved pushed grabbed pinches twisted smacked threatens "
        "bullying shouts screams knocks punched kicked belted thumped whacked shakes shook "
        "nasty frightened scared terrified afraid locks locked temper shuts throws bangs grabs"
    ),
    "money": (
        "money pension card savings chequebook bank cash purse wallet account signature "
        "vouchers deposit owe pin password cheques sign house transfer"
    ),
    "eat": (
        "eat eaten eating food meal drink drunk drinking water appetite swallow bite meals "
        "crackers tummy stomach"
    ),
    "days": (
        "days week monday tuesday wednesday thursday friday saturday sunday weekend yesterday "
        "fortnight since"
    ),
    "pills": (
        "pills pill tablets tablet medicine medication dose insulin painkillers "
        "paracetamol morphine patch patches warfarin thinners capsules meds dosette "
        "prescription aspirin codeine codamol gtn digoxin lithium thyroxine steroids "
        "clopidogrel statins inhaler inhalers antibiotics naproxen ibuprofen fentanyl blister"
    ),
    "too_many": (
        "twice double doubled extra another more whole wrong again second lots handful load "
        "dozen eight ten fifteen together lot"
    ),
    "missed": "missed skipped skipping forgot forgetting stopped ran run without dry none",
    "faint": (
        "fainted faint passed blacked unconscious conked out wake responding swooned swoon "
        "flaked slumped limp rouse unresponsive syncope blanking woke came round went"
    ),
}
"""Words that mean the same thing here (space-separated), each class read as one feature."""
_CLASS_OF: dict[str, list[str]] = {}
for _name, _words in SYNONYMS.items():
    for _word in _words.split():
        _CLASS_OF.setdefault(_word, []).append(_name)

_NEGATIONS = frozenset(
    {"no", "not", "never", "didn't", "haven't", "hasn't", "hadn't", "isn't", "wasn't"}
    | {"don't", "doesn't", "without", "nobody", "none"}
)
_CLAUSE_END = frozenset({"but", "and", "because", "so"})
_LONG_AGO = re.compile(
    r"\b(?:last (?:year|month|spring|summer|autumn|winter|christmas)|years? ago|months? ago|"
    r"years and years|when i was|back in|in (?:19|20)\d\d|as a child|long ago|a while back)\b"
)
_SETTLED = re.compile(
    r"\b(?:fine now|better now|all better|recovered|healed|healing|sorted|right as rain|"
    r"grand since|fine since|much better|settled|i'm fine|it passed|back to normal|home now|"
    r"wears? off|wore off|coming back now|always have been|used to it)\b"
)
_JOKE = re.compile(r"\b(?:ha|haha|only joking|the rascal|cheeky|we laughed)\b")
_STILL = re.compile(r"\b(?:still|right now|since|getting worse|won't stop|can't)\b")
_OTHERS = re.compile(
    r"^(?:my (?:\w+ )?(?:friend|neighbou?r|cousin|brother|sister|aunt|auntie|uncle|niece|"
    r"nephew)|(?:a|the|our) (?:lady|man|woman|chap|neighbou?r|friend))\b"
)
_FICTION = re.compile(
    r"\b(?:on|in) (?:the|that|a) (?:telly|tv|news|radio|film|programme|show|drama|soaps?|book|"
    r"story)\b|\b(?:film|programme|drama|documentary|character|book|novel|soap)\b"
)
_ANIMAL = re.compile(r"\b(?:the|my|our) (?:cat|dog|puppy|kitten|budgie|bird|horse|rabbit)\b")


def stem(word: str) -> str:
    """A crude stem: enough that "tumbled", "tumbles" and "tumbling" share features."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def features(line: str) -> list[str]:
    """The features of one normalised line (`wellbeing.red_flags.normalize`)."""
    words = _WORD.findall(line)
    stems = [stem(w) for w in words]
    found = [f"w:{s}" for s in stems]
    classes: list[str] = []
    negated = False
    scoped: list[str] = []
    for word in words:
        if word in _CLAUSE_END:
            negated = False
        for name in _CLASS_OF.get(word, ()):
            classes.append(f"s:{name}")
            scoped.append(f"n:{name}" if negated else f"s+:{name}")
        if word in _NEGATIONS or word.endswith("n't"):
            negated = True
    found += classes + scoped
    if scoped and not any(f.startswith("s+") for f in scoped):
        found.append("t:all_negated")  # every symptom word it has is said not to be there
    found += [f"p:{a} {b}" for a, b in pairwise(stems)]
    found += [f"c:{a}{b}" for a, b in pairwise(classes)]
    padded = f" {line} "
    found += [f"g:{padded[i : i + n]}" for n in CHAR_NGRAMS for i in range(len(padded) - n + 1)]
    if _LONG_AGO.search(line):
        found.append("t:long_ago")
    if _SETTLED.search(line):
        found.append("t:settled")
    if _STILL.search(line):
        found.append("t:still")
    if _OTHERS.search(line):
        found.append("t:others")
    if _FICTION.search(line):
        found.append("t:fiction")
    if _ANIMAL.search(line):
        found.append("t:animal")
    if _JOKE.search(line):
        found.append("t:joke")
    return found


def all_negated(line: str) -> bool:
    """Every symptom word of the (normalised) line is in a negated clause ("i've not got any
    chest pain"), and there is at least one."""
    return "t:all_negated" in features(line)


@dataclass(frozen=True)
class Model:
    classes: tuple[str, ...]
    """``none`` first, then the categories."""
    bias: tuple[float, ...]
    weights: dict[str, tuple[tuple[int, float], ...]]
    """Per feature, the (class index, weight) pairs kept."""
    thresholds: tuple[float, ...]
    """Per class (the ``none`` one unused), the probability at or above which it is flagged:
    each category's own, chosen out of fold by `bench.train_red_flags`."""

    def probabilities(self, line: str) -> list[float]:
        scores = list(self.bias)
        weights = self.weights
        for feature in set(features(line)):
            for index, weight in weights.get(feature, ()):
                scores[index] += weight
        top = max(scores)
        exps = [math.exp(score - top) for score in scores]
        total = sum(exps)
        return [value / total for value in exps]

    def categories(self, line: str) -> list[tuple[str, float]]:
        """The categories at or above their thresholds, most probable first."""
        found = [
            (name, p)
            for name, p, threshold in zip(
                self.classes, self.probabilities(line), self.thresholds, strict=True
            )
            if name != "none" and p >= threshold
        ]
        return sorted(found, key=lambda pair: -pair[1])

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        """The model a weights file holds (`bench.train_red_flags` writes it)."""
        return cls(
            classes=tuple(data["classes"]),
            bias=tuple(data["bias"]),
            weights={
                feature: tuple((int(index), float(weight)) for index, weight in pairs)
                for feature, pairs in data["weights"].items()
            },
            thresholds=tuple(float(t) for t in data["thresholds"]),
        )


@cache
def load_model(path: Path = MODEL_FILE) -> Model:
    return Model.from_json(json.loads(path.read_text(encoding="utf-8")))
