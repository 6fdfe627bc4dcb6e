"""Caller lines labelled by hand: what an older person might say on a check-in call.

Written as callers talk, in batches, each before the rules saw it (see `wellbeing.red_flags`):
the first before there were rules; each later one as the held-out set of the rules of the time,
measured, then added here and the rules improved on it; never the lines changed to suit the
rules. ``URGENT`` pairs each line with the category a nurse would file it under; ``NOT_URGENT``
lines look like red flags (the same words, idioms, negations, problems long past or resolved,
someone else's news) but need no alarm. ``HELD_OUT_*`` is the latest batch, which the rules
have never been improved on: their figures on it are the honest ones for unseen wording.

Decisions worth knowing (also in `wellbeing.red_flags`): heartburn after a meal, breathlessness
the caller calls normal for them on the stairs, and a fall months ago that has healed are not
urgent; being hit by a family member is urgent even when it happened yesterday.
"""

from __future__ import annotations

from dataclasses import dataclass

from carecall.wellbeing.red_flags import RedFlagCategory as C
from carecall.wellbeing.red_flags import detect

URGENT: list[tuple[str, C]] = [
    # fall
    ("I took a tumble yesterday and can't get up.", C.FALL),
    ("I fell in the bathroom this morning and my hip really hurts.", C.FALL),
    ("I'm on the floor in the kitchen, I slipped and I can't get myself up.", C.FALL),
    ("My legs gave way and I went down hard on the stairs.", C.FALL),
    ("I had a fall last night and I've been lying here ever since.", C.FALL),
    ("My husband's fallen in the garden and he can't get up.", C.FALL),
    # chest pain
    ("I've got this crushing pain in my chest.", C.CHEST_PAIN),
    ("My chest feels tight and it's going down my left arm.", C.CHEST_PAIN),
    ("There's a pressure on my chest, like someone's sitting on it.", C.CHEST_PAIN),
    ("I think I'm having a heart attack.", C.CHEST_PAIN),
    # breathing
    ("I can't catch my breath, even sitting still.", C.BREATHING),
    ("I can hardly breathe today.", C.BREATHING),
    ("I'm really short of breath and my lips look a bit blue.", C.BREATHING),
    ("I keep gasping for air.", C.BREATHING),
    # stroke
    ("My face is drooping on one side.", C.STROKE),
    ("My words are coming out wrong and I can't lift my right arm.", C.STROKE),
    ("All of a sudden I can't feel my left side.", C.STROKE),
    ("My speech is all slurred and I feel so muddled.", C.STROKE),
    ("Everything went dark in one eye and my arm's gone numb.", C.STROKE),
    # thoughts of self-harm
    ("Sometimes I just want to end it all.", C.SELF_HARM),
    ("I don't see any reason to go on anymore.", C.SELF_HARM),
    ("I've been thinking about killing myself.", C.SELF_HARM),
    ("Everyone would be better off without me.", C.SELF_HARM),
    ("I've been saving up my pills so I can take them all at once.", C.SELF_HARM),
    ("I wish I could go to sleep and not wake up.", C.SELF_HARM),
    # being hurt by someone
    ("My son hits me when he's angry.", C.ABUSE),
    ("My carer shoves me around and takes my money.", C.ABUSE),
    ("I'm scared of my nephew, he locked me in my room.", C.ABUSE),
    ("My daughter slapped me yesterday.", C.ABUSE),
    ("Someone in the house has been hurting me.", C.ABUSE),
    # severe bleeding, someone unconscious
    ("I cut my hand on a knife and it won't stop bleeding.", C.BLEEDING),
    ("My husband collapsed and he isn't waking up.", C.UNCONSCIOUS),
    # the newer categories (tuning rows of bench/data/red_flag_lines.csv)
    ("I don't know where I am.", C.CONFUSION),
    ("I'm so muddled, I don't know what year it is.", C.CONFUSION),
    ("There's no food in the house and I haven't eaten since Friday.", C.NOT_EATING),
    ("I can't keep water down, it comes straight back up.", C.NOT_EATING),
    ("I think I've had a double dose of my insulin.", C.MEDICATION),
    ("I took the wrong pills, they were my husband's.", C.MEDICATION),
    # a second batch, written as a held-out set after the first rules (they caught 4 of 14
    # and raised 2 false alarms); the rules were then improved on it too
    ("I went over on my ankle on the path and I'm still sat on the ground.", C.FALL),
    ("Mum's fallen down the stairs and she's not moving much.", C.FALL),
    ("My chest is killing me, it's been like this an hour.", C.CHEST_PAIN),
    ("It feels like a band tightening round my chest.", C.CHEST_PAIN),
    ("I'm wheezing and I can't get any air in.", C.BREATHING),
    ("I'm breathless just talking to you.", C.BREATHING),
    ("My mouth's gone all crooked and my hand won't grip.", C.STROKE),
    ("I can't get my words out properly, it started just now.", C.STROKE),
    ("I don't want to be here anymore.", C.SELF_HARM),
    ("What's the point of carrying on, honestly.", C.SELF_HARM),
    ("My grandson pushed me into the wall last night.", C.ABUSE),
    ("He says he'll put me in a home if I tell anyone what he does.", C.ABUSE),
    ("There's blood pouring from my leg where I banged it.", C.BLEEDING),
    ("I blacked out in the hallway a few minutes ago.", C.UNCONSCIOUS),
    # a third batch, the held-out set after the second round (the rules caught 5 of 16 and
    # raised 1 false alarm); the rules were then improved on it too
    ("I've come off my chair and I'm stuck down here between the bed and the wall.", C.FALL),
    ("Dad took a nasty spill in the shower and his head's cut open.", C.FALL),
    ("I've got an awful pain right across my chest and I feel sick and sweaty.", C.CHEST_PAIN),
    ("My heart's pounding and there's a heavy feeling in my chest.", C.CHEST_PAIN),
    ("I'm struggling for breath and I can't finish a sentence.", C.BREATHING),
    ("I can't seem to get enough air, it's frightening.", C.BREATHING),
    ("One side of my smile has gone and my arm feels heavy.", C.STROKE),
    ("I keep getting my words muddled and my leg's gone weak all of a sudden.", C.STROKE),
    ("I've had enough of living, I really have.", C.SELF_HARM),
    ("I've thought about just taking all my tablets at once.", C.SELF_HARM),
    ("Nobody would miss me if I was gone.", C.SELF_HARM),
    ("My son-in-law grabbed my arm so hard it's all bruised.", C.ABUSE),
    ("She won't let me eat unless I give her my bank card.", C.ABUSE),
    ("I'm frightened of what he'll do when he gets back.", C.ABUSE),
    ("The cut on my head won't stop bleeding.", C.BLEEDING),
    ("My wife's fainted and I can't wake her.", C.UNCONSCIOUS),
]

