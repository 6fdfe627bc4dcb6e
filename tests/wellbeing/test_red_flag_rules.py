from __future__ import annotations

import json

import pytest

from bench.red_flag_data import TRAINING_SPLITS, Line, assign_splits
from bench.red_flag_data import load as load_lines
from carecall.wellbeing.alerts import RED_FLAG_WORDS, advised
from carecall.wellbeing.red_flags import (
    ADVICE,
    MAX_SAID_WORDS,
    RULES,
    RedFlagCategory,
    _line_pieces,
    care_note,
    detect,
    detect_all,
    detect_all_rules,
    llm_check,
    necessary_words,
    normalize,
    parse_llm_answer,
)
from carecall.wellbeing.red_flags import RedFlagCategory as C
from tests.wellbeing.chat_fake import chat_fake
from tests.wellbeing.red_flag_lines import (
    HELD_OUT_NOT_URGENT,
    HELD_OUT_URGENT,
    NOT_URGENT,
    URGENT,
    score,
)


def test_the_labelled_lines_cover_every_category_and_their_look_alikes() -> None:
    assert len(URGENT) >= 20 and len(NOT_URGENT) >= 20
    assert {c for _, c in URGENT} == set(RedFlagCategory)
    assert len({line for line, _ in URGENT} | set(NOT_URGENT)) == len(URGENT) + len(NOT_URGENT)


def test_precision_and_recall_on_the_lines_the_rules_were_improved_on() -> None:
    result = score(URGENT, NOT_URGENT)
    # Measured: precision 1.00, recall 1.00 (62 + 62 lines, three batches).
    assert result.precision >= 0.95
    assert result.recall >= 0.95


def test_precision_and_recall_on_lines_the_rules_never_saw() -> None:
    result = score(HELD_OUT_URGENT, HELD_OUT_NOT_URGENT)
    # Measured: precision 0.75, recall 0.19 (16 + 16 lines; the two earlier held-out batches,
    # before the rules learned them: 0.67 / 0.29 and 0.83 / 0.31). The rules know the wording
    # they were shown; unseen wording is what the model check is for.
    assert result.precision >= 0.75
    assert result.recall >= 0.15


def test_recall_and_precision_on_the_fourth_blind_set() -> None:
    # heldout4 (318 lines) was written while the detector was being improved, by someone who
    # read neither the rules, the classifier nor any row, and committed before it was scored;
    # scored once, after (bench/README.md): recall 0.84 overall (0.78 before the change),
    # 0.71 to 0.93 per category, precision 0.95 (0.946). Below
    # the targets: a floor, not a claim.
    blind = [line for line in load_lines() if line.split == "heldout4"]
    assert len(blind) >= 300
    assert not {line.text for line in blind} & {
        line.text for line in load_lines() if line.split != "heldout4"
    }
    recall, precision = _score_rows("heldout4")
    assert recall["all"] >= 0.83 and min(recall.values()) >= 0.71
    assert precision >= 0.94


@pytest.mark.parametrize(
    ("line", "category"),
    [(line, category) for line, category in URGENT],
)
def test_each_urgent_line_is_flagged_in_its_category(line: str, category: RedFlagCategory) -> None:
    flag = detect(line)
    assert flag is not None and flag.category == category
    assert flag.detector == "rules" and flag.rule.startswith(f"{category}/")
    assert flag.phrase and flag.phrase in normalize(line)
    assert flag.evidence and flag.evidence in line


@pytest.mark.parametrize("line", NOT_URGENT)
def test_each_look_alike_is_left_alone(line: str) -> None:
    assert detect(line) is None


