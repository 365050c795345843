"""The ACD: patients waiting for a handler, offered to handlers in our order, and bridged.

Each waiting patient is in their own Twilio queue ``handoff-<id>``; our database decides who is
next (longest-waiting patient to longest-idle available handler), so the whisper and the
screen-pop are always for the patient actually bridged. The pieces:

- ``handoff_state``: the one state machine of a queued patient (waiting, taken by a handler,
  bridged, ended) and the race between the end of the hold wait and a handler: each is won by
  one conditional UPDATE in the request that answers Twilio, so ``<Leave/>`` and
  ``<Dial><Queue>`` are never both given for one patient;
- ``queueing``: the patient's side, in the web request (create the handoff, their place, leave
  the queue with a callback request);
- ``connect``: ``connect_waiting`` (the ``connect-handlers`` task) and ``call_patient_now``;
- ``answers``: what each ACD webhook answers and stores;
- ``apply``: applying the stored callbacks (bridge, end, not answered, abandoned);
- ``errors``: why "call this patient now" was refused.

Handler states only change through ``handlers.change_state``; every change is recorded.
"""

from rmc_outreach.acd.connect import (
    call_patient_now,
    connect_waiting,
    expire_unanswered_offers,
    hang_up_handler_calls,
)
from rmc_outreach.acd.errors import (
    CallAlreadyUnderWay,
    CallbackCompleted,
    CallbackNotClaimed,
    CallbackNotFound,
    CallNotPlaced,
    CallPatientRefused,
    HandlerNotAvailable,
    HandlerUnknown,
    NoNumberToCall,
    OutsideCallingWindow,
)
from rmc_outreach.acd.queueing import position, recognise_caller

__all__ = [
    "CallAlreadyUnderWay",
    "CallNotPlaced",
    "CallPatientRefused",
    "CallbackCompleted",
    "CallbackNotClaimed",
    "CallbackNotFound",
    "HandlerNotAvailable",
    "HandlerUnknown",
    "NoNumberToCall",
    "OutsideCallingWindow",
    "call_patient_now",
    "connect_waiting",
    "expire_unanswered_offers",
    "hang_up_handler_calls",
    "position",
    "recognise_caller",
]
