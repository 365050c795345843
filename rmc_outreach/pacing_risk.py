"""The risk of abandoned calls in the calls in flight (pure; ``pacing`` uses it).

Pacing's ratio aims the *expected* number of patients asking for a handler at the handlers free
for them, but patients arrive by chance: when several handlers come free at once (a round of
calls ending together) and pacing starts a whole round of calls for them, one round in several
brings more patients than handlers, and those who are left waiting while every handler has just
started a long call are abandoned, several within seconds of each other. A day with a few
hundred live-answered calls is pushed over the cap by one such round.

So pacing also bounds the calls in flight by their risk: each call still undecided (ringing, or
answered and hearing the greeting) and each new call brings a patient independently with its
chance (answer rate x speak-to-someone rate for a call still ringing, the speak-to-someone rate
alone for a call a person answered), which gives the distribution of how many patients the
calls in flight will bring (a Poisson-binomial distribution, computed exactly). The patients
beyond the handlers who can take them before they are abandoned (``capacity``: handlers free,
wrapping up, or expected to finish their call within the lead time plus the hold wait) are the
expected abandoned calls; they must stay within the cap's share of the live-answered calls the
calls in flight bring, and within what today's abandoned-call rate can still absorb
(``allowance``).
"""

from __future__ import annotations

from collections.abc import Sequence


def with_call(pmf: Sequence[float], chance: float) -> list[float]:
    """The distribution of patients brought after adding one call that brings a patient with
    ``chance``: ``pmf[k]`` is the chance of k patients."""
    stay = 1.0 - chance
    grown = [p * stay for p in pmf]
    grown.append(0.0)
    for k, p in enumerate(pmf):
        grown[k + 1] += p * chance
    return grown


def patients_pmf(
    answered: int, ringing: int, speak_rate: float, handoff_chance: float
) -> list[float]:
    """The distribution of patients brought by ``answered`` calls hearing the greeting (each
    with ``speak_rate``) and ``ringing`` calls (each with ``handoff_chance``)."""
    pmf = [1.0]
    for _ in range(answered):
        pmf = with_call(pmf, speak_rate)
    for _ in range(ringing):
        pmf = with_call(pmf, handoff_chance)
    return pmf


def expected_overflow(pmf: Sequence[float], capacity: float) -> float:
    """The expected number of patients beyond ``capacity`` handlers."""
    return sum(p * (k - capacity) for k, p in enumerate(pmf) if k > capacity)


def calls_within_risk(
    *,
    answered: int,
    ringing: int,
    speak_rate: float,
    answer_rate: float,
    capacity: float,
    cap: float,
    allowance: float,
    upto: int,
    live_rate: float | None = None,
) -> int:
    """The most new calls (at most ``upto``) such that the calls in flight with them are expected
    to bring no more abandoned patients than ``cap`` x their live-answered calls (the
    ``answered`` ones and ``live_rate``, default ``answer_rate``, of every call still ringing),
    nor than ``allowance`` (what the day can still absorb). 0 when the calls already in flight
    are over either bound."""
    handoff_chance = answer_rate * speak_rate
    live_share = answer_rate if live_rate is None else live_rate
    pmf = patients_pmf(answered, ringing, speak_rate, handoff_chance)
    calls = 0
    while calls < upto:
        grown = with_call(pmf, handoff_chance)
        live = answered + (ringing + calls + 1) * live_share
        if expected_overflow(grown, capacity) > min(cap * live, allowance):
            break
        pmf = grown
        calls += 1
    return calls
