"""The dashboard's demo call: a simulated senior (a scripted caller with a local voice) talks to
the bot through the real Twilio Media Streams protocol on loopback, so anyone can watch a live
transcript with no phone, no microphone and no keys.

How a demo stream proves itself (`/ws/demo`, `api.demo`): Twilio's media websocket `/ws` needs
an X-Twilio-Signature, which only Twilio (holding TWILIO_AUTH_TOKEN) can make, and we never
weaken that. The demo caller instead connects to a separate route, `/ws/demo`, which accepts a
stream only when all of these hold:

- the connection comes from loopback (the demo caller runs inside this server);
- its `start` message carries a *demo* token for the call: an HMAC of the call id under a key
  derived from SESSION_SECRET with its own label (`DemoTokens`), so a phone call's token never
  opens a demo stream and a demo token never opens a phone call's stream (`/ws` checks the
  phone tokens' key, and the Twilio signature first);
- the stored call's channel is `demo` (a leaked demo token for a phone call's id is refused);

and, as for every media stream (`api.media.open_stream`, the one handshake of both routes), the
start message comes in time, no more streams than allowed wait for theirs, and a call that has
its stream already gets no second one (a replayed start).

The conversation then runs exactly as a phone call's (`calls.conversation.run_conversation`),
except that its end never asks Twilio to hang up: a demo call never dials Twilio. Hung up from
the dashboard, the simulated senior ends the stream, as Twilio does for a phone call.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import shutil
import subprocess
import uuid
from collections.abc import Awaitable, Callable, Sequence

from loguru import logger
from pipecat.audio.utils import create_file_resampler, pcm_to_ulaw

from carecall.calls.channels import ChannelCalls
from carecall.core.events import EventBus
from carecall.persistence.models import Call, CallChannel
from carecall.persistence.repositories import CallRepository
from carecall.telephony.media_client import SAMPLE_RATE, MediaStreamClient

DEMO_NUMBER = "demo"
"""The `to_number` a demo call is stored with."""
MAX_CONCURRENT_DEMO_CALLS = 2
SENIOR_LINES: tuple[str, ...] = (
    "I'm fine, thank you.",
    "I slept about seven hours.",
    "Yes, I had breakfast.",
    "Yes, I took my tablets.",
    "No pain today.",
    "No, nothing, thank you.",
    "Goodbye.",
)


class DemoCallsBusy(RuntimeError):
    """Too many demo calls are running already."""


class DemoTokens:
    """Per-call tokens for demo streams only: an HMAC of the call id under a key derived from
    the server's secret with a label of its own (phone calls' `CallTokens` use another)."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(("carecall-demo-stream:" + secret).encode()).digest()

    def issue(self, call_id: int) -> str:
        return hmac.new(self._key, str(call_id).encode(), hashlib.sha256).hexdigest()

    def verify(self, call_id: int, token: str) -> bool:
        return hmac.compare_digest(self.issue(call_id), token)


# --- the senior's voice --------------------------------------------------------------------------


Speak = Callable[[str], Awaitable[bytes]]
"""Text → the senior's speech as 8 kHz μ-law."""


async def to_mulaw_8k(pcm: bytes, sample_rate: int) -> bytes:
    """16-bit mono PCM at ``sample_rate`` → 8 kHz μ-law (Twilio's media format)."""
    return bytes(await pcm_to_ulaw(pcm, sample_rate, SAMPLE_RATE, create_file_resampler()))


def local_voice() -> Speak:
    """The senior's voice: Piper's installed voice, slower than the bot's (the bot uses the same
    model at its normal pace), or espeak-ng when Piper is not installed."""
    from carecall.bot.local_speech import LocalSpeech, LocalSpeechMissing

    try:
        speech = LocalSpeech()
    except LocalSpeechMissing:
        return _espeak_voice()

    async def speak(text: str) -> bytes:
        from piper import SynthesisConfig

        engine = speech.piper
        pcm = await engine.synthesize(text, SynthesisConfig(length_scale=1.25, noise_scale=0.5))
        return await to_mulaw_8k(pcm, engine.sample_rate)

    return speak


def _espeak_voice() -> Speak:
    program = shutil.which("espeak-ng") or shutil.which("espeak")
    if program is None:
        raise RuntimeError("The demo call needs a local voice: install piper (or espeak-ng).")

    async def speak(text: str) -> bytes:
        def run() -> bytes:
            wav = subprocess.run(
                [program, "-v", "en-us", "-s", "140", "--stdout", text],
                check=True,
                capture_output=True,
                timeout=30,
            ).stdout
            return wav[44:]  # 22,050 Hz 16-bit mono PCM after the WAV header

        return await to_mulaw_8k(await asyncio.to_thread(run), 22_050)

    return speak


