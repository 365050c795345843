"""The simulated population: deterministic for a seed, and its rates as configured."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from rmc_outreach.simulation.carrier import Population, PopulationConfig

LONDON = ZoneInfo("Europe/London")
TUESDAY_LUNCH = datetime(2026, 11, 24, 12, 30, tzinfo=LONDON)
TUESDAY_MORNING = datetime(2026, 11, 24, 10, 0, tzinfo=LONDON)
SATURDAY_MORNING = datetime(2026, 11, 28, 10, 0, tzinfo=LONDON)
MOBILES = [f"+447700900{n:03d}" for n in range(1000)]
SEEDS = range(12)  # 12,000 (seed, number) people: the drama range has only 1,000 mobiles


def _people(config: PopulationConfig | None = None) -> list[tuple[Population, str]]:
    populations = [Population(config, seed=seed) for seed in SEEDS]
    return [(population, number) for population in populations for number in MOBILES]


def test_the_same_seed_gives_the_same_plans_and_another_seed_different_ones() -> None:
    first, again, other = Population(seed=11), Population(seed=11), Population(seed=12)

    def plans(population: Population) -> list[object]:
        return [
            population.plan_call(number, index, TUESDAY_LUNCH, ring_timeout_s=25)
            for number in MOBILES[:200]
            for index in range(3)
        ] + [population.plan_sms(number, 0) for number in MOBILES[:200]]

    assert plans(first) == plans(again)
    assert plans(first) != plans(other)


def test_a_number_keeps_its_traits_while_each_call_to_it_draws_afresh() -> None:
    population = Population(seed=5)
    number = MOBILES[42]

    assert population.person(number) == Population(seed=5).person(number)
    outcomes = {
        population.plan_call(number, index, TUESDAY_LUNCH, ring_timeout_s=25) for index in range(40)
    }
    assert len(outcomes) > 1


def test_shares_of_dead_wrong_fax_and_machine_lines_are_as_configured() -> None:
    config = PopulationConfig()
    people = [population.person(number) for population, number in _people()]
    lines = Counter(person.line for person in people)
    total = len(people)

    assert lines["dead"] / total == pytest.approx(config.dead_number_share, abs=0.006)
    assert lines["wrong_number"] / total == pytest.approx(config.wrong_number_share, abs=0.006)
    assert lines["fax"] / total == pytest.approx(config.fax_share, abs=0.003)
    machines = sum(person.has_machine for person in people) / total
    assert machines == pytest.approx(config.answering_machine_share, abs=0.02)
    kinds = Counter(person.kind for person in people)
    for kind, share in config.kind_shares.items():
        assert kinds[kind] / total == pytest.approx(share, abs=0.02)


def test_working_age_people_answer_less_mid_morning_than_at_lunch_or_at_weekends() -> None:
    population = Population(seed=1)
    person = next(
        p for p in map(population.person, MOBILES) if p.kind == "working" and p.line == "person"
    )

    morning = population.answer_probability(person, TUESDAY_MORNING)
    lunch = population.answer_probability(person, TUESDAY_LUNCH)
    weekend = population.answer_probability(person, SATURDAY_MORNING)

    assert morning < lunch
    assert morning < weekend
    assert max(morning, lunch, weekend) <= 0.95


def test_call_outcomes_over_many_numbers_follow_the_configuration() -> None:
    config = PopulationConfig(answer_rate_override=0.5)
    plans = [
        population.plan_call(number, 0, TUESDAY_LUNCH, ring_timeout_s=60)
        for population, number in _people(config)
    ]
    outcomes = Counter(plan.outcome for plan in plans)
    total = len(plans)
    live = total * (1 - config.dead_number_share)

    assert outcomes["failed"] / total == pytest.approx(config.dead_number_share, abs=0.006)
    assert outcomes["busy"] / live == pytest.approx(config.busy_rate, abs=0.008)
    humans = [plan for plan in plans if plan.outcome == "human"]
    # With a 60 s timeout almost everyone who means to answer does; fax lines always answer.
    assert len(humans) / (live * (1 - config.busy_rate)) == pytest.approx(0.5, abs=0.03)
    firsts = Counter(plan.keypad[0] for plan in humans if plan.amd_result == "human")
    counted = sum(firsts.values())
    for choice, weight in config.keypad_weights.items():
        assert firsts[choice] / counted == pytest.approx(weight, abs=0.03)
    mistaken = sum(plan.amd_result.startswith("machine") for plan in humans if plan.amd_result)
    assert mistaken / len(humans) == pytest.approx(config.amd_human_as_machine_rate, abs=0.01)
    machines = [plan for plan in plans if plan.outcome == "machine"]
    assert all(plan.beep_at_s is not None for plan in machines)
    as_human = sum(plan.amd_result == "human" for plan in machines) / len(machines)
    assert as_human == pytest.approx(config.amd_machine_as_human_rate, abs=0.015)


def test_ringing_past_the_timeout_is_no_answer_and_machines_answer_after_the_greeting() -> None:
    config = PopulationConfig(
        answer_rate_override=0.0, answering_machine_share=1.0, amd_machine_as_human_rate=0.0
    )
    population = Population(config, seed=2)
    first, second = [n for n in MOBILES if population.person(n).line == "person"][:2]

    short = population.plan_call(first, 0, TUESDAY_LUNCH, ring_timeout_s=5)
    machine = population.plan_call(second, 0, TUESDAY_LUNCH, ring_timeout_s=60)

    assert (short.outcome, short.ring_s) == ("no-answer", 5.0)
    assert machine.outcome == "machine"
    assert machine.beep_at_s == population.person(second).greeting_s
    assert machine.amd_result is not None and machine.amd_result.startswith("machine_end")
    assert machine.amd_after_s is not None and machine.amd_after_s > machine.beep_at_s


def test_sms_replies_over_many_numbers_follow_the_configuration() -> None:
    config = PopulationConfig()
    plans = [population.plan_sms(number, 0) for population, number in _people()]
    delivered = [plan for plan in plans if plan.delivered]
    replies = Counter(plan.reply_kind for plan in delivered)

    assert 1 - len(delivered) / len(plans) == pytest.approx(config.dead_number_share, abs=0.006)
    for kind, weight in config.sms_reply_weights.items():
        assert replies[kind] / len(delivered) == pytest.approx(weight, abs=0.012)
    assert all(plan.error_code in (30003, 30005, 30006) for plan in plans if not plan.delivered)
    assert all(plan.reply_text.upper() == "CALL" for plan in delivered if plan.reply_kind == "call")


@pytest.mark.parametrize(
    "bad",
    [
        {"busy_rate": 1.5},
        {"dead_number_share": 0.6, "wrong_number_share": 0.6},
        {"keypad_weights": {"1": -1.0}},
        {"sms_reply_weights": {}},
    ],
)
def test_an_impossible_population_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PopulationConfig(**bad)  # type: ignore[arg-type]