@pytest.mark.parametrize(
    ("urgent", "not_urgent"),
    [
        ("I fell over in the hall.", "I didn't fall over in the hall."),
        ("I've got chest pain.", "I've not got any chest pain."),
        ("My son hits me.", "My son never hits me."),
        ("I slipped and I can't get up.", "I can't get up as early as I used to."),
        (
            "I had a fall in March and I still can't put weight on my leg.",
            "I had a fall in March but I'm fine now.",
        ),
        ("My husband collapsed.", "I passed out on the sofa watching the snooker."),
        ("I'm so short of breath.", "I'm short of breath on the stairs, as usual."),
    ],
)
def test_negation_the_past_and_the_usual_clear_a_match(urgent: str, not_urgent: str) -> None:
    assert detect(urgent) is not None
    assert detect(not_urgent) is None


def test_spoken_and_transcribed_spellings_are_read_alike() -> None:
    for line in ("I cannot breathe", "i cant breathe", "I can’t breathe", "I  CAN'T   BREATHE"):
        flag = detect(line)
        assert flag is not None and flag.category == RedFlagCategory.BREATHING, line
    assert detect("") is None and detect("   ") is None


def test_a_line_with_two_red_flags_raises_both() -> None:
    flags = detect_all("I fell over in the kitchen and now I can't breathe.")
    assert [f.category for f in flags] == [RedFlagCategory.FALL, RedFlagCategory.BREATHING]
    assert detect_all("I fell asleep in my chair.") == []


def test_being_hurt_or_thoughts_of_self_harm_stay_urgent_when_in_the_past() -> None:
    assert detect("My son hit me last year.") is not None
    assert detect("Last month I thought about killing myself.") is not None


def test_the_advice_fits_the_category() -> None:
    fall = detect("I've fallen and I can't get up.")
    harm = detect("I want to end it all.")
    assert fall is not None and harm is not None
    assert "9 1 1" in fall.advice and "9 8 8" not in fall.advice
    assert "9 8 8" in harm.advice
    assert "911" in care_note(fall) and "988" in care_note(harm)
    assert "connect" not in care_note(fall), "no offer to connect without someone to connect to"
    offer = care_note(fall, connect_to="your daughter Susan")
    assert "connect them to your daughter Susan" in offer and "connect_caregiver" in offer


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"red_flag": true, "category": "stroke", "evidence": "mouth crooked"}', "stroke"),
        ('```json\n{"red_flag": true, "category": "abuse", "evidence": "he"}\n```', "abuse"),
        ('{"red_flag": false, "category": null, "evidence": ""}', None),
        ('{"red_flag": true, "category": "sadness", "evidence": "x"}', None),
        ('{"red_flag": "yes", "category": "fall"}', None),
        ('{"red_flag": true, "category": "fall"', None),
        ("[1, 2]", None),
        ("I'm not sure.", None),
        ("", None),
    ],
)
def test_the_models_answer_is_read_strictly(answer: str, expected: str | None) -> None:
    flag = parse_llm_answer(answer)
    assert (flag.category if flag else None) == expected
    if flag is not None:
        assert flag.detector == "llm" and flag.advice


async def test_the_model_check_sends_the_line_and_reads_the_verdict() -> None:
    verdict = {"red_flag": True, "category": "breathing", "evidence": "can't get any air"}
    async with chat_fake(lambda _: json.dumps(verdict)) as (fake, client):
        flag = await llm_check("I can't get any air in.", client, model="gpt-4o")
    assert flag is not None and flag.category == RedFlagCategory.BREATHING
    assert flag.phrase == "can't get any air"
    assert flag.evidence == "I can't get any air in"  # the caller's words, not the model's
    assert fake.lines == ["<line>I can't get any air in.</line>"]