# --- the caller: Twilio's side of a media stream -------------------------------------------------


class DemoCaller:
    """The simulated senior: Twilio's side of the demo call's media stream
    (`telephony.media_client`, the client the tests and benchmarks use too), saying its lines
    one at a time, each once the bot has spoken and then been quiet ``quiet_after_bot``
    seconds. After its last line it lets the bot's goodbye play and hangs up (``stop``), or
    stops when the bot hangs up first."""

    def __init__(
        self,
        url: str,
        *,
        call_id: int,
        token: str,
        speak: Speak,
        lines: Sequence[str] = SENIOR_LINES,
        quiet_after_bot: float = 1.0,
        max_seconds: float = 240.0,
    ) -> None:
        self.line = MediaStreamClient(
            url,
            custom_parameters={"call_id": str(call_id), "token": token},
            call_sid=f"CAdemo{uuid.uuid4().hex[:26]}",
            # A pause in the bot's audio this long ends its turn; its sentence marks don't.
            utterance_gap=quiet_after_bot,
            end_on_mark=False,
        )
        self._speak = speak
        self._lines = list(lines)
        self._max_seconds = max_seconds
        self.on_connected: Callable[[], Awaitable[object]] | None = None

    async def run(self) -> None:
        """Call, talk through the script, hang up (or stop when the bot or `hang_up` ends the
        call). Raises `ConnectionError` when the stream is refused."""
        speech = [asyncio.ensure_future(self._speak(line)) for line in self._lines]
        line = self.line
        try:
            async with asyncio.timeout(self._max_seconds):
                await line.connect()
                if line.rejected_status is not None:
                    raise ConnectionError(
                        f"the demo stream was refused (HTTP {line.rejected_status})"
                    )
                if self.on_connected is not None:
                    await self.on_connected()
                with contextlib.suppress(ConnectionError):  # the call ended: nothing more to say
                    for audio in speech:
                        await line.wait_for_bot_utterance(timeout=self._max_seconds)
                        await line.say_ulaw(await audio)
                    await line.wait_for_bot_utterance(timeout=self._max_seconds)
                    # Said everything: let the bot's goodbye play, then hang up.
                    with contextlib.suppress(TimeoutError):
                        await line.wait_until_closed(timeout=15)
        except TimeoutError:
            logger.warning(f"The demo call ran {self._max_seconds:.0f} s; hanging up")
        finally:
            for pending in speech:
                pending.cancel()
            await line.hang_up()

    async def hang_up(self) -> None:
        """End the call from the senior's side (``stop``), as Twilio does when a call is hung
        up through its REST API."""
        await self.line.hang_up()


# --- the service ----------------------------------------------------------------------------------


class DemoCalls(ChannelCalls):
    """Starts demo calls (at most `MAX_CONCURRENT_DEMO_CALLS` at once) and moves their status
    the way a phone call's moves: queued, in progress once the stream starts, completed. The
    demo channel of `calls.channels`: hung up, the simulated senior ends the stream."""

    channel = CallChannel.DEMO

    def __init__(
        self,
        calls: CallRepository,
        bus: EventBus,
        tokens: DemoTokens,
        *,
        speak: Callable[[], Speak] = local_voice,
        limit: int = MAX_CONCURRENT_DEMO_CALLS,
    ) -> None:
        super().__init__(calls, bus)
        self.tokens = tokens
        self._make_voice = speak
        self._voice: Speak | None = None
        self._limit = limit

    async def start(self, ws_url: str) -> Call:
        """Store a demo call and start its simulated senior against ``ws_url`` (`/ws/demo` of
        this server on loopback). Raises `DemoCallsBusy`."""
        if self.running >= self._limit:
            raise DemoCallsBusy(
                f"{self._limit} demo calls are running already; wait for one to finish."
            )
        if self._voice is None:
            self._voice = self._make_voice()
        call = await self.create(DEMO_NUMBER, None)
        caller = DemoCaller(
            ws_url, call_id=call.id, token=self.tokens.issue(call.id), speak=self._voice
        )
        caller.on_connected = lambda: self.connected(call.id)
        log = logger.bind(call_id=call.id, channel="demo")

        async def talk() -> None:
            try:
                await caller.run()
            except Exception as exc:  # the demo fails alone, with a note in the log and the call
                log.exception(f"The demo call failed: {exc}")
                await self._calls.note_error(call.id, f"demo call failed: {exc}")

        self.run(call.id, talk(), stop=caller.hang_up, name=f"demo-call-{call.id}")
        log.info("Demo call started")
        return call