NOT_URGENT: list[str] = [
    "I fell asleep early last night.",
    "My heart is full, the grandkids came to visit.",
    "I had a bit of heartburn after dinner.",
    "I didn't fall, I just sat down on the floor to reach the bottom cupboard.",
    "The leaves are falling in the garden, it's lovely.",
    "I fell in love with that new baking show.",
    "My son calls me every Sunday.",
    "I'm breathing much better since the new inhaler.",
    "My neighbour had a heart attack last year but he's fine now.",
    "I could kill for a cup of tea right now.",
    "That show was so funny I nearly died laughing.",
    "I'm dying to see my granddaughter at Christmas.",
    "My arm is a bit stiff from the gardening.",
    "I slipped on the ice in January but it's all healed up now.",
    "The view from the hill took my breath away.",
    "I'm tired of this rain, it's never-ending.",
    "My grandson beat me at cards again.",
    "I get a bit out of breath on the stairs, but that's normal for me.",
    "No chest pain today, the doctor's new pills are working.",
    "I haven't had any falls this week.",
    "My daughter hit the jackpot at bingo!",
    "I felt a bit down yesterday but today's better.",
    "The cat knocked my tea over and I laughed my head off.",
    "I want to end the call soon, my programme's starting.",
    "I can't get up as early as I used to.",
    "My face dropped when I saw the price of bread.",
    "I'm stroking the cat while we talk.",
    "I've got no reason to complain.",
    "The pain in my knee is back, it's the arthritis.",
    "I could sleep for a week.",
    "My chest cold is clearing up nicely.",
    "My sister's boy took me to the shops and carried my bags.",
    # the second batch
    "I fell behind on my crossword this week.",
    "My heart sank when they cancelled the bus.",
    "I'm a bit breathless after my walk, but I've sat down now and I'm fine.",
    "My son pushed me round the park in the wheelchair, it was lovely.",
    "The doctor said the stroke risk is low with my new tablets.",
    "I nearly fell off my chair laughing at the telly.",
    "That soup was to die for.",
    "I'm not in any pain at all today.",
    "The nurse took some blood for my tests on Monday.",
    "I was tripping over the cat all morning, she wants feeding.",
    "I've been dropping things a bit, my hands are cold.",
    "My brother passed away ten years ago, I still miss him.",
    "I'm sick to death of the news.",
    "I had a fall in the spring but physio has sorted me out.",
    # the third batch
    "I fell for his jokes every time.",
    "My heart goes out to the family next door.",
    "I've had a tight chest with this cold but it's easing off.",
    "I can't breathe a word of it to my sister, it's a surprise party.",
    "My grandson hit a six at cricket.",
    "My daughter hugs me every time she visits.",
    "I nearly had a heart attack when the phone rang!",
    "I was knocked out by how good the concert was.",
    "My legs are tired after the walk into town.",
    "I'm over the moon, my son's getting married.",
    "We had a power cut last night, what a night.",
    "I'm dead tired today.",
    "I'd kill to have my old knees back.",
    "The carer was late again, it's annoying.",
    "My speech at the wedding went down well.",
    "I dropped a stitch in my knitting and had to start again.",
]


