"""`AlertService`: tells the care team when something needs a look: a red flag heard on a call
(at once), or a measure that is getting worse over calls (after each call's record).

Trends (`check_trends`, after each new call record; `find_trends` is the pure rule). A
measure's history is its levels call by call (0 good, 1 fair, 2 poor, 3 concerning), skipping
calls where it didn't come up; it is judged only when the newest record discussed it.

* **Worse**: over the last `TREND_WORSE_CALLS` (N, default 3) calls where it came up, it never
  got better from one call to the next, it ended worse than it started, and it ended at "poor"
  (2) or above. So 0→1→2, 1→1→2, 0→2→2 and 1→2→3 alert; 0→0→1 (still only fair), 2→2→2
  (no change) and 1→2→1 (got better) don't. A run may begin no earlier than the call the
  previous trend alert for that measure was raised on: a worsening already told is not told
  again after it is acknowledged; a further worsening from there is.
* **Threshold**: its level reached `ALERT_THRESHOLD` (default 3, concerning; per measure with
  `ALERT_THRESHOLDS`, e.g. ``pain=2``) from below it (or on the first call it came up). Staying
  there is not a new crossing.

When both hold, one alert says how it got worse. At most one trend alert per person and measure
is open (unacknowledged) at a time, whichever process checks (`persistence.alerts`). Each alert
is texted to one caregiver: the first on the ladder who takes texts, else the first one.

Red flags (`raise_red_flag`, or `red_flag_soon` from the real-time path, which only schedules
it): stored at once (once per call and category), published, and texted right away to every
caregiver who takes texts (else the first caregiver, whose phone may still take a text). It
never raises into its caller.

Texts are in the person's language (`core.languages`: their caregivers are family who speak
it), English when carecall has no catalogue for it; the alert itself, on the dashboard, is in
English. Every text is stored as sent (Twilio's SID) or failed (the error), never lost. Each
change is published as an `alert.updated` event, which the Today view refreshes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Literal

from loguru import logger

from carecall.core.clock import Clock
from carecall.core.events import NO_CALL, CallEvent, EventBus
from carecall.core.languages import ENGLISH, Catalogue, organization_name, texts_for
from carecall.core.phones import mask_phone_number
from carecall.persistence.alerts import AlertRepository, CallLevels, NewAlert
from carecall.persistence.models import Alert, Caregiver, ContactMethod, Senior
from carecall.settings import MissingConfiguration, Settings
from carecall.telephony.twilio_client import TwilioError, TwilioGateway
from carecall.wellbeing.records import MEASURES, level_words

if TYPE_CHECKING:
    from carecall.wellbeing.jobs import RecordMade

TREND_KIND = "trend"
RED_FLAG_KIND = "red_flag"
WORSE_ENDS_AT_LEAST = 2
"""A worsening is told once it has reached "poor": 0→0→1 is not news for a caregiver."""
HISTORY_CALLS = 40
"""Records read per check: enough for N calls where a measure came up, with gaps."""
MAX_QUOTE_CHARS = 160
SEND_TIMEOUT_SECONDS = 20.0
"""One text's wait for Twilio (its own retries included); then it is stored as failed."""

MEASURE_NOUNS = {measure: ENGLISH.line(f"measure.{measure}") for measure in MEASURES}
"""How an English text names a measure: "Mary's sleep has got worse"."""
RED_FLAG_WORDS = {
    key.removeprefix("red_flag."): text
    for key, text in ENGLISH.lines.items()
    if key.startswith("red_flag.")
}
"""How an English text names a red flag's category: "a fall"."""


@dataclass(frozen=True)
class TrendFinding:
    measure: str
    how: Literal["worse", "threshold"]
    levels: tuple[int, ...]
    """The worsening run, oldest first; for a crossing, the level before (if any) and now."""
    call_id: int
    """The newest call of the run: the alert is about it."""
    evidence: str
    """The person's words for the newest level."""
    crossed: bool
    """The newest level is at or above the measure's threshold."""


