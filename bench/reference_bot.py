"""A plain pipecat Twilio bot: the benchmark's reference point for carecall.

    OPENAI_BASE_URL=... OPENAI_API_KEY=... python -m uvicorn bench.reference_bot:app --port P

It is written the way pipecat's own Twilio example is ("twilio-chatbot/inbound/bot.py" in
github.com/pipecat-ai/pipecat-examples, read at commit 39261fc, for pipecat 1.4+): parse
Twilio's ``connected``/``start`` messages, a ``TwilioFrameSerializer`` on a
``FastAPIWebsocketTransport``, STT → user aggregator → LLM → TTS → output → assistant
aggregator, Silero VAD on the user aggregator with pipecat's default turn strategies (Smart
Turn v3), an 8 kHz ``PipelineWorker`` with metrics on, one ``WorkerRunner`` per call, the
example's system prompt and greeting, DEBUG logging to stderr.

Deviations, only so that it runs offline against the benchmark's fakes:

* OpenAI STT/LLM/TTS (the example uses Deepgram, Google and Cartesia), pointed at
  ``OPENAI_BASE_URL`` with ``OPENAI_API_KEY``; TTS told OpenAI's 24 kHz output rate.
* ``auto_hang_up=False``: at the end the serializer would call api.twilio.com.
* Left out: the call recording (``AudioBufferProcessor`` writing a WAV file per call), the
  caller-number lookup on Twilio's REST API and ``.env`` loading.
* Its own FastAPI app (``/ws`` as in pipecat's development runner, plus ``/healthz`` for the
  benchmark) instead of ``pipecat.runner.run.main``.
"""

import os

from fastapi import FastAPI, WebSocket
from loguru import logger
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.frames.frames import LLMRunFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.runner.utils import parse_telephony_websocket
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.stt import OpenAISTTService
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.transports.base_transport import BaseTransport
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from pipecat.workers.runner import WorkerRunner

# Logging as in the example: loguru's default handler, DEBUG to stderr.

SYSTEM_INSTRUCTION = (
    "You are an elementary teacher in an audio call. Your output will be converted to audio so "
    "don't include special characters in your answers. Respond to what the student said in a "
    "short short sentence."
)

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """For the benchmark: it polls this to know the server is up (not in the example)."""
    return {"status": "ok"}


@app.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    """Twilio's Media Stream for one call: run the bot on it until the call ends."""
    await websocket.accept()
    logger.debug("WebSocket connection accepted")
    await bot(websocket)


async def bot(websocket: WebSocket) -> None:
    _, call_data = await parse_telephony_websocket(websocket)
    serializer = TwilioFrameSerializer(
        stream_sid=call_data["stream_id"],
        call_sid=call_data["call_id"],
        account_sid=os.getenv("TWILIO_ACCOUNT_SID", ""),
        auth_token=os.getenv("TWILIO_AUTH_TOKEN", ""),
        # Deviation: no hang-up through api.twilio.com at the end (offline).
        params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
    )
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=serializer,
        ),
    )
    await run_bot(transport, handle_sigint=False)


async def run_bot(transport: BaseTransport, handle_sigint: bool) -> None:
    # Deviation: OpenAI services (the example's are Deepgram, Google, Cartesia) on the fake.
    base_url = os.environ["OPENAI_BASE_URL"]
    api_key = os.environ["OPENAI_API_KEY"]
    llm = OpenAILLMService(
        api_key=api_key,
        base_url=base_url,
        settings=OpenAILLMService.Settings(system_instruction=SYSTEM_INSTRUCTION),
    )
    stt = OpenAISTTService(api_key=api_key, base_url=base_url)
    # Deviation: OpenAI streams 24 kHz; without it the TTS would assume the pipeline's 8 kHz.
    tts = OpenAITTSService(api_key=api_key, base_url=base_url, sample_rate=24000)

    context = LLMContext()
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer()),
    )

    pipeline = Pipeline(
        [
            transport.input(),  # Websocket input from Twilio
            stt,  # Speech-to-text
            user_aggregator,
            llm,
            tts,  # Text-to-speech
            transport.output(),  # Websocket output to Twilio
            assistant_aggregator,
        ]
    )

    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=8000,
            audio_out_sample_rate=8000,
            enable_metrics=True,
            enable_usage_metrics=True,
        ),
    )

    @transport.event_handler("on_client_connected")
    async def on_client_connected(transport, client):
        # Kick off the conversation.
        context.add_message(
            {"role": "developer", "content": "Please introduce yourself to the user."}
        )
        await worker.queue_frames([LLMRunFrame()])

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(transport, client):
        await worker.cancel()

    # As in the example: uvicorn handles Ctrl-C, and garbage is collected after each call.
    runner = WorkerRunner(handle_sigint=handle_sigint, force_gc=True)
    await runner.add_workers(worker)
    await runner.run()
