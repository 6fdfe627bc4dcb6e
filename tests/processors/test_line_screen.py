"""`LineScreen`: the first words heard tell who answered. The person's words go on; an answering
machine's greeting silences the bot (and, if Twilio's verdict never comes, the message is left
anyway); a call screener is answered once, in one sentence, and its words are never passed on
as the person's, until the person picks up and is greeted."""

from __future__ import annotations

from collections.abc import Sequence

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InterruptionFrame,
    TextFrame,
    TranscriptionFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from carecall.processors.line_screen import LineScreen
from carecall.processors.reply_gate import LineSpeechFrame, NotThePersonFrame
from carecall.processors.voicemail import VoicemailDrop

ANSWER = "This is Sunny calling for Molly's daily check-in from Sunny Care."
GREETING = ["Hello Molly!", "How are you today?"]
MILLER = "Hello, you have reached the Miller residence. Please leave a message after the tone."
PIXEL = (
    "Hi, the person you're calling is using a screening service from Google and will get a "
    "copy of this conversation. Go ahead and say your name and why you're calling."
)
IPHONE = "Hi, if you record your name and reason for calling, I'll see if this person is available."


def heard(text: str) -> TranscriptionFrame:
    return TranscriptionFrame(text, "line", "2026-01-05T15:00:00Z")


class Screened:
    def __init__(self, *, verdict_wait: float = 0.2) -> None:
        self.drop = VoicemailDrop()
        self.machine_heard = 0

        async def on_machine() -> None:
            self.machine_heard += 1
            await self.drop.leave_message("Sorry we missed you.")

        self.screen = LineScreen(
            self.drop,
            screener_answer=ANSWER,
            greeting=GREETING,
            on_machine=on_machine,
            verdict_wait=verdict_wait,
        )

    async def run(self, frames: list[Frame], **kwargs: object) -> Sequence[Frame]:
        down, _up = await run_test(
            Pipeline([self.drop, self.screen]),
            frames_to_send=frames,
            **kwargs,  # type: ignore[arg-type]
        )
        return down


def texts(frames: Sequence[Frame]) -> list[str]:
    return [f.text for f in frames if isinstance(f, TranscriptionFrame)]


async def test_the_person_answering_is_passed_on_from_then_on() -> None:
    line = Screened()
    down = await line.run([heard("Hello?"), heard("I have reached the age of ninety")])
    assert texts(down) == ["Hello?", "I have reached the age of ninety"]
    assert not line.drop.suspected and not line.drop.gate.closed


async def test_a_machine_greeting_silences_the_bot_and_the_verdict_leaves_the_message() -> None:
    line = Screened(verdict_wait=0.5)

    class VerdictAfter(FrameProcessor):
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, TextFrame) and frame.text == "(beep)":
                await line.drop.leave_message("Sorry we missed you.")
                return
            await self.push_frame(frame, direction)

    down, _up = await run_test(
        Pipeline([VerdictAfter(), line.drop, line.screen]),
        frames_to_send=[heard(MILLER), SleepFrame(0.1), TextFrame("(beep)"), SleepFrame(0.8)],
        send_end_frame=False,
    )
    assert texts(down) == []  # the greeting is not the person's words, nor answered
    assert line.drop.leaving and line.drop.gate.closed
    assert line.machine_heard == 0  # the verdict came in time: no second message
    assert [f.text for f in down if isinstance(f, LineSpeechFrame)] == ["Sorry we missed you."]


async def test_without_a_verdict_the_message_is_left_after_the_machine_falls_silent() -> None:
    line = Screened(verdict_wait=0.2)
    down = await line.run(
        [
            heard(MILLER),
            # The machine talks on (its greeting's last words): the wait starts again after.
            VADUserStartedSpeakingFrame(),
            SleepFrame(0.3),
            VADUserStoppedSpeakingFrame(),
            SleepFrame(0.5),
            heard("Beep."),
        ],
        send_end_frame=False,
    )
    assert line.machine_heard == 1
    assert texts(down) == []
    assert [f.text for f in down if isinstance(f, LineSpeechFrame)] == ["Sorry we missed you."]


async def test_a_call_screener_gets_one_sentence_and_is_not_the_person() -> None:
    line = Screened()
    down = await line.run(
        [
            heard(PIXEL),
            heard("Can you please repeat that?"),  # before the answer was heard: the screener's
            BotStartedSpeakingFrame(),
            BotStoppedSpeakingFrame(),
            heard("Thanks, please stay on the line."),
        ]
    )
    spoken = [f.text for f in down if isinstance(f, LineSpeechFrame)]
    assert spoken == [ANSWER]
    assert texts(down) == []
    kinds = [type(f) for f in down]
    assert kinds.index(InterruptionFrame) < kinds.index(NotThePersonFrame)
    assert kinds.index(NotThePersonFrame) < kinds.index(LineSpeechFrame)
    assert line.drop.gate.closed and not line.drop.suspected


async def test_the_person_picks_up_after_the_screener_and_is_greeted() -> None:
    line = Screened()
    down = await line.run(
        [
            heard(IPHONE),
            BotStartedSpeakingFrame(),
            BotStoppedSpeakingFrame(),
            heard("Hello? Who is this?"),
            heard("Oh, please leave a message for my son, he is not available."),
        ]
    )
    assert [f.text for f in down if isinstance(f, LineSpeechFrame)] == [ANSWER]
    # From the person's first words on, everything is theirs (a machine's words included).
    assert texts(down) == [
        "Hello? Who is this?",
        "Oh, please leave a message for my son, he is not available.",
    ]
    assert not line.drop.gate.closed and not line.drop.suspected


async def test_a_screener_that_sends_the_call_to_voicemail_gets_the_message() -> None:
    line = Screened(verdict_wait=0.2)
    down = await line.run(
        [
            heard(PIXEL),
            BotStartedSpeakingFrame(),
            BotStoppedSpeakingFrame(),
            heard("The person you're calling is not available. Please leave a message."),
            SleepFrame(0.4),
        ],
        send_end_frame=False,
    )
    assert line.machine_heard == 1
    assert [f.text for f in down if isinstance(f, LineSpeechFrame)] == [
        ANSWER,
        "Sorry we missed you.",
    ]
    assert texts(down) == []


async def test_while_the_gate_is_closed_no_reply_deadline_starts() -> None:
    line = Screened()
    down_up = await run_test(
        Pipeline([line.drop, line.screen]),
        frames_to_send=[UserStoppedSpeakingFrame()],
        frames_to_send_direction=FrameDirection.UPSTREAM,
    )
    assert UserStoppedSpeakingFrame in [type(f) for f in down_up[1]]  # open: it goes on

    await line.drop.suspect()
    _down, up = await run_test(
        Pipeline([line.drop, line.screen]),
        frames_to_send=[UserStoppedSpeakingFrame()],
        frames_to_send_direction=FrameDirection.UPSTREAM,
    )
    assert UserStoppedSpeakingFrame not in [type(f) for f in up]


async def test_a_person_who_answers_struggling_is_not_taken_for_a_machine() -> None:
    line = Screened()
    first = "Hello? Sorry, I can't get to the phone quickly, I've fallen and she is not available."
    down = await line.run([heard(first)])
    assert texts(down) == [first]
    assert not line.drop.suspected and not line.drop.gate.closed
