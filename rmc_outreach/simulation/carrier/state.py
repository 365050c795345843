"""The simulator's shared state: calls, messages, Twilio's opt-out blocks, pools and faults.

All call flows run on one bounded thread pool (a live call holds a thread while it rings and
plays); SMS steps and replies are timed by one scheduler thread and run on a second bounded pool.
Simulated handlers' console posts run on the SMS pool too; the only other threads are the HTTP
server's request threads and the short-lived thread that signs the handlers in at start.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from rmc_outreach import clock
from rmc_outreach.simulation.carrier.ledger import Ledger
from rmc_outreach.simulation.carrier.population import CallPlan, Population
from rmc_outreach.simulation.carrier.queues import QueueBook
from rmc_outreach.simulation.carrier.resources import API_VERSION, SimCall, SimMessage
from rmc_outreach.simulation.carrier.spec import EngineName
from rmc_outreach.simulation.carrier.staff import Staff, StaffConfig
from rmc_outreach.simulation.carrier.timing import Scheduler, SimTime
from rmc_outreach.simulation.carrier.webhooks import WebhookSender

log = logging.getLogger(__name__)

CALL_WORKERS = 64
MESSAGE_WORKERS = 16


@dataclass(frozen=True)
class CarrierSettings:
    """What the simulator needs to know: the account it accepts and where our app lives."""

    account_sid: str
    auth_token: str
    public_base_url: str
    sms_from: str | None
    timezone: str = "Europe/London"
    validation: EngineName = "openapi-core"


class Faults:
    """Test hooks: answer the next N requests with 429, or answer them late (after acting)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rate_limited = 0
        self.slow_responses = 0
        self.slow_response_s = 0.0

    def set(
        self, *, rate_limited: int = 0, slow_responses: int = 0, slow_response_s: float = 0.0
    ) -> None:
        """Arm the faults (replacing any still armed)."""
        with self._lock:
            self.rate_limited = max(0, rate_limited)
            self.slow_responses = max(0, slow_responses)
            self.slow_response_s = max(0.0, slow_response_s)

    def take_rate_limit(self) -> bool:
        """True if this request must be refused with 429."""
        with self._lock:
            if self.rate_limited > 0:
                self.rate_limited -= 1
                return True
            return False

    def take_delay(self) -> float:
        """Real seconds to hold this response back after acting on the request."""
        with self._lock:
            if self.slow_responses > 0:
                self.slow_responses -= 1
                return self.slow_response_s
            return 0.0


class Carrier:
    """Everything the simulator's REST handlers, call flows and SMS flows share."""

    def __init__(
        self,
        settings: CarrierSettings,
        population: Population,
        sim_time: SimTime,
        ledger: Ledger,
        *,
        call_workers: int = CALL_WORKERS,
        message_workers: int = MESSAGE_WORKERS,
        staff: StaffConfig | None = None,
    ) -> None:
        self.settings = settings
        self.population = population
        self.sim_time = sim_time
        self.ledger = ledger
        self.zone = ZoneInfo(settings.timezone)
        self.lock = threading.Lock()
        self.calls: dict[str, SimCall] = {}
        self.messages: dict[str, SimMessage] = {}
        self.calls_per_number: Counter[str] = Counter()
        self.messages_per_number: Counter[str] = Counter()
        self.blocked: set[tuple[str, str]] = set()  # (our sender, recipient) after STOP
        self.active_calls = 0
        self.stopping = threading.Event()
        self.faults = Faults()
        self.call_pool = ThreadPoolExecutor(call_workers, thread_name_prefix="carrier-call")
        self.message_pool = ThreadPoolExecutor(message_workers, thread_name_prefix="carrier-sms")
        self.scheduler = Scheduler(sim_time, self.message_pool)
        self.webhooks = WebhookSender(settings.auth_token, ledger, self.stopping)
        self.queues = QueueBook()
        self.staff = Staff(
            staff or StaffConfig(),
            seed=population.seed,
            ledger=ledger,
            scheduler=self.scheduler,
            stopping=self.stopping,
            console_base_url=settings.public_base_url,
            auth_token=settings.auth_token,
        )

    def local_now(self) -> datetime:
        """``clock.now()`` in the service's time zone (what the population's hours refer to)."""
        return clock.now().astimezone(self.zone)

    @staticmethod
    def timestamp() -> str:
        """``clock.now()`` as Twilio writes webhook timestamps (RFC 2822)."""
        return format_datetime(clock.now())

    def call_params(self, call: SimCall) -> dict[str, str]:
        """The parameters Twilio sends with every voice webhook of a call."""
        return {
            "AccountSid": call.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": call.status,
            "Called": call.to,
            "Caller": call.sender,
            "Direction": "outbound-api",
            "From": call.sender,
            "To": call.to,
        }

    def post_amd(self, call: SimCall, plan: CallPlan) -> None:
        """Post the asynchronous AMD result of ``plan`` to the call's AsyncAmdStatusCallback."""
        with self.lock:
            call.answered_by = plan.amd_result
            call.updated_at = clock.now()
        url = call.form.get("AsyncAmdStatusCallback")
        if not url or plan.amd_result is None:
            return
        params = {
            "AccountSid": call.account_sid,
            "CallSid": call.sid,
            "AnsweredBy": plan.amd_result,
            "MachineDetectionDuration": str(int((plan.amd_after_s or 0.0) * 1000)),
        }
        method = call.form.get("AsyncAmdStatusCallbackMethod", "POST")
        self.webhooks.send(url, params, purpose="amd", method=method)

    def hang_up_everything(self) -> None:
        """Stop: end every live call at once, without further webhooks."""
        self.stopping.set()
        with self.lock:
            calls = [call for call in self.calls.values() if not call.final]
        for call in calls:
            call.control.hang_up()

    def shutdown(self) -> None:
        """Stop all flows and release the pools (waits for flows to notice)."""
        self.hang_up_everything()
        self.scheduler.stop()
        self.call_pool.shutdown(wait=True, cancel_futures=True)
        self.message_pool.shutdown(wait=True, cancel_futures=True)
        self.ledger.close()
