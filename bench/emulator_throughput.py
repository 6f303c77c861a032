"""Benchmark of the ARM emulator: read throughput, and the real time of a snapshot-to-disk LRO chain.

Serves the contoso Site Recovery drill's world (throttling off, so the figures are the emulator's,
not ARM's buckets) and prints, with the load average (a shared machine's wall times depend on what
else runs): requests per second and latency percentiles of `GET virtualMachines` (the heaviest read:
every VM with its disks) sequentially and with 20 in flight; then the real time of a snapshot PUT
and a disk PUT from it, polled as the SDK polls, at the given speed.

    /work/venv/bin/python bench/emulator_throughput.py [--requests 400] [--speed 600]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path

import aiohttp

from drsim.cloud.emulator import EmulatorOptions, serve_emulator
from drsim.cloud.emulator.world import build_world

ROOT = Path(__file__).resolve().parent.parent
DRILL = ROOT / "drills" / "2026-q4-shop-asr.yaml"
AUTH = {"Authorization": "Bearer bench"}
API = {"api-version": "2024-07-01"}


async def timed_get(session: aiohttp.ClientSession, url: str) -> float:
    start = time.perf_counter()
    async with session.get(url, params=API, headers=AUTH) as response:
        await response.read()
        assert response.status == 200, response.status
    return time.perf_counter() - start


def report(label: str, latencies: list[float], wall: float) -> None:
    ordered = sorted(latencies)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(
        f"{label:<28} {len(latencies) / wall:8.0f} req/s   p50 {statistics.median(ordered) * 1000:6.1f} ms"
        f"   p95 {p95 * 1000:6.1f} ms   ({len(latencies)} requests, {wall:.2f} s)"
    )


async def lro(session: aiohttp.ClientSession, url: str, body: dict[str, object]) -> None:
    async with session.put(url, json=body, params=API, headers=AUTH) as response:
        assert response.status in (200, 201, 202), await response.text()
        monitor = response.headers.get("Azure-AsyncOperation")
        wait_ms = response.headers.get("retry-after-ms")
        wait = float(wait_ms) / 1000 if wait_ms else float(response.headers.get("Retry-After", "1"))
    while monitor:
        await asyncio.sleep(wait)
        async with session.get(monitor, headers=AUTH) as polled:
            status = (await polled.json())["status"]
        if status != "InProgress":
            assert status == "Succeeded", status
            return


async def main(requests: int, speed: float) -> None:
    options = EmulatorOptions(drill=DRILL, speed=speed)
    world = build_world(options)
    world.throttle.enabled = False
    async with serve_emulator(world) as handle, aiohttp.ClientSession() as session:
        sub = f"/subscriptions/{handle.subscription_id}"
        vms = f"{handle.url}{sub}/providers/Microsoft.Compute/virtualMachines"
        print(f"emulator at {handle.url}, speed {speed:g}x, load average {os.getloadavg()[0]:.2f}")
        await timed_get(session, vms)  # warm up

        start = time.perf_counter()
        sequential = [await timed_get(session, vms) for _ in range(requests)]
        report("GET VMs, one at a time", sequential, time.perf_counter() - start)

        gate = asyncio.Semaphore(20)

        async def limited() -> float:
            async with gate:
                return await timed_get(session, vms)

        start = time.perf_counter()
        concurrent = await asyncio.gather(*(limited() for _ in range(requests)))
        report("GET VMs, 20 in flight", list(concurrent), time.perf_counter() - start)

        drills = f"{handle.url}{sub}/resourceGroups/drsim-drills/providers/Microsoft.Compute"
        disk = f"{sub}/resourceGroups/contoso-prod/providers/Microsoft.Compute/disks/dc-02-os"
        start = time.perf_counter()
        await lro(
            session,
            f"{drills}/snapshots/bench-snap",
            {
                "location": "centralus",
                "properties": {"incremental": True, "creationData": {"createOption": "Copy", "sourceResourceId": disk}},
            },
        )
        snapshot_done = time.perf_counter() - start
        await lro(
            session,
            f"{drills}/disks/bench-disk",
            {
                "location": "centralus",
                "properties": {
                    "creationData": {
                        "createOption": "Copy",
                        "sourceResourceId": f"{sub}/resourceGroups/drsim-drills/providers/Microsoft.Compute/snapshots/bench-snap",
                    }
                },
            },
        )
        total = time.perf_counter() - start
        print(
            f"{'snapshot then disk LRO':<28} snapshot {snapshot_done:.2f} s, both {total:.2f} s real "
            f"({total * speed / 60:.1f} world minutes)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--speed", type=float, default=600.0)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.speed))
