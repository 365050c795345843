"""Why "call this patient now" was refused: one class per reason, each with a short code the
console can show or return as JSON. A refusal writes nothing."""

from __future__ import annotations


class CallPatientRefused(Exception):
    """Base of every refusal of ``acd.call_patient_now``; ``code`` names the reason."""

    code = "refused"


class OutsideCallingWindow(CallPatientRefused):
    """Patients are only rung inside the calling window."""

    code = "outside_calling_window"


class CallbackNotFound(CallPatientRefused, LookupError):
    """No callback request has this id."""

    code = "callback_not_found"


class CallbackCompleted(CallPatientRefused):
    """The callback request is already done."""

    code = "callback_completed"


class CallbackNotClaimed(CallPatientRefused):
    """The handler must claim the callback request before calling (one handler at a time)."""

    code = "callback_not_claimed"


class CallAlreadyUnderWay(CallPatientRefused):
    """A call for this callback request is already ringing or connected."""

    code = "call_already_under_way"


class HandlerUnknown(CallPatientRefused, LookupError):
    """No handler has this id."""

    code = "handler_not_found"


class HandlerNotAvailable(CallPatientRefused):
    """Only an available handler can start a call (not ringing, on a call or in wrap-up)."""

    code = "handler_not_available"


class NoNumberToCall(CallPatientRefused):
    """Neither the callback request nor the patient has a number we may ring."""

    code = "no_number_to_call"


class CallNotPlaced(CallPatientRefused):
    """The provider did not place the call to the handler (recorded; try again)."""

    code = "call_not_placed"