@pytest.mark.parametrize(
    ("line", "quote"),
    [
        # The sentence the words were in, as said: what a caregiver reads, not the rule's "i fell".
        ("I fell in the bathroom and I can't get up", "I fell in the bathroom and I can't get up"),
        (
            "Morning, love. Well, I fell in the bathroom and I cannot get up! It's cold.",
            "Well, I fell in the bathroom and I cannot get up",
        ),
        ("My chest feels tight. It's been an hour.", "My chest feels tight"),
        # A long sentence: the words around what raised it, cut with "…".
        (
            "Oh you know how it is, the garden is a mess and the neighbour keeps on about the "
            "fence and the bins, and then yesterday evening I fell off the back step by the door "
            "and my wrist is all swollen and purple and I don't know what to do about the "
            "shopping this week at all",
            "…fence and the bins, and then yesterday evening I fell off the back step by the door "
            "and my wrist is all swollen and…",
        ),
    ],
)
def test_the_flag_quotes_the_callers_own_sentence(line: str, quote: str) -> None:
    flag = detect(line)
    assert flag is not None and flag.evidence == quote
    assert len(flag.evidence.strip("…").split()) <= MAX_SAID_WORDS


async def test_the_model_check_quotes_the_whole_line_when_its_words_are_its_own() -> None:
    verdict = {"red_flag": True, "category": "self_harm", "evidence": "feels life is pointless"}
    async with chat_fake(lambda _: json.dumps(verdict)) as (_, client):
        flag = await llm_check("Honestly, what's it all for. Nothing.", client, model="m")
    assert flag is not None and flag.evidence == "Honestly, what's it all for. Nothing"


async def test_a_slow_or_failing_model_check_gives_no_flag() -> None:
    verdict = json.dumps({"red_flag": True, "category": "fall", "evidence": "fell"})
    async with chat_fake(lambda _: verdict, delay=2.0) as (_, client):
        assert await llm_check("I fell.", client, model="m", timeout=0.2) is None
    async with chat_fake(lambda _: verdict, status=503) as (_, client):
        assert await llm_check("I fell.", client, model="m") is None


# --- the labelled set (bench/data/red_flag_lines.csv) and the classifier ----------------------


def _score_rows(*splits: str) -> tuple[dict[str, float], float]:
    found: dict[str, list[bool]] = {}
    flagged = correct = 0
    for line in load_lines():
        if line.split not in splits:
            continue
        categories = {flag.category.value for flag in detect_all(line.text)}
        if line.urgent:
            found.setdefault(line.category, []).append(line.category in categories)
        if categories:
            flagged += 1
            correct += line.urgent
    recall = {category: sum(hits) / len(hits) for category, hits in found.items()}
    recall["all"] = sum(sum(h) for h in found.values()) / sum(len(h) for h in found.values())
    return recall, correct / flagged


def test_the_labelled_set_is_big_enough_and_split_once_per_category() -> None:
    lines = load_lines()
    urgent = [line for line in lines if line.urgent]
    assert len(lines) >= 400 and len(lines) - len(urgent) >= len(urgent)
    assert {line.category for line in urgent} == {c.value for c in RedFlagCategory}
    assert {line.split for line in lines} == {
        "tuning",
        "held_out",
        "tuning2",
        "tuning3",
        "tuning4",
        "heldout2",
        "heldout3",
        "heldout4",
    }
    first = [line for line in lines if line.split in ("tuning", "held_out")]
    for category in RedFlagCategory:
        rows = [line for line in first if line.urgent and line.category == category.value]
        held = sum(line.split == "held_out" for line in rows)
        assert held == round(len(rows) / 4), category
    # The split is the seeded one: re-splitting from scratch gives the same rows.
    unsplit = [Line("", line.category, line.like, line.text) for line in first]
    assert assign_splits(unsplit) == first


def test_the_fresh_held_out_set_covers_every_category_with_as_many_look_alikes() -> None:
    fresh = [line for line in load_lines() if line.split == "heldout2"]
    urgent = [line for line in fresh if line.urgent]
    assert len(fresh) >= 160 and len(fresh) - len(urgent) >= len(urgent)
    assert {line.category for line in urgent} == {c.value for c in RedFlagCategory}
    assert {line.like for line in fresh if not line.urgent} == {c.value for c in RedFlagCategory}
    # Written apart from the rest: no line of it is also a training or first held-out line.
    assert not {line.text for line in fresh} & {
        line.text for line in load_lines() if line.split != "heldout2"
    }


