"""The carrier simulator: a local stand-in for the part of Twilio's REST API we use.

It serves Create/Fetch/Update/List Calls and Create/Fetch Messages of the 2010 API, checks every
request against Twilio's own OpenAPI spec and Twilio's further rules, plays our TwiML to a seeded
synthetic population, and calls our webhooks back, signed, as Twilio would: call progress,
asynchronous AMD, Gather, Enqueue wait, SMS delivery and inbound SMS. Time runs scaled. A ledger
records every request and outcome for tests and benchmarks. Demo and tests only: it refuses
production settings.

Modules: ``spec`` (validation against the spec), ``rules`` (Twilio's other rules and errors),
``population`` (the people), ``calls`` and ``twiml`` (call flows), ``messaging`` (SMS),
``webhooks`` (signing), ``ledger``, ``timing``, ``state``, ``app`` (HTTP), ``server`` (start/stop).
"""

from rmc_outreach.simulation.carrier.population import (
    CallPlan,
    Person,
    Population,
    PopulationConfig,
    SmsPlan,
)
from rmc_outreach.simulation.carrier.server import (
    RunningSimulator,
    SimulatorRefusedError,
    serve,
    start_simulator,
)
from rmc_outreach.simulation.carrier.webhooks import compute_signature

__all__ = [
    "CallPlan",
    "Person",
    "Population",
    "PopulationConfig",
    "RunningSimulator",
    "SimulatorRefusedError",
    "SmsPlan",
    "compute_signature",
    "serve",
    "start_simulator",
]
