"""Voice activity detection for every call in the process, on one Silero model, in batches.

pipecat's `SileroVADAnalyzer` gives each call its own ONNX session (≈ 13 MB, loaded on the event
loop at the start of the call, stalling every other call's audio) and hands every 20 ms frame to
a thread of its own. Here one process-wide `SileroBatcher` owns a single session: each call keeps
only its recurrent state (2 × 128 floats) and audio context, windows from all calls that arrive
within a few milliseconds of each other are scored in one batched inference on one worker thread
(onnxruntime releases the GIL while it runs, so the event loop keeps moving audio meanwhile),
and each call's analyzer applies pipecat's own speaking/quiet state machine to the scores.

Scoring 16 windows in one batch costs about a third of scoring them one by one.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import onnxruntime
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams, VADState

SAMPLE_RATES = {8000: (256, 32), 16000: (512, 64)}
"""Samples per window and samples of context Silero expects, per sample rate."""

# As pipecat's SileroVADAnalyzer: the recurrent state drifts over long non-speech, so it is
# reset every ~2 s of audio, but only while the caller is clearly quiet.
_RESET_INTERVAL_SECONDS = 2.0
_RESET_MAX_CONFIDENCE = 0.1
_RESET_LOW_CONFIDENCE_WINDOWS = 5
QUIET_PEAK = 32
"""A window whose loudest sample is below this (−60 dBFS) is silence, not speech."""
SETTLE_WINDOWS = 8
"""Silent windows the model sees (after speech, or a reset) before silence skips it."""


@dataclass
class SileroStream:
    """One call's Silero state: what the model remembers between that call's windows."""

    sample_rate: int
    state: np.ndarray = field(init=False)
    context: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        _, context_samples = SAMPLE_RATES[self.sample_rate]
        self.state = np.zeros((2, 1, 128), dtype=np.float32)
        self.context = np.zeros((1, context_samples), dtype=np.float32)


@dataclass
class _Pending:
    stream: SileroStream
    window: np.ndarray  # float32, (1, samples)
    future: asyncio.Future[float]


@functools.cache
def silero_session() -> onnxruntime.InferenceSession:
    """The process's one Silero model (read-only at inference: safe to share)."""
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    model = resources.files("pipecat.audio.vad.data").joinpath("silero_vad.onnx")
    return onnxruntime.InferenceSession(
        model.read_bytes(), sess_options=options, providers=["CPUExecutionProvider"]
    )


class SileroBatcher:
    """Scores Silero windows from many calls in batches, on the process's one model.

    `confidence()` queues a window and waits for its score. The first queued window schedules a
    flush ``max_wait`` seconds later, so that windows of other calls arriving meanwhile share the
    inference; a batch that reaches ``max_batch`` is flushed at once. Batches run one at a time
    on a single worker thread, in order, so each stream's windows are scored in order.

    One batcher serves one event loop (a server makes one when it starts); `close()` stops its
    worker thread.
    """

    def __init__(self, *, max_wait: float = 0.004, max_batch: int = 64) -> None:
        self._session = silero_session()
        self._max_wait = max_wait
        self._max_batch = max_batch
        self._pending: dict[int, list[_Pending]] = {sr: [] for sr in SAMPLE_RATES}
        self._flush_handles: dict[int, asyncio.TimerHandle | None] = dict.fromkeys(SAMPLE_RATES)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="silero")
        self.batches = 0
        self.windows = 0

    async def confidence(self, stream: SileroStream, audio: bytes) -> float:
        """Speech probability (0..1) of one window of 16-bit PCM for ``stream``."""
        samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
        loop = asyncio.get_running_loop()
        pending = _Pending(stream, samples.reshape(1, -1), loop.create_future())
        queue = self._pending[stream.sample_rate]
        queue.append(pending)
        if len(queue) >= self._max_batch:
            self._flush(stream.sample_rate)
        elif self._flush_handles[stream.sample_rate] is None:
            self._flush_handles[stream.sample_rate] = loop.call_later(
                self._max_wait, self._flush, stream.sample_rate
            )
        return await pending.future

    def _flush(self, sample_rate: int) -> None:
        handle = self._flush_handles[sample_rate]
        if handle is not None:
            handle.cancel()
            self._flush_handles[sample_rate] = None
        batch, self._pending[sample_rate] = self._pending[sample_rate], []
        if not batch:
            return
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._executor, self._infer, sample_rate, batch)
        work.add_done_callback(lambda done: _deliver(batch, done))

    def _infer(self, sample_rate: int, batch: list[_Pending]) -> list[float]:
        """Worker thread: one inference for the whole batch; updates each stream's state."""
        _, context_samples = SAMPLE_RATES[sample_rate]
        inputs = np.concatenate(
            [np.concatenate((p.stream.context, p.window), axis=1) for p in batch], axis=0
        )
        states = np.concatenate([p.stream.state for p in batch], axis=1)
        scores, new_states = self._session.run(
            None, {"input": inputs, "state": states, "sr": np.array(sample_rate, dtype=np.int64)}
        )
        for i, pending in enumerate(batch):
            pending.stream.state = new_states[:, i : i + 1, :].copy()
            pending.stream.context = inputs[i : i + 1, -context_samples:].copy()
        self.batches += 1
        self.windows += len(batch)
        return [float(s) for s in np.asarray(scores).reshape(-1)]

    def close(self) -> None:
        for sample_rate in SAMPLE_RATES:
            handle = self._flush_handles[sample_rate]
            if handle is not None:
                handle.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _deliver(batch: list[_Pending], done: asyncio.Future[list[float]]) -> None:
    if done.cancelled():
        for pending in batch:
            pending.future.cancel()
        return
    error = done.exception()
    for i, pending in enumerate(batch):
        if pending.future.done():
            continue  # the waiting call went away
        if error is not None:
            pending.future.set_exception(error)
        else:
            pending.future.set_result(done.result()[i])