# Written after the rules were improved on the three batches above, and never used to change
# them: how the rules do on wording they have not seen (`bench/red_flags.py` prints it).
HELD_OUT_URGENT: list[tuple[str, C]] = [
    ("I've been on the bathroom floor since last night, I can't move.", C.FALL),
    ("I keep losing my balance and I just fell again, I've hit my head.", C.FALL),
    ("It's like a fist clenching in the middle of my chest.", C.CHEST_PAIN),
    ("I've got pains shooting into my jaw and my chest feels all tight.", C.CHEST_PAIN),
    ("Every breath is a struggle today.", C.BREATHING),
    ("I'm panting like I've run a mile and I'm just sitting in my chair.", C.BREATHING),
    ("My left hand's gone all floppy and I can't hold my cup.", C.STROKE),
    ("My daughter says I'm not making sense and my face looks odd.", C.STROKE),
    ("I've started giving my things away, I won't need them soon.", C.SELF_HARM),
    ("I've been thinking I'd be better off dead.", C.SELF_HARM),
    ("Some days I think about just walking into the river.", C.SELF_HARM),
    ("My grandson shouts at me and twists my wrist till I give him money.", C.ABUSE),
    ("The man who helps me says he'll hurt my cat if I complain.", C.ABUSE),
    ("I've cut myself on the broken glass and it's soaking through the towel.", C.BLEEDING),
    ("My sister's gone grey and floppy and she won't answer me.", C.UNCONSCIOUS),
    ("I came round on the kitchen floor, I don't know how long I was out.", C.UNCONSCIOUS),
]

HELD_OUT_NOT_URGENT: list[str] = [
    "I fell out with my neighbour over the hedge.",
    "My chest of drawers finally got fixed.",
    "Breathe in the sea air, that's what my mother always said.",
    "I nearly choked on my tea laughing at the grandkids.",
    "My knees give way a bit on the hills but I use my stick.",
    "I'm fed up with the telly, nothing good on.",
    "My husband hit the roof when he saw the bill.",
    "The floor in the hall needs mopping.",
    "I'm shattered after the church fete.",
    "My granddaughter is pushing me to join the choir.",
    "I gave my old coat away to the charity shop.",
    "I've lost my glasses again, I can't see a thing without them.",
    "My tummy's been a bit upset since the curry.",
    "I get pins and needles in my feet at night sometimes.",
    "The bleeding from my gums when I brush has stopped now.",
    "Heart of gold, my neighbour, she brings my paper.",
]


@dataclass(frozen=True)
class Score:
    """How the phrase rules do on a set of labelled lines."""

    true_positives: int
    false_negatives: int
    false_positives: int
    missed: tuple[str, ...]
    false_alarms: tuple[str, ...]

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / (self.true_positives + self.false_negatives)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(urgent: list[tuple[str, C]], not_urgent: list[str]) -> Score:
    """The rules' score; a flag of the wrong category counts as a miss and a false alarm."""
    missed, false_alarms = [], []
    for line, category in urgent:
        flag = detect(line)
        if flag is None or flag.category != category:
            missed.append(line)
            if flag is not None:
                false_alarms.append(line)
    false_alarms += [line for line in not_urgent if detect(line) is not None]
    return Score(
        len(urgent) - len(missed),
        len(missed),
        len(false_alarms),
        tuple(missed),
        tuple(false_alarms),
    )