def test_recall_and_precision_on_the_training_rows() -> None:
    recall, precision = _score_rows("tuning", "held_out", "tuning2", "tuning3", "tuning4")
    # Measured: recall 1.00 overall (0.99 to 1.00 per category), precision 1.00. Fitted on
    # these rows, so only a floor against breaking what was learned; `python -m
    # bench.train_red_flags --cross-validate` gives the figures that mean something.
    assert min(recall.values()) >= 0.97 and precision >= 0.99


def test_recall_and_precision_on_the_fresh_held_out_rows() -> None:
    recall, precision = _score_rows("heldout2")
    # Measured (bench/README.md): recall 0.98 overall, 0.91 to 1.00 per category; precision
    # 0.94 (7 false alarms in 123 flagged: 3 by the rules as before, 4 by the classifier, one
    # more than before, the price of its lower thresholds). A floor, so a change that loses
    # ground fails; nothing is tuned on these rows.
    assert recall["all"] >= 0.97 and min(recall.values()) >= 0.9
    assert precision >= 0.94


def test_recall_and_precision_on_the_blind_rows() -> None:
    # heldout3 was written by someone who never read the rules, the classifier or the other
    # rows, and nothing was fitted on its lines (bench/README.md): the honest figure, and
    # below the targets in three categories (recall 0.92 overall; self-harm 0.75, sudden
    # confusion and unconscious 0.83, the rest 0.92 or more; precision 0.98). A floor.
    blind = [line for line in load_lines() if line.split == "heldout3"]
    assert not {line.text for line in blind} & {
        line.text for line in load_lines() if line.split != "heldout3"
    }
    recall, precision = _score_rows("heldout3")
    assert recall["all"] >= 0.91 and min(recall.values()) >= 0.75
    assert precision >= 0.97


@pytest.mark.parametrize(
    ("line", "category"),
    [
        ("I've been on the floor since last night.", RedFlagCategory.FALL),
        ("I had a bit of a tumble in the kitchen this morning.", RedFlagCategory.FALL),
        ("It feels like an elephant is sitting on me.", RedFlagCategory.CHEST_PAIN),
        ("I can't find my words.", RedFlagCategory.STROKE),
        ("I don't see the point any more.", RedFlagCategory.SELF_HARM),
        ("He takes my money and shouts.", RedFlagCategory.ABUSE),
        ("I coughed up blood this morning.", RedFlagCategory.BLEEDING),
        ("I don't know where I am.", RedFlagCategory.CONFUSION),
        ("Nothing's passed my lips since Tuesday.", RedFlagCategory.NOT_EATING),
        ("I've had more of my morphine than I should.", RedFlagCategory.MEDICATION),
        ("He's out cold on the bathroom floor.", RedFlagCategory.UNCONSCIOUS),
    ],
)
def test_everyday_wording_is_flagged(line: str, category: RedFlagCategory) -> None:
    assert category in {flag.category for flag in detect_all(line)}


@pytest.mark.parametrize(
    ("urgent", "not_urgent"),
    [
        ("I fell yesterday and my hip hurts.", "I fell last year but I'm fine now."),
        ("I had a stroke this morning, my face is numb.", "I had a stroke of luck at the bingo."),
        ("I slipped in the shower.", "I slipped up and forgot the milk again."),
        ("I haven't eaten since Friday.", "I haven't eaten yet today, it's only half eight."),
        ("I've taken my tablets twice.", "I've taken my tablets this morning, all correct."),
        ("I don't know where I am.", "I don't know where the summer went."),
    ],
)
def test_time_scope_idioms_and_duration_decide(urgent: str, not_urgent: str) -> None:
    assert detect_all(urgent), urgent
    assert detect_all(not_urgent) == [], not_urgent