def find_trends(
    history: Sequence[CallLevels],
    *,
    worse_calls: int,
    threshold_for: Callable[[str], int],
    alerted_calls: Mapping[str, int] | None = None,
) -> list[TrendFinding]:
    """The trends the newest record shows (see the module's docstring). `history` is oldest
    first; `alerted_calls` maps a measure to the call its previous trend alert was raised on."""
    if not history:
        return []
    newest = history[-1]
    position = {point.call_id: index for index, point in enumerate(history)}
    findings = []
    for measure in MEASURES:
        if newest.levels.get(measure) is None:
            continue
        discussed = [
            (index, point, level)
            for index, point in enumerate(history)
            if (level := point.levels.get(measure)) is not None
        ]
        levels = [level for _, _, level in discussed]
        latest = levels[-1]
        threshold = threshold_for(measure)
        crossed = latest >= threshold
        earliest = position.get((alerted_calls or {}).get(measure, -1), 0)
        run = discussed[-worse_calls:]
        run_levels = tuple(level for _, _, level in run)
        worse = (
            len(run) == worse_calls
            and run[0][0] >= earliest
            and all(b >= a for a, b in pairwise(run_levels))
            and run_levels[-1] > run_levels[0]
            and run_levels[-1] >= WORSE_ENDS_AT_LEAST
        )
        evidence = newest.evidence.get(measure, "")
        if worse:
            findings.append(
                TrendFinding(measure, "worse", run_levels, newest.call_id, evidence, crossed)
            )
        elif crossed and (len(levels) == 1 or levels[-2] < threshold):
            findings.append(
                TrendFinding(
                    measure, "threshold", tuple(levels[-2:]), newest.call_id, evidence, True
                )
            )
    return findings


def trend_reason(name: str, finding: TrendFinding, lines: Catalogue = ENGLISH) -> str:
    """`Mary's sleep has got worse over the last 3 calls (some poor nights, then sleeping
    badly, then hardly sleeping): “only slept two hours”`, in ``lines``' language."""
    noun = lines.lines.get(f"measure.{finding.measure}", finding.measure.replace("_", " "))
    words = [_level(lines, finding.measure, level) for level in finding.levels]
    if finding.how == "worse":
        text = lines.line(
            "trend.worse",
            name=name,
            measure=noun,
            count=len(words),
            levels=lines.line("trend.then").join(words),
        )
    else:
        text = lines.line("trend.reached", name=name, measure=noun, level=words[-1])
        if len(words) == 2:
            text += lines.line("trend.before", level=words[0])
    text = text[:1].upper() + text[1:]
    quote = _quote(finding.evidence, lines)
    if quote:
        return lines.line("trend.quoted", reason=text, quote=quote)
    return lines.line("trend.unquoted", reason=text)


def _level(lines: Catalogue, measure: str, level: int) -> str:
    if lines is ENGLISH:
        return level_words(measure, level)
    return lines.lines.get(f"level.{measure}.{level}") or level_words(measure, level)


def red_flag_reason(name: str, category: str, evidence: str) -> str:
    """What the dashboard says of a red flag (in English)."""
    what = RED_FLAG_WORDS.get(category, category.replace("_", " "))
    quote = _quote(evidence)
    said = f" {name[:1].upper()}{name[1:]} said {quote}." if quote else ""
    return f"Red flag on the call ({what}).{said}"


def advised(advice: str, lines: Catalogue = ENGLISH) -> str:
    """What the bot told the person, in a few words for the caregiver (in ``lines``'
    language; the advice itself may be in any: its numbers tell)."""
    compact = advice.replace(" ", "")
    if "988" in compact:
        return lines.line("text.advised.988")
    if "2221222" in compact:
        return lines.line("text.advised.poison")
    if "911" in compact:
        return lines.line("text.advised.911")
    return ""


def red_flag_text(
    lines: Catalogue, *, organization: str, name: str, category: str, evidence: str, advice: str
) -> str:
    """The text to a person's caregivers about a red flag, in ``lines``' language."""
    quote = _quote(evidence, lines)
    what = lines.lines.get(f"red_flag.{category}", category.replace("_", " "))
    said = (
        lines.line("text.red_flag.said", quote=quote)
        if quote
        else lines.line("text.red_flag.spoke_of", what=what)
    )
    return lines.line(
        "text.red_flag",
        organization=organization,
        name=name,
        said=said,
        advised=advised(advice, lines),
    )