def _is_quiet(window: bytes) -> bool:
    return int(np.abs(np.frombuffer(window, dtype=np.int16)).max()) < QUIET_PEAK


def _context_of(window: bytes, samples: int) -> np.ndarray:
    tail = np.frombuffer(window, dtype=np.int16)[-samples:]
    return (tail.astype(np.float32) / 32768.0).reshape(1, -1)


class BatchedSileroVAD(VADAnalyzer):
    """A call's VAD: pipecat's analyzer state machine, scored by the shared `SileroBatcher`."""

    def __init__(
        self,
        *,
        sample_rate: int | None = None,
        params: VADParams | None = None,
        batcher: SileroBatcher,
    ) -> None:
        super().__init__(sample_rate=sample_rate, params=params)
        self._batcher = batcher
        self._stream: SileroStream | None = None
        self._scores: deque[float] = deque()
        self._unscored = b""
        self._windows_since_reset = 0
        self._low_confidence_windows = 0
        self._settled = 0  # silent windows in a row the model has seen
        self._fixed_rate = sample_rate
        self._last_state = VADState.QUIET
        """What pipecat's state machine said last (it starts over, quiet, with new params)."""
        self._window_bytes = 0

    def set_sample_rate(self, sample_rate: int) -> None:
        rate = self._fixed_rate or sample_rate
        if rate not in SAMPLE_RATES:
            raise ValueError(f"Silero VAD needs 8000 or 16000 Hz audio, not {rate}")
        super().set_sample_rate(sample_rate)
        self._stream = SileroStream(rate)

    def set_params(self, params: VADParams) -> None:
        super().set_params(params)
        self._last_state = VADState.QUIET
        self._window_bytes = self.num_frames_required() * self.num_channels * 2

    def num_frames_required(self) -> int:
        return SAMPLE_RATES[self.sample_rate][0]

    async def analyze_audio(self, buffer: bytes) -> VADState:
        """Score the complete windows in ``buffer`` (with what was left over last time) in the
        shared batcher, then run pipecat's state machine over them; no thread of our own."""
        assert self._stream is not None, "set_sample_rate() comes first"
        window_bytes = self._window_bytes
        audio = self._unscored + buffer
        whole = len(audio) - len(audio) % window_bytes
        self._unscored = audio[whole:]
        for offset in range(0, whole, window_bytes):
            window = audio[offset : offset + window_bytes]
            quiet = _is_quiet(window)
            if quiet and self._last_state == VADState.QUIET and self._settled >= SETTLE_WINDOWS:
                # Silence, already judged quiet, and the model has settled into it: skip the
                # inference (pipecat's state machine can't leave QUIET on a window this quiet,
                # and the model's state has stopped changing).
                score = 0.0
                self._stream.context = _context_of(window, self._stream.context.shape[1])
            else:
                score = await self._batcher.confidence(self._stream, window)
                self._settled = self._settled + 1 if quiet else 0
            self._after_window(score)
            self._scores.append(score)
        # pipecat's state machine asks voice_confidence() once per complete window, in order.
        # Its only public door, `VADAnalyzer.analyze_audio`, runs it on a thread of each
        # analyzer's own (the thread hop per 20 ms frame this module saves), so the private
        # `_run_analyzer` is called here (pinned pipecat; tests/test_upstream_names.py checks).
        self._last_state = self._run_analyzer(buffer)
        return self._last_state

    def voice_confidence(self, buffer: bytes) -> float:
        return self._scores.popleft()

    def _after_window(self, confidence: float) -> None:
        """Reset the recurrent state every ~2 s of audio while clearly quiet (as pipecat)."""
        assert self._stream is not None
        self._windows_since_reset += 1
        if confidence < _RESET_MAX_CONFIDENCE:
            self._low_confidence_windows += 1
        else:
            self._low_confidence_windows = 0
        due = (
            self._windows_since_reset * self.num_frames_required()
            >= _RESET_INTERVAL_SECONDS * self.sample_rate
        )
        if (
            due
            and self._last_state == VADState.QUIET
            and self._low_confidence_windows >= _RESET_LOW_CONFIDENCE_WINDOWS
        ):
            self._stream.reset()
            self._windows_since_reset = 0
            self._settled = 0