@pytest.mark.parametrize(
    ("urgent", "not_urgent"),
    [
        # someone on the screen or in a book, unless the caller is in the clause
        (
            "There's blood everywhere, I cut my arm.",
            "In that drama the butler got stabbed, blood everywhere.",
        ),
        # an animal
        ("I keep wheezing and I can't stop.", "My dog keeps wheezing, the vet says he's fine."),
        # a friend's or a neighbour's news, unless they are there needing help
        (
            "My friend's collapsed here in my kitchen.",
            "My friend Edna collapsed at the shops, she's home now.",
        ),
        (
            "My husband's fallen and I can't lift him.",
            "The lady next door slipped on the step last week.",
        ),
        # hurt by someone: never cleared by time, except in childhood
        ("My son hit me last week.", "My big sister used to hit me when we were little."),
        # taken back
        ("I've fallen in the garden.", "I've fallen in the garden, only joking, I'm at the table."),
        # words that only sound like it
        ("I doubled up on my warfarin.", "I doubled up laughing at the panto."),
        (
            "My grandson's been using my bank card without asking.",
            "I used my bank card at the shop.",
        ),
        ("I took ten of my painkillers.", "I've got a lot of tablets to take every day."),
    ],
)
def test_whose_trouble_it_is_decides(urgent: str, not_urgent: str) -> None:
    assert detect_all(urgent), urgent
    assert detect_all(not_urgent) == [], not_urgent


@pytest.mark.parametrize(
    ("line", "category"),
    [
        # a quiet wish to be gone, hopelessness, hurting oneself
        ("Every morning I wake up disappointed that I've woken up at all.", C.SELF_HARM),
        ("I've lost the will to live, I really have.", C.SELF_HARM),
        ("I feel like a useless lump, my children would be well rid of me.", C.SELF_HARM),
        ("I don't think I can keep doing this, love, I'm at the end of my rope.", C.SELF_HARM),
        ("I'd be better off in the ground next to my wife.", C.SELF_HARM),
        ("I've been banging my head on the wall till it bleeds.", C.SELF_HARM),
        ("I went to bed hoping I wouldn't wake up.", C.SELF_HARM),
        # words that come out wrong, a familiar place gone strange, people who are not there
        ("I couldn't answer the phone just now, the words came out back to front.", C.STROKE),
        ("I got off the bus and nothing looked familiar.", C.CONFUSION),
        ("I can hear a band playing in the loft and there's nobody up there.", C.CONFUSION),
        ("Mum keeps asking when Dad's coming home, and Dad died in 2009.", C.CONFUSION),
        # control of money, post and doors; medicines doubled by two hands or gone without
        ("My husband won't let me have a penny of my own.", C.ABUSE),
        ("They keep me shut in my room when visitors come round.", C.ABUSE),
        ("My husband's had his lithium twice, the carer and I both gave it him.", C.MEDICATION),
        ("I put a new patch on and forgot to take the old ones off.", C.MEDICATION),
        ("Mum won't eat, she pushes the plate away, it's been nearly a week.", C.NOT_EATING),
        ("He fell and he's not come to, he's just lying there.", C.UNCONSCIOUS),
        ("My husband's come off his walker in the garden.", C.FALL),
    ],
)
def test_word_families_that_unseen_wording_shares_are_read(line: str, category: C) -> None:
    assert category in {flag.category for flag in detect_all_rules(line)}, line


