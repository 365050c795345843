"""The protocol-floor benchmark: its arithmetic and its bare signed webhook exchange."""

from __future__ import annotations

from benchmarks.protocol_floor import Measured, floor_of, machine_cpu_s, measure_exchanges


def test_floor_adds_exchanges_and_tasks_and_budget_follows_the_noop_rate() -> None:
    exchange = Measured(units=1000, wall_s=2.0, cpu_s=3.0)  # 3 ms each
    noop = Measured(units=500, wall_s=1.0, cpu_s=2.0)  # 4 ms each, 500/s, 2 cores busy

    floor = floor_of(exchange, noop, exchanges=5.0, tasks=3.0, target_ratio=0.1)

    assert floor.exchange_cpu_ms == 3.0
    assert floor.noop_cpu_ms == 4.0
    assert floor.floor_ms_per_call == 5 * 3.0 + 3 * 4.0
    # 0.1 x 500 no-ops/s = 50 calls/s on 2 busy cores: 40 ms of CPU each.
    assert floor.budget_ms_per_call == 40.0
    assert floor.headroom_ms_per_call == 40.0 - 27.0


def test_machine_cpu_counts_busy_time() -> None:
    before = machine_cpu_s()
    total = 0
    for number in range(3_000_000):
        total += number * number
    assert total > 0
    assert machine_cpu_s() - before > 0.05


def test_signed_exchanges_are_answered_and_measured() -> None:
    result = measure_exchanges(requests_per_round=30, rounds=1)

    assert result.units == 30
    assert result.wall_s > 0
    assert result.cpu_ms > 0
