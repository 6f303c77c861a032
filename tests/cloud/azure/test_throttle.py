"""The client-side token buckets: ARM's limits per operation class, and Retry-After pausing a class."""

from __future__ import annotations

import asyncio

from drsim.cloud.arm import BucketLimit, RequestClass, arm_limits
from drsim.cloud.azure.throttle import Throttle, client_limits


def test_arm_limits_are_the_documented_ones_and_drsim_keeps_ninety_percent():
    assert arm_limits()[RequestClass.READ] == BucketLimit(250, 25)
    assert arm_limits()[RequestClass.WRITE] == BucketLimit(200, 10)
    assert arm_limits()[RequestClass.DELETE] == BucketLimit(200, 10)
    assert client_limits()[RequestClass.READ] == BucketLimit(225, 22.5)
    assert client_limits()[RequestClass.WRITE] == BucketLimit(180, 9)


def test_concurrent_waiters_are_served_in_arrival_order_at_the_refill_rate():
    throttle = Throttle({kind: BucketLimit(2, 200) for kind in RequestClass})
    order: list[int] = []

    async def request(n: int) -> None:
        await throttle.acquire(RequestClass.WRITE)
        order.append(n)

    async def main() -> None:
        await asyncio.gather(*(request(n) for n in range(6)))

    asyncio.run(main())
    assert order == [0, 1, 2, 3, 4, 5]