@pytest.mark.parametrize(
    "line",
    [
        "I had a stroke of luck at the bingo.",
        "I slipped up and forgot the milk again.",
        "I'm at the end of my tether with this crossword.",
        "I could have killed myself laughing at that programme.",
        "I'm dying of boredom in this waiting room.",
        "I'm drowning in paperwork since the council wrote.",
        "I don't want to go on the coach trip, I'd rather stay home.",
        "I wish this rain would end.",
        "I had a fit of the giggles in church.",
        "My grandson passed out of his training with the fire brigade.",
        "I always take a double dose of honey in my tea.",
        "My grandson took all my money at cards, he's a real shark!",
        "I hardly eat red meat these days, mostly fish.",
        "I was breathless with laughter at my granddaughter's jokes.",
        "My granddaughter threatens to come and do my hair.",
    ],
)
def test_idioms_stay_quiet(line: str) -> None:
    assert detect_all(line) == [], line


@pytest.mark.parametrize(
    ("urgent", "not_urgent"),
    [
        # it nearly happened
        (
            "I fell on the ice outside the paper shop.",
            "I nearly fell on the ice but I grabbed the rail.",
        ),
        # "my" of a pet does not make it the caller's trouble
        (
            "I haven't eaten since Sunday.",
            "My cat hasn't eaten since Sunday, she's going to the vet.",
        ),
        # long ago, even when someone "still" teases about it
        (
            "I fainted in the shower this morning.",
            "I fainted at my wedding sixty years ago, everyone still teases me.",
        ),
        (
            "My husband's unconscious on the floor.",
            "In the war my father was knocked unconscious by a blast.",
        ),
    ],
)
def test_what_nearly_happened_a_pet_and_long_ago_stay_quiet(urgent: str, not_urgent: str) -> None:
    assert detect_all(urgent), urgent
    assert detect_all(not_urgent) == [], not_urgent


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"\bfell (?:over|down)\b", {"fell "}),
        (r"\b(?:came|come) (?:round|to)\b", {"ame", "ome"}),
        (r"\bchest\w*|\bbreath(?:e|ing)\b", {"chest", "breath"}),
        # one word of the two needed: the one less likely in any line
        (r"^(?=.*\b(?:pills|tablets)\b).*\btwice\b", {"twice"}),
        (r"\b\w+ me\b|\bn\w*", None),  # an alternative that needs no word at all
    ],
)
def test_the_words_a_pattern_needs_are_read_from_it(pattern: str, words: set[str] | None) -> None:
    assert necessary_words(pattern) == (frozenset(words) if words is not None else None)


def test_a_rule_is_never_skipped_on_a_line_it_matches() -> None:
    # Each part of a rule is searched only in lines holding a piece of the words every match
    # needs: on every training line a part matches, one of those pieces is there.
    lines = [normalize(line.text) for line in load_lines() if line.split in TRAINING_SPLITS]
    for rules in RULES.values():
        for rule in rules:
            for part, pieces in rule.parts:
                assert pieces is not None, rule.name
                for line in filter(part.search, lines):
                    assert not pieces.isdisjoint(_line_pieces(line)), (rule.name, line)


def test_the_classifier_flags_what_no_rule_reads_and_quotes_the_sentence() -> None:
    line = "Morning. My breathing is shocking today, I can hardly talk."
    assert detect_all_rules(line) == []
    flag = detect(line)
    assert flag is not None and flag.detector == "classifier"
    assert flag.category == RedFlagCategory.BREATHING and flag.rule == "breathing/classifier"
    assert flag.evidence == "My breathing is shocking today, I can hardly talk"


def test_a_match_across_sentences_quotes_the_sentence_it_ends_in() -> None:
    flag = detect("Morning. I have not had a bite to eat for days.")
    assert flag is not None and flag.category == RedFlagCategory.NOT_EATING
    assert flag.evidence == "I have not had a bite to eat for days"


def test_the_caregiver_is_told_what_the_bot_advised_for_each_category() -> None:
    assert advised(ADVICE[RedFlagCategory.MEDICATION]) == "We gave them Poison Control's number. "
    assert advised(ADVICE[RedFlagCategory.CONFUSION]) == "We advised calling 911. "
    assert all(category.value in RED_FLAG_WORDS for category in RedFlagCategory)
