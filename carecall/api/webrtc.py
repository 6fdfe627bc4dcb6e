"""`/api/webrtc/offer`: the dashboard's "Talk to it" page sends its WebRTC offer here and gets
the answer; the talk then runs as a call (channel `browser`, see `calls.browser`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from carecall.api.calls import refuse_while_shutting_down
from carecall.app_state import AppState, get_state
from carecall.bot.local_speech import LocalSpeechMissing
from carecall.calls.browser import InvalidOffer
from carecall.settings import MissingConfiguration

router = APIRouter(prefix="/api/webrtc", tags=["talk in the browser"])
State = Annotated[AppState, Depends(get_state)]
MAX_SDP_CHARS = 32_000


class Offer(BaseModel):
    sdp: str = Field(min_length=1, max_length=MAX_SDP_CHARS, description="The browser's SDP offer")
    type: Literal["offer"] = "offer"


class Answer(BaseModel):
    sdp: str
    type: Literal["answer"] = "answer"
    call_id: int = Field(description="The call this talk is stored as (`/calls/{call_id}`)")


@router.post("/offer", response_model=Answer)
async def answer_offer(offer: Offer, state: State) -> Answer:
    """Start talking to the bot from a browser: answers the offer (ICE host candidates only,
    gathered before answering: no trickle, no renegotiation)."""
    refuse_while_shutting_down(state)
    try:
        call, sdp = await state.browser_calls.start(offer.sdp)
    except InvalidOffer as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    except (MissingConfiguration, LocalSpeechMissing) as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    return Answer(sdp=sdp, call_id=call.id)