class AlertService:
    """Raises, texts and acknowledges alerts (see the module's docstring)."""

    def __init__(
        self,
        settings: Settings,
        repository: AlertRepository,
        twilio: TwilioGateway,
        clock: Clock,
        bus: EventBus,
    ) -> None:
        self._settings = settings
        self._repository = repository
        self._twilio = twilio
        self._clock = clock
        self._bus = bus
        self._background: set[asyncio.Task[Alert | None]] = set()

    @property
    def repository(self) -> AlertRepository:
        return self._repository

    # --- trends --------------------------------------------------------------------------------

    async def record_made(self, made: RecordMade) -> None:
        """`RecordJobs.on_record_made` listener: a call's record was stored."""
        if made.senior_id is not None:
            await self.check_trends(made.senior_id)

    async def check_trends(self, senior_id: int) -> list[Alert]:
        """After a new call record: raise (and text) the trend alerts it shows that aren't open
        already. Returns the alerts raised now."""
        history = await self._repository.levels_over_time(senior_id, HISTORY_CALLS)
        findings = find_trends(
            history,
            worse_calls=self._settings.trend_worse_calls,
            threshold_for=self._settings.threshold_for,
            alerted_calls=await self._repository.last_alerted_calls(senior_id, TREND_KIND),
        )
        if not findings:
            return []
        senior = await self._repository.senior(senior_id)
        if senior is None:
            return []
        raised = []
        for finding in findings:
            alert = await self._repository.raise_once(
                NewAlert(
                    senior_id=senior_id,
                    call_id=finding.call_id,
                    kind=TREND_KIND,
                    category=finding.measure,
                    severity="high" if finding.crossed else "medium",
                    reason=trend_reason(senior.spoken_name, finding),
                    evidence=finding.evidence,
                    detector=TREND_KIND,
                    open_key=open_key(TREND_KIND, senior_id, finding.measure),
                    created_at=self._clock.now(),
                )
            )
            if alert is None:
                continue  # one is open already (perhaps raised by another process just now)
            logger.bind(senior_id=senior_id, alert_id=alert.id).info(
                f"Trend alert: {finding.measure} ({finding.how}, levels {finding.levels})"
            )
            await self._publish(alert)
            lines = texts_for(senior.language)
            reason = (
                alert.reason
                if lines is ENGLISH
                else trend_reason(senior.spoken_name, finding, lines)
            )
            body = lines.line(
                "text.trend",
                organization=self._organization(lines),
                reason=reason,
                name=senior.spoken_name,
            )
            await self._text(alert, _trend_contacts(senior), body)
            raised.append(await self._repository.get(alert.id) or alert)
        return raised

    # --- red flags -----------------------------------------------------------------------------

    def red_flag_soon(
        self,
        *,
        call_id: int,
        senior_id: int | None,
        category: str,
        evidence: str,
        detector: str,
        advice: str,
    ) -> None:
        """From the real-time path (e.g. `RedFlagWatcher`'s ``on_red_flag``): start
        `raise_red_flag` in the background and return at once."""
        task = asyncio.create_task(
            self.raise_red_flag(
                call_id=call_id,
                senior_id=senior_id,
                category=category,
                evidence=evidence,
                detector=detector,
                advice=advice,
            ),
            name="red-flag-alert",
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def raise_red_flag(
        self,
        *,
        call_id: int,
        senior_id: int | None,
        category: str,
        evidence: str,
        detector: str,
        advice: str,
    ) -> Alert | None:
        """Store the red flag (once per call and category), publish it and text the caregivers
        now. Returns the alert (its notices loaded), or None when it was raised already for
        this call or couldn't be stored (logged). Never raises."""
        log = logger.bind(call_id=call_id, senior_id=senior_id)
        try:
            senior = await self._repository.senior(senior_id) if senior_id is not None else None
            name = senior.spoken_name if senior is not None else "the caller"
            alert = await self._repository.raise_once(
                NewAlert(
                    senior_id=senior.id if senior is not None else None,
                    call_id=call_id,
                    kind=RED_FLAG_KIND,
                    category=category,
                    severity="urgent",
                    reason=red_flag_reason(name, category, evidence),
                    evidence=evidence,
                    detector=detector,
                    open_key=open_key(RED_FLAG_KIND, call_id, category),
                    created_at=self._clock.now(),
                )
            )
            if alert is None:
                log.info(f"Red flag {category} already raised for this call")
                return None
            log.bind(alert_id=alert.id).warning(f"Red flag alert: {category} ({detector})")
            await self._publish(alert)
            if senior is None:
                log.warning("Red flag on a call to a number not on the roster: nobody to text")
                return alert
            lines = texts_for(senior.language)
            body = red_flag_text(
                lines,
                organization=self._organization(lines),
                name=senior.spoken_name,
                category=category,
                evidence=evidence,
                advice=advice,
            )
            await self._text(alert, _red_flag_contacts(senior), body)
            return await self._repository.get(alert.id) or alert
        except Exception:
            log.exception(f"Red flag alert {category} could not be completed")
            return None

    async def aclose(self) -> None:
        """Let red-flag alerts under way finish (each text is bounded by its send timeout)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # --- acknowledging -------------------------------------------------------------------------

    async def acknowledge(self, alert_id: int, *, by: str) -> Alert | None:
        """Someone has looked at it. None if there is no such alert or it was acknowledged
        already."""
        alert = await self._repository.acknowledge(alert_id, by=by, now=self._clock.now())
        if alert is not None:
            logger.bind(alert_id=alert_id).info("Alert acknowledged")
            await self._publish(alert)
        return alert

    # --- helpers -------------------------------------------------------------------------------

    async def _text(self, alert: Alert, contacts: Sequence[Caregiver], body: str) -> None:
        if not contacts:
            logger.bind(alert_id=alert.id).warning("Alert: the person has no caregiver to text")
            return
        await asyncio.gather(*(self._text_one(alert, contact, body) for contact in contacts))
        await self._publish(alert)

    async def _text_one(self, alert: Alert, contact: Caregiver, body: str) -> None:
        notice_id = await self._repository.add_notice(
            alert_id=alert.id,
            caregiver_id=contact.id,
            contact_name=contact.name,
            to_number=contact.phone_number,
            body=body,
            sent_at=self._clock.now(),
        )
        sid: str | None = None
        error: str | None = None
        try:
            sid = await asyncio.wait_for(
                self._twilio.send_sms(contact.phone_number, body), SEND_TIMEOUT_SECONDS
            )
        except TimeoutError:
            error = f"Twilio did not answer within {SEND_TIMEOUT_SECONDS:.0f} seconds."
        except TwilioError as exc:
            error = exc.message
        except MissingConfiguration as exc:
            error = str(exc)
        except Exception as exc:  # stored, so the dashboard shows the text never went
            error = f"Unexpected error: {exc!r}"[:500]
        await self._repository.settle_notice(notice_id, twilio_sid=sid, error=error)
        number = mask_phone_number(contact.phone_number)
        log = logger.bind(alert_id=alert.id)
        if error is None:
            log.info(f"Alert texted to {number}")
        else:
            log.warning(f"Alert text to {number} failed: {error}")

    def _organization(self, lines: Catalogue = ENGLISH) -> str:
        name = organization_name(self._settings.organization_name.strip(), lines.code)
        return name[:1].upper() + name[1:]

    async def _publish(self, alert: Alert) -> None:
        await self._bus.publish(
            CallEvent(
                "alert.updated",
                alert.call_id or NO_CALL,
                {
                    "senior_id": alert.senior_id,
                    "alert_id": alert.id,
                    "kind": alert.kind,
                    "category": alert.category,
                    "state": alert.state,
                },
            )
        )


def open_key(kind: str, about: int, category: str) -> str:
    """What makes an open alert the same one: a trend of one person's measure
    (``trend:<senior>:<measure>``), or a red flag of one call and category
    (``red_flag:<call>:<category>``)."""
    return f"{kind}:{about}:{category}"


def _trend_contacts(senior: Senior) -> list[Caregiver]:
    texted = [c for c in senior.caregivers if c.contact_by is ContactMethod.SMS]
    return texted[:1] or list(senior.caregivers[:1])


def _red_flag_contacts(senior: Senior) -> list[Caregiver]:
    texted = [c for c in senior.caregivers if c.contact_by is ContactMethod.SMS]
    return texted or list(senior.caregivers[:1])


def _quote(evidence: str, lines: Catalogue = ENGLISH) -> str:
    words = " ".join(evidence.split())
    if not words:
        return ""
    if len(words) > MAX_QUOTE_CHARS:
        words = words[: MAX_QUOTE_CHARS - 1].rstrip() + "…"
    return lines.line("quote", words=words)
