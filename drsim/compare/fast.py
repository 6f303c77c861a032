"""The fast model: a vectorized (numpy) Monte Carlo back end for comparisons.

Instead of one engine run per trial, the fast model draws every trial's random figures at once and
walks the per-VM task graph of the engine (drsim.engine.taskgraph) step by step, operation by
operation, with arrays of shape [trials]: each operation's start, end and outcome is an array over
the trials. It follows the engine and the simulated world as they are (docs/compare.md, "The fast
model"):

- the catalog's distributions (drsim/cloud/sim/catalog.yaml), as the engine world's own keyed draws
  for each trial (WorldDraws: common random numbers): the recovery points (backup jobs with their
  jitter, snapshot phase, vault transfer and cross-region lag; Site Recovery timing; scheduled
  snapshot instants; flush lags), drawn only for the jobs and slots near each trial's incident that
  a choice looks at, and the operations (restores, test failovers and their capacity failures,
  snapshots, copies, creations, boots, canary reads, deletions), keyed by the ids of what the
  engine's run creates, named as it names them (RUN: the run's name prefix). So trial k has the
  recovery points, durations and capacity failures of the engine's trial k and of its replay with
  `drsim drill run --seed --incident-at`; ARM's round trips, job polls, throttling spreads and
  retry backoffs are drawn with numpy;
- ARM's round trip on every request, and ARM throttling: a token bucket per region and request class
  (reads, writes), with the engine's throttled-call delays (drsim.engine.retry), on the first request
  of every operation (bursts: a step's tasks start together); job polls and later reads of a check
  bypass the buckets (they are spread out by their own waits);
- the drill's concurrency limit (50 long-running operations) as list scheduling over slot arrays of
  shape [trials, 50], tasks in graph order, and the 20 deployments per managed image the same way;
- job polling every 30 s (the poll that first sees a job ended), Backup and Site Recovery point
  schedules (Site Recovery's pruning included: a point found before a task waited for its slot may be
  gone when its test failover starts) and the recovery point each choice picks, instant-restore and vault tiers, cross-region
  restore, scheduled snapshots and copies, the data-version model (flush lag, app-consistent points,
  striped volumes, corruption);
- step retries with the engine's backoff (Site Recovery capacity failures), step timeouts (each attempt
  bounded from its start, slot-queue wait included; a queued attempt that times out gives up its place;
  a timed-out restore or test failover is followed again on the retry, as the engine does);
- measurement as drsim.measure.timeline does it, and the drill's cost from what it created and when
  cleanup deleted it (restores the run stopped following are cancelled, as the engine's cleanup does).

Where step timeouts bind under the concurrency limit the fast model stays in use (`--model auto`):
its timed-out attempts per trial match the engine's; what it approximates there is which tasks fail
(the same ones in every trial: the slot order is one order, of the trials' mean asking times).

What it does not model is named by drsim.compare.fast_support; `--model auto` uses the engine then.
The engine stays the reference: a fast comparison also runs engine trials and reports the agreement
(drsim.compare.fast_validate).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from drsim.cloud.api import ResourceKind
from drsim.cloud.prices import cost_per_day
from drsim.cloud.sim import schedules
from drsim.cloud.sim.backup import CANCEL_SECONDS
from drsim.cloud.sim.catalog import Catalog, Fixed, Lognormal, Triangular, Uniform, default_catalog
from drsim.cloud.sim.draws import Draws
from drsim.cloud.sim.incidents import CORRUPTING, DESTRUCTIVE
from drsim.cloud.sim.resources import DRILL_GROUP, production_disk_id, production_group, resource_id
from drsim.cloud.sim.state import MIB_PER_GIB, churn_lag_factor
from drsim.cloud.sim.workload import CANARY_EPOCH
from drsim.compare.fast_causes import Why, fast_causes
from drsim.compare.fast_support import CONCURRENCY
from drsim.compare.trials import AppOutcome, TrialOutcome, TrialSpec
from drsim.engine.actions import BOOT_POLL_S, BOOT_POLLS, JOB_POLL_S, MAX_IMAGE_DEPLOYMENTS, UNREACHABLE_READS, name_prefix, resource_name
from drsim.engine.retry import BACKOFF_BASE_S, BACKOFF_CAP_S, THROTTLE_SPREAD_CAP_S
from drsim.engine.taskgraph import CANARY_READ_INTERVAL_S, OpKind, Task, build_task_graph
from drsim.measure.timeline import in_scope_vm_names
from drsim.model.checks import Protection, protection_of
from drsim.model.documents import (
    AsrStep,
    BackupRule,
    BackupStep,
    CheckBootStep,
    CheckCanaryStep,
    DiskSpec,
    Estate,
    ImageDeployStep,
    IsolateStep,
    ProtectionPlan,
    Runbook,
    SnapshotCloneStep,
    VmSpec,
)
from drsim.model.types import (
    Action,
    BackupPointChoice,
    BackupTier,
    IncidentKind,
    OsType,
    ReplicationPointChoice,
    VolumeLayout,
    selector_matches,
)

DAY_S = 86400.0
READ, WRITE = "read", "write"
_EPS = 1e-6


def _epoch_seconds(at: datetime) -> float:
    return (at.astimezone(UTC) - CANARY_EPOCH).total_seconds()


# ------------------------------------------------------------------------------------------ draws


class Draw:
    """The catalog's distributions, drawn for many trials at once."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def __call__(self, dist: object, shape: int | tuple[int, ...]) -> np.ndarray:
        rng = self.rng
        if isinstance(dist, Fixed):
            return np.full(shape, float(dist.value))
        if isinstance(dist, Uniform):
            return rng.uniform(dist.low, dist.high, shape)
        if isinstance(dist, Triangular):
            if dist.high == dist.low:
                return np.full(shape, float(dist.low))
            return rng.triangular(dist.low, dist.mode, dist.high, shape)
        if isinstance(dist, Lognormal):
            value = dist.median * np.exp(dist.sigma * rng.standard_normal(shape))
            value = np.maximum(value, dist.low)
            return np.minimum(value, dist.high) if dist.high is not None else value
        raise TypeError(f"unknown distribution {dist!r}")  # pragma: no cover - the catalog's union is closed


def quantiles(dist: object, u: np.ndarray) -> np.ndarray:
    """A catalog distribution's values at the uniform draws `u` (its inverse CDF, `sample`, over an array:
    the same arithmetic, so the same values as the simulated world's)."""
    if isinstance(dist, Fixed):
        return np.full(u.shape, float(dist.value))
    if isinstance(dist, Uniform):
        return dist.low + (dist.high - dist.low) * u
    if isinstance(dist, Triangular):
        span = dist.high - dist.low
        if span == 0:
            return np.full(u.shape, float(dist.low))
        cut = (dist.mode - dist.low) / span
        below = dist.low + np.sqrt(np.maximum(u, 0.0) * span * (dist.mode - dist.low))
        above = dist.high - np.sqrt(np.maximum(1 - u, 0.0) * span * (dist.high - dist.mode))
        return np.where(u < cut, below, above)
    if isinstance(dist, Lognormal):
        z = unit_normal_quantiles(np.clip(u, 1e-12, 1 - 1e-12))
        value = np.maximum(dist.median * np.exp(dist.sigma * z), dist.low)
        return np.minimum(value, dist.high) if dist.high is not None else value
    raise TypeError(f"unknown distribution {dist!r}")  # pragma: no cover - the catalog's union is closed


def _poly(coefficients: tuple[float, ...], r: np.ndarray) -> np.ndarray:
    """c0 * r^k + ... + ck by Horner's rule, in the order AS241 evaluates it."""
    value = np.full(r.shape, coefficients[0])
    for c in coefficients[1:]:
        value = value * r + c
    return value


_AS241_CENTRAL = (
    (2.5090809287301226727e3, 3.3430575583588128105e4, 6.7265770927008700853e4, 4.5921953931549871457e4,
     1.3731693765509461125e4, 1.9715909503065514427e3, 1.3314166789178437745e2, 3.3871328727963666080e0),
    (5.2264952788528545610e3, 2.8729085735721942674e4, 3.9307895800092710610e4, 2.1213794301586595867e4,
     5.3941960214247511077e3, 6.8718700749205790830e2, 4.2313330701600911252e1, 1.0),
)  # fmt: skip
_AS241_NEAR = (
    (7.7454501427834140764e-4, 2.2723844989269184583e-2, 2.4178072517745061177e-1, 1.2704582524523683826e0,
     3.6478483247632045605e0, 5.7694972214606914055e0, 4.6303378461565452959e0, 1.4234371107496835773e0),
    (1.0507500716444168432e-9, 5.4759380849953449460e-4, 1.5198666563616457197e-2, 1.4810397642748007459e-1,
     6.8976733498510000455e-1, 1.6763848301838038494e0, 2.0531916266377588219e0, 1.0),
)  # fmt: skip
_AS241_FAR = (
    (2.0103343992922881327e-7, 2.7115555687434875782e-5, 1.2426609473880784386e-3, 2.6532189526576123093e-2,
     2.9656057182850489123e-1, 1.7848265399172913358e0, 5.4637849111641143699e0, 6.6579046435011037772e0),
    (2.0442631033899397856e-15, 1.4215117583164458887e-7, 1.8463183175100546818e-5, 7.8686913114561325910e-4,
     1.4875361290850614852e-2, 1.3692988092273580531e-1, 5.9983220655588793769e-1, 1.0),
)  # fmt: skip


def unit_normal_quantiles(p: np.ndarray) -> np.ndarray:
    """The standard normal's inverse CDF at `p` (0 < p < 1), over an array: Wichura's AS241, the algorithm
    of statistics.NormalDist.inv_cdf that the simulated world's lognormal draws use (catalog.Lognormal),
    with its three ranges and coefficients, so the fast model's values are the world's."""
    q = p - 0.5
    central = np.abs(q) <= 0.425
    r = 0.180625 - q * q
    x = np.empty(p.shape)
    x[central] = (_poly(_AS241_CENTRAL[0], r[central]) * q[central]) / _poly(_AS241_CENTRAL[1], r[central])
    tail = ~central
    if tail.any():
        t = np.sqrt(-np.log(np.where(q[tail] <= 0.0, p[tail], 1.0 - p[tail])))
        near = t <= 5.0
        value = np.empty(t.shape)
        value[near] = _poly(_AS241_NEAR[0], t[near] - 1.6) / _poly(_AS241_NEAR[1], t[near] - 1.6)
        value[~near] = _poly(_AS241_FAR[0], t[~near] - 5.0) / _poly(_AS241_FAR[1], t[~near] - 5.0)
        x[tail] = np.where(q[tail] < 0.0, -value, value)
    return x


def _bounds(dist: object) -> tuple[float, float]:
    """The least and the greatest value a catalog distribution gives."""
    low, high = float(dist.sample(0.0)), float(dist.sample(1.0 - 2.0**-53))  # type: ignore[attr-defined]
    return min(low, high), max(low, high)


RUN = "\x00"
"""Stands in a key or a name for the prefix of the names the engine's run gives what it creates, which
differs from trial to trial (drsim.engine.actions.name_prefix, always PREFIX_LENGTH characters)."""
PREFIX_LENGTH = len(name_prefix(""))


class WorldDraws:
    """The simulated world's own keyed draws of every trial: recovery points and operations.

    The engine runs trial k in a world seeded with the trial's seed (TrialSpec.seed: drsim.drills.simulate_run
    builds its world with it), whose draws are pure functions of (seed, key) (drsim.cloud.sim.draws). The
    fast model takes its recovery points from the same draws (drsim.cloud.sim.schedules builds the keys)
    and its operations' durations and capacity failures (keyed as drsim.cloud.sim keys them, by the ids
    of the production VMs and disks and of what the engine's run creates): trial k of the fast model has
    the backup jobs, Site Recovery timing, scheduled snapshot instants, flush lags, restore and test
    failover durations, boots and deletions of the engine's trial k (common random numbers), and a
    failed fast trial's replay with `drsim drill run --seed --incident-at` meets the same. Shared by a
    comparison's candidates (a VM's flush lag is the same whatever the plan; runbooks that name their
    steps alike give their resources the same names)."""

    def __init__(self, specs: Sequence[TrialSpec]) -> None:
        from drsim.drills import run_id_for  # the engine's orchestration, as compare.trials.run_trial uses it

        self.draws = [Draws(s.seed) for s in specs]
        self._states = [d.keyed_state for d in self.draws]
        self.trials = len(specs)
        # The prefix of the names the engine's run of each trial gives what it creates (its name key is
        # the trial's run id: drsim.drills.simulate_run): RUN in a key stands for it.
        self.prefixes = [name_prefix(run_id_for(s.incident_at, s.seed)) for s in specs]
        self._prefix_bytes = [p.encode() for p in self.prefixes]
        self.made = 0  # keyed draws made (a benchmark figure)
        self._units: dict[str, np.ndarray] = {}
        self._iso: dict[float, str] = {}

    def units(self, key: str) -> np.ndarray:
        """The draw of `key` in every trial, RUN in it standing for the trial's name prefix (kept: the same
        key is asked again by another candidate, whose runbook may name what it creates the same way)."""
        found = self._units.get(key)
        if found is None:
            found = self._units[key] = self.units_in(np.arange(self.trials), key)
        return found

    def units_in(self, rows: np.ndarray, key: str) -> np.ndarray:
        """The draw of `key` (RUN: each trial's name prefix) in the trials `rows` only (not kept: for the
        draws few trials make, a retry's)."""
        if RUN in key:
            head, tail = (part.encode() for part in key.split(RUN, 1))
            prefixes = self._prefix_bytes
            keys = [head + prefixes[r] + tail for r in rows.tolist()]
        else:
            keys = [key.encode()] * len(rows)
        return self.units_at(rows, keys)

    def units_keyed(self, rows: np.ndarray, values: np.ndarray, key_of: Callable[[float], str]) -> np.ndarray:
        """The draw in trial rows[i] of the key `key_of(values[i])` (each distinct value's key built once)."""
        distinct, inverse = np.unique(values, return_inverse=True)
        keys = [key_of(v).encode() for v in distinct.tolist()]
        return self.units_at(rows, [keys[i] for i in inverse.tolist()])

    def units_at(self, rows: np.ndarray, keys: Sequence[bytes]) -> np.ndarray:
        """The draw of keys[i] (encoded) in trial rows[i] (Draws.unit_of's arithmetic, on the digests at once)."""
        self.made += len(keys)
        digests: list[bytes] = []
        append = digests.append
        for state, key in zip(map(self._states.__getitem__, rows.tolist()), keys, strict=True):
            h = state.copy()
            h.update(key)
            append(h.digest())
        # Draws.unit_of on every digest at once: the top 53 bits of each big-endian 8-byte digest.
        return (np.frombuffer(b"".join(digests), dtype=">u8") >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def iso(self, seconds: float) -> str:
        """The instant `seconds` after the canary epoch as the world writes it in a key (isoformat, UTC)."""
        found = self._iso.get(seconds)
        if found is None:
            found = self._iso[seconds] = (CANARY_EPOCH + timedelta(seconds=seconds)).isoformat()
        return found


@dataclass
class BackupJobs:
    """One VM's scheduled backup jobs around each trial's incident, drawn as they are needed.

    Column c of trial k is job c % per_day of the policy day c // per_day from the first (some days
    before the trial's incident's); `fields[c]` holds per trial the job's times relative to the incident (nan: not drawn
    yet): taken (the point's time), usable (snapshot phase done), vault (in the vault tier; inf: never),
    crr (in the paired region; inf: never)."""

    rule: BackupRule
    vm: str
    offsets: list[float]  # seconds after the policy day's UTC midnight of the day's jobs
    grid: np.ndarray  # [trials, columns]: each job's scheduled time relative to the trial's incident
    fields: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def per_day(self) -> int:
        return len(self.offsets)

    @property
    def columns(self) -> int:
        return int(self.grid.shape[1])


# ---------------------------------------------------------------------------------- ARM and slots


class Buckets:
    """ARM's token buckets per region and request class (drsim.cloud.arm.TokenBucket), as arrays over the
    trials, in their virtual-scheduling form: a bucket is the time its next token is due (`tat`); a
    request passes at once while the bucket holds a token, else when its token is due, a little later
    by the throttled call's first spread (drsim.engine.retry.throttle_delay). Unlike replaying the
    bucket request by request, this drains a burst at the refill rate even when the fast model takes
    the requests in another order than time."""

    def __init__(self, catalog: Catalog, trials: int, rng: np.random.Generator) -> None:
        limits = catalog.arm.limits()
        self._limits = {str(k.value): v for k, v in limits.items()}
        self._tat: dict[tuple[str, str], np.ndarray] = {}
        self.trials = trials
        self.rng = rng

    def admit(self, region: str, request: str, at: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """When each trial's request is let through (at or after `at`)."""
        limit = self._limits[request]
        key = (region, request)
        tat = self._tat.get(key)
        if tat is None:
            tat = self._tat[key] = np.full(self.trials, -np.inf)
        tau = 1.0 / limit.refill_per_s
        burst = limit.capacity * tau
        due = np.maximum(tat, at)
        waits = due - at > burst - tau + _EPS  # no token left: wait for the next one
        passed = np.where(waits, due - burst + tau, at)
        spread = self.rng.uniform(0.0, min(THROTTLE_SPREAD_CAP_S, 2.0), self.trials)
        passed = np.where(waits, passed + spread, passed)
        self._tat[key] = np.where(mask, due + tau, tat)
        return passed


class Slots:
    """At most `count` operations in flight per trial: list scheduling over an array [trials, count] of
    the times each slot frees (an operation takes the slot that freed last before it was ready, or the
    first to free)."""

    def __init__(self, trials: int, count: int) -> None:
        self.free = np.zeros((trials, count))
        self.rows = np.arange(trials)

    def take(self, ready: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        free = self.free
        fits = np.where(free <= ready[:, None], free, -np.inf)
        best = np.argmax(fits, axis=1)
        none_fits = ~np.isfinite(fits[self.rows, best])
        first = np.argmin(free, axis=1)
        slot = np.where(none_fits, first, best)
        start = np.where(mask, np.maximum(ready, free[self.rows, slot]), ready)
        return start, slot

    def release(self, slot: np.ndarray, end: np.ndarray, mask: np.ndarray) -> None:
        rows = self.rows[mask]
        self.free[rows, slot[mask]] = end[mask]


# ---------------------------------------------------------------------------------- what a task made


@dataclass
class Made:
    """Resources of one kind a task made in some trials: created at `at`, priced per day."""

    kind: ResourceKind
    price: float
    at: np.ndarray
    mask: np.ndarray
    region: str
    asr_vm: str | None = None  # made by a test failover of this VM: deleted by its 'cleanup test failover'
    made_id: str | None = None  # the resource's id (created_id: its deletion's draw is keyed by it)


@dataclass
class Recovery:
    """What a recovery task brought back, per trial."""

    booted_at: np.ndarray  # the recovered VM answers from then (inf: not recovered)
    instants: np.ndarray  # [trials, disks]: the newest write each recovered disk holds (seconds from the incident)
    corrupted: np.ndarray
    point: np.ndarray  # the recovery point's time (nan: none)


@dataclass
class CheckOutcome:
    """What a check task emitted, per trial."""

    emitted: np.ndarray  # a check.result was emitted
    passed: np.ndarray
    healthy_at: np.ndarray
    canary: bool
    reachable: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    measured: np.ndarray = field(default_factory=lambda: np.zeros(0))
    consistent: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    corrupted: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


# -------------------------------------------------------------------------------------- one candidate


class FastRun:
    """One candidate through every trial at once."""

    def __init__(
        self,
        runbook: Runbook,
        estate: Estate,
        plan: ProtectionPlan,
        specs: Sequence[TrialSpec],
        *,
        seed: int,
        catalog: Catalog | None = None,
        concurrency: int = CONCURRENCY,
        world: WorldDraws | None = None,
    ) -> None:
        self.runbook, self.estate, self.plan = runbook, estate, plan
        self.catalog = catalog or default_catalog()
        self.trials = n = len(specs)
        self.rng = np.random.default_rng(np.random.SeedSequence(seed))
        self.draw = Draw(self.rng)
        self.world = world if world is not None else WorldDraws(specs)
        # The simulated world keys the draws of what a run creates by its id (the name the engine gives it:
        # created_name), and those of a production VM by the VM's id.
        self._production = production_group(estate.name)
        self._counts: dict[str, np.ndarray] = {}  # the world's per-entity counters (attempts), per trial
        self.buckets = Buckets(self.catalog, n, self.rng)
        self.slots = Slots(n, concurrency)
        self.concurrency = concurrency
        self.incident_abs = np.array([_epoch_seconds(s.incident_at) for s in specs])
        self.vms = {vm.name: vm for vm in estate.vms}
        scenario = runbook.scenario
        self.kind = scenario.incident
        self.outage = scenario.region if scenario.incident is IncidentKind.REGION_OUTAGE else None
        struck = (
            {vm.name for vm in estate.vms if vm.region == scenario.region}
            if scenario.incident is IncidentKind.REGION_OUTAGE
            else {vm.name for vm in estate.select(scenario.vms)}
            if scenario.vms is not None
            else set()
        )
        self.struck = struck
        self.destroyed = struck if scenario.incident in DESTRUCTIVE else set()
        self.corrupting = struck if scenario.incident in CORRUPTING else set()
        self.detected = scenario.detected_after.total_seconds()
        self.steps = {s.id: s for s in runbook.steps}
        self.graph = build_task_graph(runbook, estate, plan)
        self.made: list[Made] = []
        self.recovered_ids: dict[str, str] = {}  # VM -> the recovered VM's id (created_id)
        self.recovered: dict[str, Recovery] = {}
        self.checks: dict[str, CheckOutcome] = {}
        self.task_end: dict[str, np.ndarray] = {}
        self.task_ok: dict[str, np.ndarray] = {}
        self.test_failovers: list[str] = []  # VMs with a started test failover, in the order started
        self.tf_started: dict[str, np.ndarray] = {}
        self.networks: dict[str, str] = {}
        self._flush: dict[str, np.ndarray] = {}
        self._replication: dict[str, dict[str, np.ndarray | float | None]] = {}
        self._protections: dict[str, Protection] = {}
        self._stream_members: dict[str, list[VmSpec]] | None = None
        self._job_grids: dict[tuple[float, ...], np.ndarray] = {}
        self._backups: dict[str, BackupJobs] = {}
        self._image_slots: dict[str, Slots] = {}
        self._group_instants: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # consistency group -> its failover instant
        self._unfinished_restores: list[tuple[VmSpec, str, str, np.ndarray]] = []  # (VM, step, region, end) of restores no task saw end
        self._unfinished_failovers: dict[str, np.ndarray] = {}
        self.timed_out = np.zeros(n, bool)  # trials in which an attempt at a step timed out
        self.timeouts = np.zeros(n, int)  # attempts that timed out (waiting for a slot or following a job), per trial
        self.job_refused: dict[str, np.ndarray] = {}  # task id -> trials whose job start was refused (its point pruned: NotFoundError)
        self.trace: list[tuple[str, str, float, float]] | None = None  # (task, operation, asked, ended) of trial 0, for debugging
        # Why tasks fail, per trial (compare.fast_causes): codes as arrays, turned into causes only for failed trials.
        self.why: dict[str, np.ndarray] = {}  # task id -> Why per trial (0: it did not fail)
        self.why_disk: dict[str, np.ndarray] = {}  # snapshot.clone task id -> the disk (index) it stopped at, per trial
        self.why_point: dict[str, np.ndarray] = {}  # asr.test_failover task id -> the point refused, per trial (from the incident)
        self.why_volumes: dict[str, list[tuple[str, np.ndarray]]] = {}  # check.canary task id -> striped volumes, inconsistent per trial
        self.job_gave_up: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # task id -> last attempt: timed out, its job failed
        self.failed: list[tuple[Task, np.ndarray]] = []  # tasks that failed (not allowed to) in some trials, and in which
        wl = self.catalog.workload
        self._flush_dist = wl.flush_lag
        self.interval = float(wl.canary_interval.sample(0.5))

    # --------------------------------------------------------------------------------- plumbing

    def latency(self, count: int | tuple[int, ...] | None = None) -> np.ndarray:
        return self.draw(self.catalog.arm.request_latency, count if count is not None else self.trials)

    def request(self, region: str, request: str, at: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """One ARM request (admitted through the buckets) and its round trip: when its answer is back."""
        return self.buckets.admit(region, request, at, mask) + self.latency()

    def admitted(self, region: str, request: str, at: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """A write admitted (its round trip is owed and waited with the operation's own time)."""
        return self.buckets.admit(region, request, at, mask) + self.latency()

    def polls(self, first: np.ndarray, ends: np.ndarray, interval: float = JOB_POLL_S) -> np.ndarray:
        """When the poll that first sees a job ended returns: a read at `first` (answered after its
        round trip), then a read every `interval` s plus a round trip, until one is at or after `ends`."""
        lat = self.catalog.arm.request_latency
        mean, var = _mean_var(lat)
        seen = first + self.latency()
        ends = np.where(np.isfinite(ends), ends, seen)  # trials the caller masks out
        late = ends > seen
        k = np.where(late, np.ceil(np.maximum(ends - seen, 0.0) / (interval + mean)), 0.0)
        total = seen + k * interval + k * mean + np.sqrt(k * var) * self.rng.standard_normal(self.trials)
        # The sum of k round trips is close to normal; a poll that would still be early needs one more.
        short = late & (total < ends)
        total = np.where(short, total + interval + self.latency(), total)
        return np.where(late, total, seen)

    def flush_lag(self, vm: str) -> np.ndarray:
        """The VM's flush lag in each trial: the engine world's own draw (WorldDraws)."""
        if vm not in self._flush:
            self._flush[vm] = quantiles(self._flush_dist, self.world.units(schedules.flush_lag_key(vm)))
        return self._flush[vm]

    # The durations of operations are the engine world's own keyed draws too (common random numbers): the
    # keys drsim.cloud.sim builds for them, from the ids of the resources involved and the world's counters.

    def keyed(self, dist: object, key: str) -> np.ndarray:
        """A catalog distribution's value in every trial for the world's key (RUN: the trial's name prefix)."""
        return quantiles(dist, self.world.units(key))

    def bump(self, counter: str, where: np.ndarray) -> np.ndarray:
        """The world's counter `counter` (WorldState._bump: a VM's restores, test failovers, canary reads)
        in each trial before this call, bumped in the trials `where` (an operation retried draws anew)."""
        count = self._counts.setdefault(counter, np.zeros(self.trials, np.int64))
        before = count.copy()
        count[where] += 1
        return before

    def counted(self, key: str, count: np.ndarray, where: np.ndarray) -> np.ndarray:
        """The draw of `key/<count>` in the trials `where` (nan elsewhere): a count most trials reach
        (the first attempt) drawn for every trial and kept for the other candidates, a retry's count only
        in the trials that retried."""
        units = np.full(self.trials, np.nan)
        for c in np.unique(count[where]).tolist():
            rows = where & (count == c)
            if c == 0:
                units[rows] = self.world.units(f"{key}/{c}")[rows]
            else:
                units[rows] = self.world.units_in(np.flatnonzero(rows), f"{key}/{c}")
        return units

    @staticmethod
    def created_name(*parts: str) -> str:
        """The name the engine's run gives what it creates for `parts` (actions.resource_name), RUN standing
        for the run's prefix (of the same length in every trial: the name is cut at the same place)."""
        return RUN + resource_name("-" * PREFIX_LENGTH, *parts)[PREFIX_LENGTH:]

    @classmethod
    def created_id(cls, kind: ResourceKind, *parts: str) -> str:
        """The id of what the engine's run creates as `resource_name(prefix, *parts)` (RUN: the prefix)."""
        return resource_id(DRILL_GROUP, kind, cls.created_name(*parts))

    @staticmethod
    def _made_disks(vm: VmSpec, name: str) -> list[str]:
        """The ids of the disks the world makes with a recovered VM named `name` (a restore's, an image
        deployment's: `<vm name>-<disk>`), in the order of the VM's disks."""
        return [resource_id(DRILL_GROUP, ResourceKind.DISK, f"{name}-{disk.name}") for disk in vm.disks]

    def production_vm(self, vm: str) -> str:
        return resource_id(self._production, ResourceKind.VM, vm)

    def capture(self, vm: str, at: np.ndarray, flushed: np.ndarray | bool) -> tuple[np.ndarray, np.ndarray]:
        """The newest write a capture of `vm` at `at` holds (seconds from the incident), and whether it is corrupted."""
        lag = self.flush_lag(vm)
        instant = np.where(flushed, at, at - lag)
        if vm in self.destroyed:
            stopped = at >= 0.0
            instant = np.where(stopped, -lag, instant)  # a crash: the application's buffers are lost
        corrupted = (at >= 0.0) if vm in self.corrupting else np.zeros(self.trials, bool)
        return instant, corrupted

    def price(self, kind: ResourceKind, vm: VmSpec | None, disk: DiskSpec | None = None) -> float:
        prices = self.catalog.prices
        if kind is ResourceKind.VM:
            return cost_per_day(prices, kind, size=vm.size if vm else "")
        if disk is None:
            return 0.0
        return cost_per_day(prices, kind, sku=disk.sku, size_gib=disk.size_gib, used_gib=disk.used_gib)

    def make(
        self,
        kind: ResourceKind,
        price: float,
        at: np.ndarray,
        mask: np.ndarray,
        region: str,
        asr_vm: str | None = None,
        made_id: str | None = None,
    ) -> None:
        self.made.append(Made(kind, price, at.copy(), mask.copy(), region, asr_vm, made_id))

    def fails(self, task: Task, where: np.ndarray, why: Why) -> None:
        """Record why `task` fails in the trials `where` (the first reason recorded for a trial stands)."""
        if not where.any():
            return
        codes = self.why.get(task.id)
        if codes is None:
            codes = self.why[task.id] = np.zeros(self.trials, np.int8)
        np.copyto(codes, np.int8(why), where=where & (codes == 0))

    def _clone_fails(self, task: Task, where: np.ndarray, why: Why, disk: int) -> None:
        """A snapshot clone stops at one of its disks: why, and which disk (the first one it stopped at)."""
        if not where.any():
            return
        first = where & (self.why.get(task.id, np.zeros(self.trials, np.int8)) == 0)
        self.fails(task, where, why)
        disks = self.why_disk.setdefault(task.id, np.full(self.trials, -1, np.int16))
        disks[first] = disk

    # -------------------------------------------------------------------------------- the walk

    def run(self) -> list[list[AppOutcome]]:
        n = self.trials
        # Discovery: the production VMs are listed once the incident is detected.
        start = self.request(self.estate.regions.primary, READ, np.full(n, self.detected), np.ones(n, bool))
        step_end: dict[str, np.ndarray] = {}
        step_bad: dict[str, np.ndarray] = {}  # the step stops its dependants (failed or skipped)
        for wave in self._waves():
            # Steps that need the same steps start together: their tasks meet in the slot queue in the
            # order their first calls return, which the engine's round trips shuffle. The fast model
            # interleaves them evenly (task i of a step of n at (i + 1/2) / n), so that no step's
            # tasks (the expensive database VMs, say) always get the first slots.
            needs = self.graph.step_needs[wave[0]]
            ready = start.copy()
            blocked = np.zeros(n, bool)
            for need in needs:
                ready = np.maximum(ready, step_end[need])
                blocked |= step_bad[need]
            ends = {step_id: ready.copy() for step_id in wave}
            failed = {step_id: np.zeros(n, bool) for step_id in wave}
            order = sorted(
                ((i + 0.5) / len(tasks), w, task)
                for w, step_id in enumerate(wave)
                for tasks in [self.graph.step_tasks[step_id]]
                for i, task in enumerate(tasks)
            )
            for task, (t_end, ok) in self._scheduled([t for _, _, t in order], ready, ~blocked):
                t_end = np.where(blocked, ready, t_end)
                ok = ok & ~blocked
                self.task_end[task.id], self.task_ok[task.id] = t_end, ok
                ends[task.step] = np.maximum(ends[task.step], t_end)
                failing = ~ok & ~blocked
                failed[task.step] |= failing
                if task.step not in self.graph.allow_failure and failing.any():
                    self.failed.append((task, failing))
            for step_id in wave:
                step_end[step_id] = ends[step_id]
                allowed = step_id in self.graph.allow_failure
                step_bad[step_id] = blocked | (failed[step_id] & ~np.bool_(allowed))
        run_end = np.max(np.stack(list(step_end.values())), axis=0) if step_end else start
        self.run_end = run_end
        self.cleanup(run_end)
        return self.measure()

    def _scheduled(self, tasks: list[Task], ready: np.ndarray, mask: np.ndarray) -> list[tuple[Task, tuple[np.ndarray, np.ndarray]]]:
        """Run a wave's tasks in the order the engine's slot queue grants them (drsim.engine.executor.SlotLimit).

        A task whose first operation holds a slot asks as a new task; one whose first slot operation
        follows a call (finding a point, a snapshot, an image), and every later operation of a started
        task, asks as continuing. A freed slot goes to the first continuing request (FIFO), else to the
        first new task. The fast model replays that rule on the trials' mean times: it takes the slot
        requests in the order of their mean asking time, and starts a new task only when no continuing
        request has asked before the mean time the next slot frees; each request then takes its slot
        in every trial (Slots.take). A burst of first requests (a wave's tasks asking as their first
        calls return, each after its own round trip) reaches the engine's queue in another order in
        every trial: the fast model takes a burst in the wave's interleaved order (BURST_GAP_S), so
        that which steps' tasks wait longest (and time out, when a timeout binds) is spread over the
        steps as in the engine, though in the same order in every trial."""
        # New tasks queue in the order the engine spawns them (step by step); continuing ones ask as
        # their first calls return (`tasks` interleaves them evenly: see run()).
        fresh = sorted((t for t in tasks if t.ops and t.ops[0].kind.holds_slot and not t.ops[0].needs), key=lambda t: t.index)
        fresh_ids = {t.id for t in fresh}
        results: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        heap: list[tuple[float, int, Task, Generator[np.ndarray, None, tuple[np.ndarray, np.ndarray]], np.ndarray]] = []
        live = mask.any()

        def mean_of(times: np.ndarray) -> float:
            picked = times[mask] if live else times
            finite = picked[np.isfinite(picked)]
            return float(finite.mean()) if len(finite) else math.inf

        def step(task: Task, steps: Generator[np.ndarray, None, tuple[np.ndarray, np.ndarray]]) -> None:
            try:
                asks = next(steps)
            except StopIteration as done:
                results[task.id] = done.value
                return
            heapq.heappush(heap, (round(mean_of(asks), 3), rank[task.id], task, steps, asks))

        # Continuing-first tasks make their first calls in spawn order (ARM admits them in that order),
        # then ask for their first slot; `tasks` (interleaved) breaks ties between equal mean times.
        rank = {t.id: i for i, t in enumerate(tasks)}
        for task in sorted((t for t in tasks if t.id not in fresh_ids), key=lambda t: t.index):
            step(task, self._steps_of(task, ready, mask))
        # A burst of first requests (their means within BURST_GAP_S of each other) asks together: its
        # members queue in the wave's interleaved order, at the burst's first mean time.
        heap.sort()
        first = previous = -math.inf
        for i, (mean, *rest) in enumerate(heap):
            if mean - previous > BURST_GAP_S:
                first = mean
            previous = mean
            heap[i] = (first, *rest)  # type: ignore[assignment]
        heapq.heapify(heap)
        waiting = list(fresh)
        started = 0
        while heap or waiting:
            next_free = mean_of(np.min(self.slots.free, axis=1))
            if waiting and (started < self.concurrency or not heap or heap[0][0] > next_free):
                task = waiting.pop(0)
                started += 1
                steps = self._steps_of(task, ready, mask)
                step(task, steps)
                if heap and heap[0][2] is task:  # its first operation takes its slot now
                    _, _, _, steps, _ = heapq.heappop(heap)
                    step(task, steps)
                continue
            _, _, task, steps, _ = heapq.heappop(heap)
            step(task, steps)
        return [(task, results[task.id]) for task in tasks]

    def _steps_of(self, task: Task, ready: np.ndarray, mask: np.ndarray) -> Generator[np.ndarray, None, tuple[np.ndarray, np.ndarray]]:
        step = self.steps[task.step]
        if isinstance(step, SnapshotCloneStep):
            return self.clone_steps(task, step, ready, mask)
        if isinstance(step, BackupStep):
            return self.backup_steps(task, step, ready, mask)
        if isinstance(step, AsrStep):
            return self.asr_steps(task, step, ready, mask)
        return self._at_once(task, ready, mask)

    def _at_once(self, task: Task, ready: np.ndarray, mask: np.ndarray) -> Generator[np.ndarray, None, tuple[np.ndarray, np.ndarray]]:
        """A task with at most one slot operation, run whole when its turn comes (asking at `ready`)."""
        yield ready
        return self.run_task(task, ready, mask)

    def _waves(self) -> list[list[str]]:
        """The steps in topological order, those that need the same steps together (one wave)."""
        waves: dict[frozenset[str], list[str]] = {}
        for step_id in self.graph.steps:
            waves.setdefault(frozenset(self.graph.step_needs[step_id]), []).append(step_id)
        return list(waves.values())

    # -------------------------------------------------------------------------------- one task

    def run_task(self, task: Task, ready: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        step = self.steps[task.step]
        if task.action in (Action.MANUAL_DECLARE, Action.MANUAL_APPROVE, Action.WAIT):
            seconds = task.ops[0].seconds or 0.0
            return ready + seconds, mask.copy()
        if isinstance(step, IsolateStep):
            return self.isolate(task, step, ready, mask)
        if isinstance(step, AsrStep):
            return self.asr(task, step, ready, mask)
        if isinstance(step, BackupStep):
            return self.backup(task, step, ready, mask)
        if isinstance(step, SnapshotCloneStep):
            return self.clone(task, step, ready, mask)
        if isinstance(step, ImageDeployStep):
            return self.deploy(task, step, ready, mask)
        if isinstance(step, CheckBootStep):
            return self.check_boot(task, ready, mask)
        if isinstance(step, CheckCanaryStep):
            return self.check_canary(task, step, ready, mask)
        raise AssertionError(f"the fast model has no action {task.action}")  # pragma: no cover - fast_support refuses it

    def _timeout(self, task: Task) -> float:
        step = self.steps[task.step]
        return step.timeout.total_seconds() if step.timeout is not None else math.inf

    def backoff(self, attempt: int) -> np.ndarray:
        base = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
        return base * self.rng.uniform(0.5, 1.0, self.trials)

    def slot_op(self, ready: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.slots.take(ready, mask)

    # ----------------------------------------------------------------------------------- network

    def isolate(self, task: Task, step: IsolateStep, ready: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        region = step.with_.region
        start, slot = self.slot_op(ready, mask)
        name = self.created_name(step.id)  # actions.CloudActions._make_network's name
        vnet = resource_id(DRILL_GROUP, ResourceKind.NETWORK, name)
        created = self.admitted(region, WRITE, start, mask) + self.keyed(self.catalog.compute.network_create, f"network-create/{vnet}")
        self.slots.release(slot, created, mask)
        self.make(ResourceKind.NETWORK, 0.0, created, mask, region, made_id=vnet)
        self.make(ResourceKind.NSG, 0.0, created, mask, region, made_id=resource_id(DRILL_GROUP, ResourceKind.NSG, f"{name}-nsg"))
        self.networks[step.id] = region
        verified = self.request(region, READ, created, mask)
        return verified, mask.copy()

    # ------------------------------------------------------------------------------ Site Recovery

    def replication(self, vm: VmSpec) -> dict[str, np.ndarray | float | None]:
        """The replication constants of the VM's stream (its consistency group's, shared by its members),
        per trial: the engine world's own (schedules.replication_timing with each trial's world draws)."""
        rule = self._protection(vm).site_recovery
        assert rule is not None and rule.site_recovery is not None
        sr_rule = rule.site_recovery
        stream = schedules.replication_stream(vm.name, sr_rule.consistency_group)
        if stream not in self._replication:
            sr = self.catalog.site_recovery
            members = self._streams()[stream]
            factor = churn_lag_factor(members, self.catalog)
            timings = [schedules.replication_timing(sr_rule, stream, self.catalog, d, lag_factor=factor) for d in self.world.draws]
            self.world.made += 3 * len(timings)
            self._replication[stream] = {
                "anchor": np.array([t.anchor for t in timings]),
                "interval": float(sr.crash_point_interval.sample(0.5)),
                "lag": np.array([t.lag for t in timings]),
                "processing": np.array([t.processing for t in timings]),
                "app_every": sr_rule.app_consistent_every.total_seconds() if sr_rule.app_consistent_every is not None else None,
                "retention": sr_rule.retention.total_seconds(),
            }
        return self._replication[stream]

    def _protection(self, vm: VmSpec) -> Protection:
        found = self._protections.get(vm.name)
        if found is None:
            found = self._protections[vm.name] = protection_of(self.plan, vm.name, vm.tags)
        return found

    def _streams(self) -> dict[str, list[VmSpec]]:
        """The replicated VMs of each replication stream (a consistency group's members, or one VM)."""
        if self._stream_members is None:
            self._stream_members = {}
            for v in self.estate.vms:
                r = self._protection(v).site_recovery
                if r is not None and r.site_recovery is not None:
                    self._stream_members.setdefault(schedules.replication_stream(v.name, r.site_recovery.consistency_group), []).append(v)
        return self._stream_members

    def _replication_limit(self, vm: VmSpec, at: np.ndarray) -> np.ndarray:
        """The newest processed point's bound at `at` (seconds from the incident): data that reached the
        target and was processed (for a VM the incident destroyed, no later than it stopped, less the lag)."""
        timing = self.replication(vm)
        lag, processing = timing["lag"], timing["processing"]
        assert isinstance(lag, np.ndarray) and isinstance(processing, np.ndarray)
        limit = at - lag - processing
        return np.minimum(limit, -lag) if vm.name in self.destroyed else limit

    def _grid_below(self, vm: VmSpec, every: float, upto: np.ndarray) -> np.ndarray:
        """The newest instant of the stream's grid of period `every` at or before `upto` (seconds from the incident)."""
        anchor_abs = self.replication(vm)["anchor"]
        assert isinstance(anchor_abs, np.ndarray)
        anchor = anchor_abs - self.incident_abs
        return anchor + np.floor((upto - anchor) / every + 1e-9) * every

    def _bucket_keeps(self, vm: VmSpec, point: np.ndarray, at: np.ndarray, limit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The point Site Recovery's pruning keeps at `at` in the hour bucket of `point` (a point older
        than the recent window, drsim.cloud.sim.schedules.replication_points): the bucket's newest
        app-consistent point when it has one, else its newest crash-consistent point; and whether the
        kept one is app-consistent. Buckets are aligned in absolute time (seconds since the canary epoch)."""
        timing = self.replication(vm)
        sr = self.catalog.site_recovery
        bucket = float(sr.pruning_bucket.sample(0.5))
        recent = float(sr.pruning_recent.sample(0.5))
        interval = float(timing["interval"])  # type: ignore[arg-type]
        oldest = at - float(timing["retention"])  # type: ignore[arg-type]
        start = np.floor((point + self.incident_abs) / bucket) * bucket - self.incident_abs
        end = np.minimum(np.minimum(start + bucket, at - recent), limit + 1e-6)
        kept = self._grid_below(vm, interval, end - 1e-6)
        is_app = np.zeros(self.trials, bool)
        app_every = timing["app_every"]
        if app_every is not None:
            app = self._grid_below(vm, float(app_every), end - 1e-6)
            is_app = (app >= start - 1e-6) & (app <= limit) & (app > oldest)
            kept = np.where(is_app, app, kept)
        return kept, is_app

    def replication_point(self, vm: VmSpec, choice: ReplicationPointChoice, at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The point a choice picks at `at` (seconds from the incident): its time, whether it is
        app-consistent, and whether it is processed (nan time: no such point). Pruning as the world's:
        every point of the last 2 h is kept, then one per hour (its app-consistent one when it has
        one), so the newest point of a stream that stopped more than 2 h ago may be an older one."""
        timing = self.replication(vm)
        interval = float(timing["interval"])  # type: ignore[arg-type]
        lag = timing["lag"]
        assert isinstance(lag, np.ndarray)
        limit = self._replication_limit(vm, at)
        stop_at = np.minimum(at, 0.0) if vm.name in self.destroyed else at
        pending = stop_at - lag
        oldest = at - float(timing["retention"])  # type: ignore[arg-type]
        recent = float(self.catalog.site_recovery.pruning_recent.sample(0.5))
        crash = self._grid_below(vm, interval, limit)
        app_every = timing["app_every"]
        is_app = np.zeros(self.trials, bool)
        if app_every is not None:
            every = float(app_every)
            app = self._grid_below(vm, every, limit)
            is_app = np.isclose(app, crash, atol=1e-6)
        else:
            app = np.full(self.trials, np.nan)
        pruned = crash < at - recent - 1e-6  # out of the recent window: its hour bucket keeps one point
        if pruned.any():
            kept, kept_app = self._bucket_keeps(vm, crash, at, limit)
            crash = np.where(pruned, kept, crash)
            is_app = np.where(pruned, kept_app, is_app)
        exists = crash > oldest
        processed = np.ones(self.trials, bool)
        if choice is ReplicationPointChoice.LATEST:
            time = np.where(~exists | (pending > crash), pending, crash)
            processed = ~(~exists | (pending > crash))
            return time, np.where(processed, is_app, False), processed
        if choice is ReplicationPointChoice.LATEST_APP_CONSISTENT:
            ok = np.isfinite(app) & (app > oldest)
            return np.where(ok, app, np.nan), np.ones(self.trials, bool), processed
        return np.where(exists, crash, np.nan), is_app, processed

    def replication_point_exists(self, vm: VmSpec, point: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Whether a point chosen earlier still exists at `at` (retention and pruning; nan: none)."""
        timing = self.replication(vm)
        limit = self._replication_limit(vm, at)
        recent = float(self.catalog.site_recovery.pruning_recent.sample(0.5))
        safe = np.where(np.isfinite(point), point, 0.0)
        alive = np.isfinite(point) & (safe > at - float(timing["retention"]))  # type: ignore[arg-type]
        old = alive & (safe < at - recent - 1e-6)
        if old.any():
            kept, _ = self._bucket_keeps(vm, safe, at, limit)
            alive &= ~old | np.isclose(kept, safe, atol=1e-3)
        return alive

    def job_attempts(
        self,
        task: Task,
        ready: np.ndarray,
        ask: np.ndarray,
        mask: np.ndarray,
        submit: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]],
    ) -> Generator[np.ndarray, None, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]]:
        """The attempts at a task whose slot operation starts a job and follows it (a restore, a test failover).

        Each attempt waits for a slot (from `ask`), starts a job unless one is still running from a
        timed-out attempt (then it follows that one, as the engine does: the job id survives), and reads
        it every 30 s until it ends. An attempt ends at its step timeout (counted from the task's start
        for the first, which also made the calls before the slot, from the retry for the others), or
        when its job failed (`submit` says which fail: capacity); both are retried after the engine's
        backoff while retries remain. `submit(start, mask)` starts jobs: (submitted, ends, fails, refused,
        info); a refused start (its recovery point pruned meanwhile: NotFoundError) fails the task at once,
        unretried, its slot given back when the refusal returns.
        Returns the task's end, success, when the job's end was seen, when the job ended, the info
        of the job that succeeded, and when a job the task stopped following ends (nan: none; cleanup
        waits for it). A retry yields when it asks for its slot again (the wave's scheduler decides
        when it gets one, behind the requests that asked before it)."""
        n = self.trials
        step = self.steps[task.step]
        timeout = self._timeout(task)
        deadline = ready + timeout
        live = mask.copy()
        job_ends = np.full(n, np.nan)
        job_bad = np.zeros(n, bool)
        info: dict[str, np.ndarray] = {}
        kept: dict[str, np.ndarray] = {}
        ok = np.zeros(n, bool)
        end = ready.copy()
        seen_ok = np.full(n, np.nan)
        ends_ok = np.full(n, np.nan)
        for attempt in range(1, step.retries + 2):
            if not live.any():
                break
            if attempt > 1:
                yield np.where(live, ask, np.nan)
            start, slot = self.slot_op(ask, live)
            waited_out = live & (start >= deadline)  # cancelled while waiting for a slot
            got = live & ~waited_out
            first_read = start.copy()
            new = got & np.isnan(job_ends)
            refused = np.zeros(n, bool)
            if new.any():
                submitted, ends, bad, refused, found = submit(start, new)
                refused &= new
                if refused.any():  # the refusal returns at once: the slot is given back, the task has failed
                    self.job_refused[task.id] = self.job_refused.get(task.id, np.zeros(n, bool)) | refused
                    self.slots.release(slot, submitted, refused)
                    end = np.where(refused, submitted, end)
                    got &= ~refused
                    new &= ~refused
                job_ends = np.where(new, ends, job_ends)
                job_bad = np.where(new, bad, job_bad)
                first_read = np.where(new, submitted, start)
                for key, value in found.items():
                    info[key] = np.where(new, value, info[key]) if key in info else value
            seen = self.polls(first_read, np.where(got, job_ends, first_read))
            over = got & (seen > deadline)
            self.timed_out |= waited_out | over
            self.timeouts += waited_out | over
            self.slots.release(slot, np.where(over, deadline, seen), got)
            success = got & ~over & ~job_bad
            failed_job = got & ~over & job_bad
            ok |= success
            end = np.where(success, seen, end)
            seen_ok = np.where(success, seen, seen_ok)
            ends_ok = np.where(success, job_ends, ends_ok)
            for key, value in info.items():
                kept[key] = np.where(success, value, kept[key]) if key in kept else value
            job_ends = np.where(failed_job, np.nan, job_ends)  # a failed job is over: the retry starts a new one
            job_bad = np.where(failed_job, False, job_bad)
            stopped = np.where(waited_out | over, deadline, seen)
            retry = waited_out | over | failed_job
            if attempt > step.retries:
                end = np.where(retry, stopped, end)
                self.job_gave_up[task.id] = (waited_out | over, failed_job)  # why the task failed (compare.fast_causes)
                break
            ask = np.where(retry, stopped + self.backoff(attempt), ask)
            deadline = ask + timeout
            live = retry
        unfinished = np.where(mask & ~ok & ~job_bad, job_ends, np.nan)
        return end, ok, seen_ok, ends_ok, kept, unfinished

    def asr(self, task: Task, step: AsrStep, ready: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _finish(self.asr_steps(task, step, ready, mask))

    def asr_steps(
        self, task: Task, step: AsrStep, ready: np.ndarray, mask: np.ndarray
    ) -> Generator[np.ndarray, None, tuple[np.ndarray, np.ndarray]]:
        """A test failover: it yields when it asks for its slot (after finding the point)."""
        assert task.vm is not None
        vm = self.vms[task.vm]
        rule = protection_of(self.plan, vm.name, vm.tags).site_recovery
        assert rule is not None and rule.site_recovery is not None
        target = rule.site_recovery.target_region
        region = self.networks.get(step.with_.network, target)
        sr = self.catalog.site_recovery
        choice = step.with_.recovery_point
        n = self.trials
        ask = ready
        point: np.ndarray | None = None
        app: np.ndarray = np.zeros(n, bool)
        processed: np.ndarray = np.ones(n, bool)
        ok = mask.copy()
        if choice is not ReplicationPointChoice.LATEST:
            found = self.request(target, READ, ready, mask)
            pick = ReplicationPointChoice.LATEST_PROCESSED if choice is ReplicationPointChoice.LATEST_MULTI_VM_PROCESSED else choice
            point, app, processed = self.replication_point(vm, pick, found)
            if choice is ReplicationPointChoice.LATEST_MULTI_VM_PROCESSED:
                group = rule.site_recovery.consistency_group
                if group is None:
                    point = np.full(n, np.nan)
                else:
                    fixed = self._group_instants.setdefault(group, (point, app))
                    point, app = fixed
                    # The group's instant, fixed by the first member to look: pruned since, no point (NotFoundError).
                    point = np.where(self.replication_point_exists(vm, point, found), point, np.nan)
            ok = mask & np.isfinite(point)
            ask = found
        yield ask
        capacity = float(sr.capacity_failure_probability.sample(0.5))
        vm_id = self.production_vm(vm.name)

        def submit(start: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
            submitted = self.admitted(target, WRITE, start, new)
            refused = np.zeros(n, bool)
            if point is None:  # latest: the pending data, processed first
                pt_now, app_now, processed_now = self.replication_point(vm, ReplicationPointChoice.LATEST, submitted)
            else:
                # The point found before the slot: pruned meanwhile, the test failover is refused (NotFoundError).
                pt_now, app_now, processed_now = point, app, processed
                refused = new & ~self.replication_point_exists(vm, point, submitted)
            began = new & ~refused
            if vm.name not in self.tf_started:
                self.test_failovers.append(vm.name)
                self.tf_started[vm.name] = np.where(began, submitted, np.nan)
            else:
                self.tf_started[vm.name] = np.where(began & np.isnan(self.tf_started[vm.name]), submitted, self.tf_started[vm.name])
            # The world's draws of this test failover (cloud.sim.siterecovery): keyed by the VM and its count.
            count = self.bump(f"failover:{vm_id}", new)
            pending = quantiles(sr.pending_processing, self.counted(f"asr-pending/{vm_id}", count, new & ~processed_now))
            seconds = quantiles(sr.test_failover, self.counted(f"asr-failover/{vm_id}", count, new)) + np.where(processed_now, 0.0, pending)
            short = (capacity > 0) & (self.counted(f"asr-capacity/{vm_id}", count, new) < capacity)
            return submitted, submitted + seconds, short, refused, {"point": pt_now, "app": app_now.astype(float)}

        end, good, seen, ends, info, unfinished = yield from self.job_attempts(task, ready, ask, ok, submit)
        self._unfinished_failovers[vm.name] = unfinished
        failed = mask & ~good
        self.fails(task, mask & ~ok, Why.NO_REPLICATION_POINT)
        refused = failed & self.job_refused.get(task.id, np.zeros(n, bool))
        if refused.any() and point is not None:
            self.fails(task, refused, Why.POINT_PRUNED)
            self.why_point[task.id] = point
        timed_out, job_failed = self.job_gave_up.get(task.id, (np.zeros(n, bool), np.zeros(n, bool)))
        self.fails(task, failed & timed_out, Why.TIMEOUT)
        self.fails(task, failed & job_failed, Why.CAPACITY)  # the only way a test failover job fails in the simulated world
        end = np.where(mask & ~ok, ask, end)
        test_vm = resource_id(DRILL_GROUP, ResourceKind.VM, f"{vm.name}-test")  # cloud.sim.siterecovery's name
        booted = np.where(good, ends + self._boot(vm, test_vm, generalized=False), np.inf)
        self.recovered_ids[vm.name] = test_vm
        self.make(ResourceKind.VM, self.price(ResourceKind.VM, vm), seen, good, region, asr_vm=vm.name)
        for disk in vm.disks:
            self.make(ResourceKind.DISK, self.price(ResourceKind.DISK, vm, disk), seen, good, region, asr_vm=vm.name)
        pt = info.get("point", np.full(n, np.nan))
        ptapp = info.get("app", np.zeros(n)) > 0.5
        instants = np.zeros((n, len(vm.disks)))
        corrupted = np.zeros(n, bool)
        for i in range(len(vm.disks)):
            instants[:, i], corrupted_i = self.capture(vm.name, np.where(np.isfinite(pt), pt, 0.0), ptapp)
            corrupted |= corrupted_i
        self.recovered[vm.name] = Recovery(booted, instants, corrupted & good, np.where(good, pt, np.nan))
        return np.where(mask, end, ready), good & ~failed

    # ------------------------------------------------------------------------------- Azure Backup

    def backups(self, vm: VmSpec) -> BackupJobs:
        """The VM's scheduled backup jobs around each trial's incident (drawn as backup_point needs them)."""
        if vm.name in self._backups:
            return self._backups[vm.name]
        rule = self._protection(vm).backup
        assert rule is not None and rule.backup is not None
        b = rule.backup
        offsets = [_epoch_seconds(t) for t in schedules.backup_slots(b, CANARY_EPOCH)]
        # From `days_back` policy days before the incident's to the day after it (a listing after midnight).
        days_back = 3 + int(b.snapshot_days > 0)
        columns = (days_back + 2) * len(offsets)
        key = (float(days_back), *offsets)
        grid = self._job_grids.get(key)
        if grid is None:  # the jobs' scheduled times relative to the incident, [trials, columns] (shared by VMs)
            first_day = np.floor(self.incident_abs / DAY_S) - days_back
            day, index = np.divmod(np.arange(columns), len(offsets))
            absolute = (first_day[:, None] + day[None, :]) * DAY_S + np.array(offsets)[index][None, :]
            grid = self._job_grids[key] = absolute - self.incident_abs[:, None]
        found = self._backups[vm.name] = BackupJobs(b, vm.name, offsets, grid)
        return found

    def _job_field(self, jobs: BackupJobs, name: str, rows: np.ndarray, column: int) -> np.ndarray:
        """One field of job `column` in trials `rows`, drawn where it is not yet (the world's keyed draws)."""
        fields = jobs.fields.setdefault(column, {})
        values = fields.get(name)
        if values is None:
            values = fields[name] = np.full(self.trials, np.nan)
        missing = rows[np.isnan(values[rows])]
        if len(missing):
            timings = self.catalog.backup
            scheduled = jobs.grid[missing, column] + self.incident_abs[missing]  # since the canary epoch
            iso = self.world.iso
            phase, dist = {
                "taken": (schedules.BACKUP_JITTER, timings.schedule_jitter),
                "usable": (schedules.BACKUP_SNAPSHOT, timings.snapshot_phase),
                "vault": (schedules.BACKUP_TRANSFER, timings.transfer_phase),
                "crr": (schedules.BACKUP_CRR, timings.crr_lag),
            }[name]
            to_vault = schedules.backup_to_vault(jobs.rule, column % jobs.per_day, jobs.per_day)
            if (name == "vault" and not to_vault) or (name == "crr" and not (to_vault and jobs.rule.cross_region_restore)):
                values[missing] = np.inf
                return values[rows]
            vm = jobs.vm
            drawn = quantiles(dist, self.world.units_keyed(missing, scheduled, lambda t: schedules.backup_draw_key(phase, vm, iso(t))))
            if name == "taken":
                values[missing] = scheduled - self.incident_abs[missing] + drawn
            elif name == "usable":
                values[missing] = self._job_field(jobs, "taken", missing, column) + drawn
            elif name == "vault":
                values[missing] = self._job_field(jobs, "usable", missing, column) + drawn
            else:
                taken = self._job_field(jobs, "taken", missing, column)
                values[missing] = np.maximum(self._job_field(jobs, "vault", missing, column), taken + drawn)
        return values[rows]

    def backup_point(
        self, vm: VmSpec, choice: BackupPointChoice, tier: BackupTier, cross: bool, at: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The point chosen at `at`: its time (nan: none) and whether the restore uses the snapshot tier.

        As the world lists them (schedules.BackupHistory.newest_first), newest job first: a trial's walk
        stops at the newest point the choice can use once no older job can have been taken after it."""
        n = self.trials
        point = np.full(n, np.nan)
        use_snapshot = np.zeros(n, bool)
        if choice is BackupPointChoice.LATEST_APP_CONSISTENT and not self._app_consistent_backup(vm):
            return point, use_snapshot
        jobs = self.backups(vm)
        b = jobs.rule
        jitter_low, jitter_high = _bounds(self.catalog.backup.schedule_jitter)
        limit = np.minimum(at, 0.0) if vm.name in self.destroyed else at.copy()
        if choice is BackupPointChoice.BEFORE_INCIDENT:
            limit = np.minimum(limit, 0.0)
        # The newest job that can have been taken before the limit.
        column = np.sum(jobs.grid + jitter_low < limit[:, None], axis=1) - 1
        live = column >= 0
        snapshot_s, retention_s = b.snapshot_days * DAY_S, b.retention_days * DAY_S
        while live.any():
            for c in np.unique(column[live]).tolist():
                rows = np.flatnonzero(live & (column == c))
                now = at[rows]
                taken = self._job_field(jobs, "taken", rows, c)
                exists = (taken < limit[rows]) & (taken + retention_s > now)
                snap = np.zeros(len(rows), bool)
                if not cross and tier is not BackupTier.VAULT:
                    usable = np.full(len(rows), np.inf)
                    usable[exists] = self._job_field(jobs, "usable", rows[exists], c)
                    snap = exists & (usable <= now) & (now < taken + snapshot_s)
                ok = snap.copy()
                ask = exists & ~snap
                if cross:
                    crr = np.full(len(rows), np.inf)
                    crr[ask] = self._job_field(jobs, "crr", rows[ask], c)
                    ok |= ask & (crr <= now)
                elif tier is not BackupTier.SNAPSHOT:
                    vault = np.full(len(rows), np.inf)
                    vault[ask] = self._job_field(jobs, "vault", rows[ask], c)
                    ok |= ask & (vault <= now) & (now < taken + retention_s)
                newer = ok & ~(point[rows] >= taken)
                point[rows] = np.where(newer, taken, point[rows])
                use_snapshot[rows] = np.where(newer, snap, use_snapshot[rows])
                # Done when no older job can have been taken after the point found.
                older = jobs.grid[rows, max(c - 1, 0)] + jitter_high
                live[rows] = (c > 0) & ~(point[rows] >= older)
                column[rows] = c - 1
        return point, use_snapshot & np.isfinite(point)

    @staticmethod
    def _app_consistent_backup(vm: VmSpec) -> bool:
        return vm.os is OsType.WINDOWS  # a running Windows VM's points are app-consistent (schedules.backup_consistency)

    def backup(self, task: Task, step: BackupStep, ready: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _finish(self.backup_steps(task, step, ready, mask))

    def backup_steps(
        self, task: Task, step: BackupStep, ready: np.ndarray, mask: np.ndarray
    ) -> Generator[np.ndarray, None, tuple[np.ndarray, np.ndarray]]:
        """A restore: it yields when it asks for its slot (after listing the points)."""
        assert task.vm is not None
        vm = self.vms[task.vm]
        w = step.with_
        n = self.trials
        cross = w.region is not None and w.region != vm.region
        list_region = w.region if cross and w.region is not None else vm.region
        region = w.region or vm.region
        backup = self.catalog.backup
        found = self.request(list_region, READ, ready, mask)
        point, _ = self.backup_point(vm, w.point, w.tier, cross, found)
        vm_id = self.production_vm(vm.name)
        ok = mask & np.isfinite(point)  # no point: NotFoundError, not retried
        yield found

        def submit(start: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
            # The point is chosen again as the restore starts (actions.CloudActions._backup).
            listed = self.request(list_region, READ, start, new)
            chosen, snapshot_tier = self.backup_point(vm, w.point, w.tier, cross, listed)
            submitted = self.admitted(region, WRITE, listed, new)
            # The world's draws of this restore (cloud.sim.backup): keyed by the VM and its count of restores.
            count = self.bump(f"restore:{vm_id}", new)
            units = self.counted(f"restore/{vm_id}", count, new)
            rate = quantiles(backup.restore_vault_throughput_mbps, self.counted(f"restore-rate/{vm_id}", count, new))
            seconds = np.where(
                snapshot_tier,
                quantiles(backup.restore_snapshot_tier, units),
                quantiles(backup.restore_vault_base, units) + vm.used_gib * MIB_PER_GIB / rate,
            )
            return submitted, submitted + seconds, np.zeros(n, bool), np.zeros(n, bool), {"point": chosen}

        end, good, seen, ends, info, unfinished = yield from self.job_attempts(task, ready, found, ok, submit)
        self._unfinished_restores.append((vm, task.step, region, unfinished))
        end = np.where(mask & ~ok, found, end)
        self.fails(task, mask & ~ok, Why.NO_BACKUP_POINT)
        timed_out, _ = self.job_gave_up.get(task.id, (np.zeros(n, bool), np.zeros(n, bool)))
        self.fails(task, ok & ~good & timed_out, Why.TIMEOUT)  # a restore job does not fail in the simulated world
        point = np.where(good, info.get("point", point), point)
        self.fails(task, good & ~np.isfinite(point), Why.NO_BACKUP_POINT)  # none left when the restore started
        good &= np.isfinite(point)
        name = self.created_name(vm.name, task.step)  # actions.CloudActions._backup's name
        restored = resource_id(DRILL_GROUP, ResourceKind.VM, name)
        booted = np.where(good, ends + self._boot(vm, restored, generalized=False), np.inf)
        self.recovered_ids[vm.name] = restored
        self.make(ResourceKind.VM, self.price(ResourceKind.VM, vm), seen, good, region, made_id=restored)
        for disk, disk_id in zip(vm.disks, self._made_disks(vm, name), strict=True):
            self.make(ResourceKind.DISK, self.price(ResourceKind.DISK, vm, disk), seen, good, region, made_id=disk_id)
        flushed = self._app_consistent_backup(vm)
        instants = np.zeros((n, len(vm.disks)))
        corrupted = np.zeros(n, bool)
        safe = np.where(np.isfinite(point), point, 0.0)
        for i in range(len(vm.disks)):
            instants[:, i], c = self.capture(vm.name, safe, flushed)
            corrupted |= c
        self.recovered[vm.name] = Recovery(booted, instants, corrupted & good, np.where(good, point, np.nan))
        return np.where(mask, end, ready), good

    # ----------------------------------------------------------------------------- snapshot clone

    def scheduled_snapshot(self, vm: VmSpec, disk: DiskSpec, at: np.ndarray) -> np.ndarray:
        """The newest retained scheduled snapshot of a disk taken by `at` (seconds from the incident; nan:
        none), at the instants of the engine world's draws (schedules.snapshot_schedule's slots, newest
        first: a trial's walk stops once no older slot can have been taken after the one found)."""
        rule = self._protection(vm).snapshots
        assert rule is not None and rule.snapshots is not None
        s = rule.snapshots
        start = s.at.hour * 3600 + s.at.minute * 60 if s.at is not None else 0
        every = s.every.total_seconds()
        dist = self.catalog.snapshots.scheduled_spread
        spread_high = _bounds(dist)[1]
        disk_key = production_disk_id(self.estate.name, vm.name, disk.name)
        destroyed = vm.name in self.destroyed
        end = np.minimum(at, 0.0) if destroyed else at
        last = np.floor((self.incident_abs + end - start) / every)
        best = np.full(self.trials, np.nan)
        live = np.ones(self.trials, bool)
        for back in range(s.retain + 2):  # the slots schedules.snapshot_schedule looks at
            rows = np.flatnonzero(live)
            if not len(rows):
                break
            index = last[rows] - back
            spread = quantiles(dist, self.world.units_keyed(rows, index, lambda i: schedules.snapshot_spread_key(disk_key, int(i))))
            taken = start + index * every + spread - self.incident_abs[rows]
            fine = (taken <= at[rows]) & ((taken < 0.0) if destroyed else True)
            newer = fine & ~(best[rows] >= taken)
            best[rows] = np.where(newer, taken, best[rows])
            older = start + (index - 1) * every + spread_high - self.incident_abs[rows]
            live[rows] = ~(best[rows] >= older)
        return best

    def clone(self, task: Task, step: SnapshotCloneStep, ready: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _finish(self.clone_steps(task, step, ready, mask))

    def clone_steps(
        self, task: Task, step: SnapshotCloneStep, ready: np.ndarray, mask: np.ndarray
    ) -> Generator[np.ndarray, None, tuple[np.ndarray, np.ndarray]]:
        """A snapshot clone one operation at a time: it yields when each slot operation asks for a slot
        (the times, per trial), so that the wave's scheduler can interleave its requests with other
        tasks' as the engine's queue would."""
        assert task.vm is not None
        vm = self.vms[task.vm]
        n = self.trials
        region = self.networks.get(step.with_.network, vm.region)
        made_vm = self.created_id(ResourceKind.VM, vm.name, task.step)  # actions.CloudActions' name for it
        snaps = self.catalog.snapshots
        finish: dict[str, np.ndarray] = {}
        instants = np.zeros((n, len(vm.disks)))
        corrupted = np.zeros(n, bool)
        taken_at = np.full((n, len(vm.disks)), np.nan)
        index = {d.name: i for i, d in enumerate(vm.disks)}
        ok = mask.copy()
        for op in task.ops:
            op_ready = ready.copy()
            for need in op.needs:
                op_ready = np.maximum(op_ready, finish[need])
            if op.kind.holds_slot:
                yield op_ready  # when it asks for a slot: the wave's scheduler decides when it gets one
            disk = vm.disks[index[op.disk]] if op.disk is not None else None
            if op.kind is OpKind.SNAPSHOT and (vm.name in self.destroyed or vm.region == self.outage):
                # The incident took the disk (deleted, lost, or its region down): the world refuses the
                # snapshot at once (NotFoundError, not retried) and the task fails.
                start, slot = self.slot_op(op_ready, ok)
                self.slots.release(slot, start, ok)
                end = start
                self._clone_fails(task, ok, Why.DISK_GONE, index[op.disk or ""])
                ok = np.zeros(n, bool)
            elif op.kind is OpKind.SNAPSHOT:
                assert disk is not None
                start, slot = self.slot_op(op_ready, ok)
                owed = self.admitted(vm.region, WRITE, start, ok)
                # The world's draws of this snapshot (cloud.sim.compute): keyed by the disk and its count.
                source = production_disk_id(self.estate.name, vm.name, disk.name)
                count = self.bump(source, ok)
                taken = owed + quantiles(snaps.capture_latency, self.counted(f"snapshot-capture/{source}", count, ok))
                end = taken + quantiles(snaps.create, self.counted(f"snapshot-create/{source}", count, ok))
                self.slots.release(slot, end, ok)
                i = index[disk.name]
                instants[:, i], c = self.capture(vm.name, taken, False)
                corrupted |= c
                taken_at[:, i] = taken
                snap_id = self.created_id(ResourceKind.SNAPSHOT, vm.name, disk.name, "snap")
                self.make(ResourceKind.SNAPSHOT, self.price(ResourceKind.SNAPSHOT, vm, disk), end, ok, vm.region, made_id=snap_id)
            elif op.kind is OpKind.FIND_SNAPSHOT:
                assert disk is not None
                end = self.request(self.estate.regions.primary, READ, op_ready, ok)
                taken = self.scheduled_snapshot(vm, disk, end)
                self._clone_fails(task, ok & ~np.isfinite(taken), Why.NO_SCHEDULED_SNAPSHOT, index[disk.name])
                ok &= np.isfinite(taken)
                i = index[disk.name]
                safe = np.where(np.isfinite(taken), taken, 0.0)
                instants[:, i], c = self.capture(vm.name, safe, False)
                corrupted |= c
                taken_at[:, i] = taken
            elif op.kind is OpKind.COPY_SNAPSHOT:
                assert disk is not None
                start, slot = self.slot_op(op_ready, ok)
                submitted = self.request(region, WRITE, start, ok)
                if not any(o.kind is OpKind.SNAPSHOT and o.disk == disk.name for o in task.ops):
                    # A scheduled snapshot's copy: its draws are keyed by that snapshot's id, not followed here.
                    seconds = self.draw(snaps.copy_base, n) + disk.used_gib * MIB_PER_GIB / self.draw(snaps.copy_throughput_mbps, n)
                else:  # the copy of the snapshot this task took: the world's draws for it
                    snap_id = self.created_id(ResourceKind.SNAPSHOT, vm.name, disk.name, "snap")
                    rate = self.keyed(snaps.copy_throughput_mbps, f"copy-rate/{snap_id}/{region}/0")
                    seconds = self.keyed(snaps.copy_base, f"copy/{snap_id}/{region}/0") + disk.used_gib * MIB_PER_GIB / rate
                end = submitted + seconds
                self.slots.release(slot, end, ok)
                copy_id = self.created_id(ResourceKind.SNAPSHOT, vm.name, disk.name, "copy")
                self.make(ResourceKind.SNAPSHOT, self.price(ResourceKind.SNAPSHOT, vm, disk), end, ok, region, made_id=copy_id)
            elif op.kind is OpKind.CREATE_DISK:
                assert disk is not None
                start, slot = self.slot_op(op_ready, ok)
                disk_id = self.created_id(ResourceKind.DISK, vm.name, disk.name)
                end = self.admitted(region, WRITE, start, ok) + self.keyed(self.catalog.compute.disk_create, f"disk-create/{disk_id}")
                self.slots.release(slot, end, ok)
                self.make(ResourceKind.DISK, self.price(ResourceKind.DISK, vm, disk), end, ok, region, made_id=disk_id)
            else:  # create-vm
                start, slot = self.slot_op(op_ready, ok)
                end = self.admitted(region, WRITE, start, ok) + self._create(vm.os, made_vm)
                self.slots.release(slot, end, ok)
                self.make(ResourceKind.VM, self.price(ResourceKind.VM, vm), end, ok, region, made_id=made_vm)
            finish[op.id] = np.where(ok, end, op_ready)
            if self.trace is not None:
                self.trace.append((task.id, op.id, float(op_ready[0]), float(end[0])))
        end = finish[task.ops[-1].id]
        timeout = self._timeout(task)
        in_time = end <= ready + timeout
        self.timed_out |= ok & ~in_time
        self.fails(task, ok & ~in_time, Why.TIMEOUT)
        good = ok & in_time
        end = np.where(ok & ~in_time, ready + timeout, end)
        booted = np.where(good, end + self._boot(vm, made_vm, generalized=False), np.inf)
        self.recovered_ids[vm.name] = made_vm
        oldest = np.min(np.where(np.isnan(taken_at), np.inf, taken_at), axis=1) if taken_at.size else np.full(n, np.inf)
        oldest = np.where(np.isfinite(oldest), oldest, np.nan)
        self.recovered[vm.name] = Recovery(booted, instants, corrupted & good, np.where(good, oldest, np.nan))
        return np.where(mask, end, ready), good

    # ------------------------------------------------------------------------------------ images

    def deploy(self, task: Task, step: ImageDeployStep, ready: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert task.vm is not None
        w = step.with_
        golden = self.vms[w.image_of]
        vm = self.vms.get(task.vm, golden)
        n = self.trials
        found = self.request(self.estate.regions.primary, READ, ready, mask)
        start, slot = self.slot_op(found, mask)
        image = self._image_slots.setdefault(f"{w.image_of}@{w.region}", Slots(n, MAX_IMAGE_DEPLOYMENTS))
        start2, image_slot = image.take(start, mask)
        name = self.created_name(task.vm.replace("#", "-"), task.step)  # actions.CloudActions' name
        deployed = resource_id(DRILL_GROUP, ResourceKind.VM, name)
        end = self.admitted(w.region, WRITE, start2, mask) + self._create(golden.os, deployed)
        image.release(image_slot, end, mask)
        self.slots.release(slot, end, mask)
        timeout = self._timeout(task)
        good = mask & (end <= ready + timeout)
        self.timed_out |= mask & ~good
        self.fails(task, mask & ~good, Why.TIMEOUT)
        end = np.where(mask & ~good, ready + timeout, end)
        self.make(ResourceKind.VM, self.price(ResourceKind.VM, vm), end, good, w.region, made_id=deployed)
        for disk, disk_id in zip(golden.disks, self._made_disks(golden, name), strict=True):
            self.make(ResourceKind.DISK, self.price(ResourceKind.DISK, golden, disk), end, good, w.region, made_id=disk_id)
        booted = np.where(good, end + self._boot(golden, deployed, generalized=True), np.inf)
        self.recovered_ids[task.vm] = deployed
        # The image holds the golden VM's data as captured (flushed) when it stopped writing.
        stopped = -float(self.catalog.workload.stopped_for.sample(0.5)) if golden.power.value != "running" else 0.0
        instants = np.full((n, len(golden.disks)), stopped)
        self.recovered[task.vm] = Recovery(booted, instants, np.zeros(n, bool), np.full(n, np.nan))
        return np.where(mask, end, ready), good

    # ------------------------------------------------------------------------------------ checks

    def _boot(self, vm: VmSpec, vm_id: str, *, generalized: bool) -> np.ndarray:
        """How long the recovered VM (its id: created_id) takes to boot: the world's draw for it."""
        c = self.catalog.compute
        windows = vm.os is OsType.WINDOWS
        if generalized:
            dist = c.boot_generalized_windows if windows else c.boot_generalized_linux
        else:
            dist = c.boot_specialized_windows if windows else c.boot_specialized_linux
        return self.keyed(dist, f"vm-boot/{vm_id}")

    def _create(self, os: OsType, vm_id: str) -> np.ndarray:
        """How long creating the VM (its id: created_id) takes: the world's draw for it."""
        c = self.catalog.compute
        return self.keyed(c.vm_create_windows if os is OsType.WINDOWS else c.vm_create_linux, f"vm-create/{vm_id}")

    def check_boot(self, task: Task, ready: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert task.vm is not None
        n = self.trials
        rec = self.recovered.get(task.vm)
        if rec is None:
            out = CheckOutcome(np.zeros(n, bool), np.zeros(n, bool), np.full(n, np.nan), canary=False)
            self.checks[task.id] = out
            self.fails(task, mask, Why.NOT_RECOVERED)
            return ready, np.zeros(n, bool)
        live = mask & np.isfinite(rec.booted_at)
        region = self._recovered_region(task.vm)
        first = self.request(region, READ, ready, live)
        booted = rec.booted_at
        late = live & (booted > first)
        # Later reads every BOOT_POLL_S s (plus a round trip each) until one sees the VM booted.
        passed_at = np.where(late, self.polls(first + BOOT_POLL_S - self.latency() * 0.0, booted, BOOT_POLL_S), first)
        limit = first + (BOOT_POLLS - 1) * (BOOT_POLL_S + _mean_var(self.catalog.arm.request_latency)[0])
        passed = live & (passed_at <= limit)
        end = np.where(passed, passed_at, limit + BOOT_POLL_S)
        self.fails(task, mask & ~live, Why.NOT_RECOVERED)
        self.fails(task, live & ~passed, Why.NOT_BOOTED)
        # A check of a VM that was not recovered fails at once (CheckFailure).
        self.checks[task.id] = CheckOutcome(mask.copy(), passed, np.where(passed, passed_at, np.nan), canary=False)
        return np.where(mask, np.where(live, end, ready), ready), passed

    def run_command(self, dist: object, vm: str, where: np.ndarray) -> np.ndarray:
        """A canary read's Run Command on the VM recovered for `vm` in the trials `where`: the world's draw
        for it, keyed by the recovered VM's id and its count of canary reads (cloud.sim.compute.read_canary)."""
        count = self.bump(f"canary:{vm}", where)
        return quantiles(dist, self.counted(f"run-command/{self.recovered_ids[vm]}", count, where))

    def _recovered_region(self, vm: str) -> str:
        for made in self.made:
            if made.kind is ResourceKind.VM:
                return made.region
        return self.vms[vm].region if vm in self.vms else self.estate.regions.primary

    def check_canary(self, task: Task, step: CheckCanaryStep, ready: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert task.vm is not None
        n = self.trials
        rec = self.recovered.get(task.vm)
        if rec is None:
            self.checks[task.id] = CheckOutcome(
                np.zeros(n, bool),
                np.zeros(n, bool),
                np.full(n, np.nan),
                canary=True,
                reachable=np.zeros(n, bool),
                measured=np.full(n, np.nan),
                consistent=np.zeros(n, bool),
                corrupted=np.zeros(n, bool),
            )
            self.fails(task, mask, Why.NOT_RECOVERED)
            return ready, np.zeros(n, bool)
        vm = self.vms[task.vm]
        region = self._recovered_region(task.vm)
        needed = step.with_.consecutive
        run_command = self.catalog.compute.run_command
        consistent = np.ones(n, bool)
        volumes: list[tuple[str, np.ndarray]] = []
        for volume in vm.volumes:
            if volume.layout is VolumeLayout.STRIPED:
                cols = [i for i, d in enumerate(vm.disks) if d.name in volume.disks]
                # Consistent when every disk holds the same instant (the world's rule, cloud.sim.workload:
                # to its datetimes' microsecond), not merely since the same canary marker.
                held = rec.instants[:, cols]
                this = np.all(np.abs(held - held[:, :1]) < 5e-7, axis=1) if len(cols) > 1 else np.ones(n, bool)
                consistent &= this
                volumes.append((volume.name, ~this))
        broken = ~consistent | rec.corrupted
        t = ready.copy()
        passes = np.zeros(n, int)
        unreachable = np.zeros(n, int)
        first_pass = np.full(n, np.nan)
        live = mask.copy()
        final = np.zeros(n, bool)
        passed = np.zeros(n, bool)
        reachable_final = np.zeros(n, bool)
        end = ready.copy()
        read = 0
        while live.any() and read < needed + UNREACHABLE_READS + 2:
            read += 1
            owed = self.admitted(region, WRITE, t, live) if read == 1 else t + self.latency()
            done = owed + self.run_command(run_command, task.vm, live)
            reach = done >= rec.booted_at
            ok_read = live & reach & ~broken
            bad_read = live & reach & broken
            unr = live & ~reach
            first_pass = np.where(ok_read & (passes == 0), done, first_pass)
            passes = np.where(ok_read, passes + 1, np.where(unr, 0, passes))
            first_pass = np.where(unr, np.nan, first_pass)
            unreachable = np.where(unr, unreachable + 1, np.where(live & reach, 0, unreachable))
            fin = live & ((passes >= needed) | bad_read | (unr & (unreachable >= UNREACHABLE_READS)))
            passed |= fin & (passes >= needed)
            reachable_final |= fin & reach
            end = np.where(fin, done, end)
            final |= fin
            live &= ~fin
            t = np.where(live, done + CANARY_READ_INTERVAL_S, t)
        failing = mask & ~passed
        if failing.any():
            # As the engine's reads decide: never recovered, then corrupted or inconsistent data (a read
            # that answered), else no answer.
            self.fails(task, failing & ~np.isfinite(rec.booted_at), Why.NOT_RECOVERED)
            self.fails(task, failing & reachable_final & rec.corrupted, Why.CORRUPTED)
            self.fails(task, failing & reachable_final, Why.INCONSISTENT)
            self.fails(task, failing, Why.NO_ANSWER)
            self.why_volumes[task.id] = volumes
        newest = np.max(rec.instants, axis=1)
        marker = np.floor(newest / self.interval + 1e-9) * self.interval
        measured = np.where(reachable_final, np.maximum(0.0, -marker), np.nan)
        self.checks[task.id] = CheckOutcome(
            final & mask,
            passed,
            np.where(passed, first_pass, np.nan),
            canary=True,
            reachable=reachable_final,
            measured=measured,
            consistent=consistent,
            corrupted=rec.corrupted,
        )
        return np.where(mask, end, ready), passed

    # ----------------------------------------------------------------------------------- cleanup

    def cleanup(self, run_end: np.ndarray) -> None:
        """Cleanup as the engine's: test failovers ended one after the other, then delete waves."""
        n = self.trials
        t = run_end.copy()
        sr = self.catalog.site_recovery
        for vm, step_id, region, ends in self._unfinished_restores:
            # A restore the run stopped following (drsim.engine.cleanup): cleanup cancels its job (which
            # then ends CANCEL_SECONDS later, having created nothing) and reads it until it ends; a job
            # that ended before the cancel took refuses it, and what it made is deleted with the rest.
            waiting = np.isfinite(ends)
            if waiting.any():
                took = self.admitted(self.estate.regions.primary, WRITE, t, waiting)
                done = waiting & (ends <= took)
                t = np.where(waiting, self.polls(took, np.where(done, ends, took + CANCEL_SECONDS)), t)
                name = self.created_name(vm.name, step_id)
                restored = resource_id(DRILL_GROUP, ResourceKind.VM, name)
                self.make(ResourceKind.VM, self.price(ResourceKind.VM, vm), t, done, region, made_id=restored)
                for disk, disk_id in zip(vm.disks, self._made_disks(vm, name), strict=True):
                    self.make(ResourceKind.DISK, self.price(ResourceKind.DISK, vm, disk), t, done, region, made_id=disk_id)
        deleted_asr: dict[str, np.ndarray] = {}
        for vm_name in self.test_failovers:
            started = np.isfinite(self.tf_started[vm_name])
            vm = self.vms[vm_name]
            ends = self._unfinished_failovers.get(vm_name, np.full(n, np.nan))
            waiting = np.isfinite(ends)
            if waiting.any():  # a test failover no task saw end: waited for, and what it made recorded
                t = np.where(waiting, self.polls(t, ends), t)
                region = self.networks.get(next(iter(self.networks), ""), vm.region) if self.networks else vm.region
                self.make(ResourceKind.VM, self.price(ResourceKind.VM, vm), t, waiting, region, asr_vm=vm_name)
                for disk in vm.disks:
                    self.make(ResourceKind.DISK, self.price(ResourceKind.DISK, vm, disk), t, waiting, region, asr_vm=vm_name)
            rule = protection_of(self.plan, vm.name, vm.tags).site_recovery
            target = rule.site_recovery.target_region if rule is not None and rule.site_recovery is not None else vm.region
            submitted = self.admitted(target, WRITE, t, started)
            source = self.production_vm(vm_name)
            count = self.bump(f"cleanup:{source}", started)
            ends = submitted + quantiles(sr.test_failover_cleanup, self.counted(f"asr-cleanup/{source}", count, started))
            seen = self.polls(submitted + JOB_POLL_S, ends)
            seen = np.maximum(seen, submitted + JOB_POLL_S + self.latency())
            t = np.where(started, seen, t)
            deleted_asr[vm_name] = t.copy()
        compute = self.catalog.compute
        self.deleted: list[np.ndarray] = []
        waves = [ResourceKind.VM, ResourceKind.DISK, ResourceKind.SNAPSHOT, ResourceKind.IMAGE, ResourceKind.NETWORK, ResourceKind.NSG]
        self.deleted = [np.full(n, np.nan) for _ in self.made]
        for kind in waves:
            members = [i for i, m in enumerate(self.made) if m.kind is kind and m.asr_vm is None]
            if not members:
                continue
            deleters = Slots(n, self.concurrency)
            wave_end = t.copy()
            for i in reversed(members):
                made = self.made[i]
                start, slot = deleters.take(t, made.mask)
                dist = compute.delete_vm if kind is ResourceKind.VM else compute.delete_other
                seconds = self.keyed(dist, f"delete/{made.made_id}") if made.made_id is not None else self.draw(dist, n)
                end = start + self.latency() + seconds
                deleters.release(slot, end, made.mask)
                self.deleted[i] = np.where(made.mask, end, np.nan)
                wave_end = np.where(made.mask, np.maximum(wave_end, end), wave_end)
            t = wave_end
        for i, made in enumerate(self.made):
            if made.asr_vm is not None:
                self.deleted[i] = np.where(made.mask, deleted_asr.get(made.asr_vm, t), np.nan)
        self.cleanup_end = t + self.latency()

    def costs(self) -> np.ndarray:
        total = np.zeros(self.trials)
        for made, gone in zip(self.made, self.deleted, strict=True):
            alive = np.where(made.mask, np.maximum(0.0, np.where(np.isfinite(gone), gone, self.cleanup_end) - made.at), 0.0)
            total += made.price * alive / DAY_S
        return total

    # ----------------------------------------------------------------------------------- measure

    def measure(self) -> list[list[AppOutcome]]:
        """Per trial, per app: what drsim.measure.timeline.measure_apps measures from the events."""
        n = self.trials
        estate, runbook = self.estate, self.runbook
        hit = in_scope_vm_names(runbook, estate)
        objectives = {o.app: o for o in runbook.objectives}
        tasks = self.graph.tasks
        touched = {t.vm for t in tasks if t.vm}
        own_healthy: dict[str, np.ndarray] = {}
        affected_of: dict[str, set[str]] = {}
        rows: dict[str, dict[str, np.ndarray]] = {}
        for app in estate.apps:
            vms = {vm.name for vm in estate.vms if selector_matches(app.vms, vm.name, vm.tags)}
            affected = vms & hit
            affected_of[app.name] = affected
            recovery = [t for t in tasks if t.action.is_recovery and t.vm in vms]
            ready_by_vm: dict[str, np.ndarray] = {}
            have: dict[str, np.ndarray] = {}
            claimed = np.full(n, np.nan)
            for task in recovery:
                if task.vm not in affected:
                    continue
                assert task.vm is not None
                done = self.task_ok[task.id]
                at = np.where(done, self.task_end[task.id], -np.inf)
                ready_by_vm[task.vm] = np.maximum(ready_by_vm.get(task.vm, at), at)
                have[task.vm] = have.get(task.vm, np.zeros(n, bool)) | done
                rec = self.recovered.get(task.vm)
                if rec is not None:
                    c = np.where(done & np.isfinite(rec.point), np.maximum(0.0, -rec.point), np.nan)
                    claimed = np.fmax(claimed, c)
            all_there = np.ones(n, bool) if affected else np.zeros(n, bool)
            for name in affected:
                all_there &= have.get(name, np.zeros(n, bool))
            infra = np.where(
                all_there,
                np.max(np.stack([ready_by_vm[v] for v in affected if v in ready_by_vm]), axis=0)
                if any(v in ready_by_vm for v in affected)
                else np.nan,
                np.nan,
            )
            check_tasks = [t for t in tasks if t.action.is_check and t.vm in affected]
            broken = np.zeros(n, bool)
            for t in check_tasks:
                broken |= ~self.task_ok[t.id]
            canaries = [self.checks[t.id] for t in check_tasks if t.id in self.checks and self.checks[t.id].canary]
            boots = [self.checks[t.id] for t in check_tasks if t.id in self.checks and not self.checks[t.id].canary]
            any_canary = np.zeros(n, bool)
            for check in canaries:
                any_canary |= check.emitted
            healthy = np.full(n, -np.inf)
            all_passed = np.ones(n, bool)
            any_deciding = np.zeros(n, bool)
            for check in canaries:
                healthy = np.where(check.emitted & any_canary, np.fmax(healthy, np.where(check.passed, check.healthy_at, -np.inf)), healthy)
                all_passed &= ~(check.emitted & any_canary) | check.passed
                any_deciding |= check.emitted & any_canary
            for check in boots:
                use = check.emitted & ~any_canary
                healthy = np.where(use, np.fmax(healthy, np.where(check.passed, check.healthy_at, -np.inf)), healthy)
                all_passed &= ~use | check.passed
                any_deciding |= use
            fine = np.isfinite(infra) & any_deciding & ~broken & all_passed & np.isfinite(healthy)
            own_healthy[app.name] = np.where(fine, healthy, np.nan)
            # RPO: every canary task of an affected VM read, then the worst.
            canary_tasks = [t for t in tasks if t.action is Action.CHECK_CANARY and t.vm in affected]
            rpo = np.full(n, -np.inf)
            unread = np.zeros(n, bool)
            reachable_any = np.zeros(n, bool)
            consistent_all = np.ones(n, bool)
            corrupted_any = np.zeros(n, bool)
            for t in canary_tasks:
                found = self.checks.get(t.id)
                if found is None:
                    unread |= True
                    continue
                read = found.emitted & found.reachable
                unread |= ~read
                rpo = np.where(read, np.fmax(rpo, found.measured), rpo)
                reachable_any |= read
                consistent_all &= ~read | found.consistent
                corrupted_any |= read & found.corrupted
            if app.name in objectives or vms & touched:
                rows[app.name] = {
                    "rpo": np.where(~unread & np.isfinite(rpo) & bool(canary_tasks), np.round(rpo, 3), np.nan),
                    "claimed": np.round(claimed, 3),
                    "consistent": np.where(reachable_any, consistent_all, np.nan),
                    "corrupted": corrupted_any,
                }
        healthy_of = self._with_dependencies(own_healthy, affected_of)
        outcomes: list[list[AppOutcome]] = [[] for _ in range(n)]
        for app in estate.apps:
            if app.name not in rows:
                continue
            row = rows[app.name]
            rto = np.round(healthy_of[app.name], 3)
            objective = objectives.get(app.name)
            rto_obj = objective.rto.total_seconds() if objective is not None and objective.rto is not None else None
            rpo_obj = objective.rpo.total_seconds() if objective is not None and objective.rpo is not None else None
            rpo, claimed, consistent, corrupted = row["rpo"], row["claimed"], row["consistent"], row["corrupted"]
            for k in range(n):
                r = None if math.isnan(rto[k]) else float(rto[k])
                p = None if math.isnan(rpo[k]) else float(rpo[k])
                cl = None if math.isnan(claimed[k]) else float(claimed[k])
                cons = None if math.isnan(consistent[k]) else bool(consistent[k])
                rto_met = None if rto_obj is None else (r is not None and r <= rto_obj)
                rpo_met = None if rpo_obj is None else (p is not None and p <= rpo_obj and cons is not False and not bool(corrupted[k]))
                outcomes[k].append(AppOutcome(app.name, r, p, cl, cons, rto_met, rpo_met))
        return outcomes

    def _with_dependencies(self, own: dict[str, np.ndarray], affected: dict[str, set[str]]) -> dict[str, np.ndarray]:
        specs = {a.name: a for a in self.estate.apps}
        done: dict[str, np.ndarray] = {}

        def resolve(name: str, path: tuple[str, ...]) -> np.ndarray:
            if name in done:
                return done[name]
            mine = own[name].copy()
            for dep in specs[name].depends_on:
                if dep not in specs or dep in path or not affected[dep]:
                    continue
                theirs = resolve(dep, (*path, dep))
                mine = np.where(np.isnan(mine) | np.isnan(theirs), np.nan, np.maximum(mine, theirs))
            done[name] = mine
            return mine

        for app in self.estate.apps:
            resolve(app.name, (app.name,))
        return done


BURST_GAP_S = 0.02
"""First slot requests whose mean asking times follow each other this closely ask together (a burst of
first calls, each returned after its own round trip): the engine's queue takes them in a different
order in every trial, so the fast model takes them in the wave's interleaved order rather than in the
order of their means, which differ by sampling noise only. Requests ARM throttled queue at its refill
rate (1/25 s apart for reads), further apart than this, and keep the order of their means."""


def _finish(steps: Generator[np.ndarray, None, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Run a task's steps to their end (outside a wave's scheduler)."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            result: tuple[np.ndarray, np.ndarray] = done.value
            return result


def _mean_var(dist: object) -> tuple[float, float]:
    """Mean and variance of a catalog distribution used for round trips (uniform in the catalog)."""
    if isinstance(dist, Uniform):
        return (dist.low + dist.high) / 2, (dist.high - dist.low) ** 2 / 12
    if isinstance(dist, Fixed):
        return float(dist.value), 0.0
    samples = Draw(np.random.default_rng(0))(dist, 4096)
    return float(samples.mean()), float(samples.var())


@dataclass(frozen=True)
class FastCandidate:
    """One candidate's trials with the fast model, and the share of trials in which a step timed out."""

    outcomes: list[TrialOutcome]
    timed_out_share: float


def run_candidate(
    name: str,
    runbook: Runbook,
    estate: Estate,
    plan: ProtectionPlan,
    specs: Sequence[TrialSpec],
    *,
    seed: int,
    catalog: Catalog | None = None,
) -> list[TrialOutcome]:
    """Every trial of one candidate with the fast model, as the engine's trial outcomes."""
    return fast_candidate(name, runbook, estate, plan, specs, seed=seed, catalog=catalog).outcomes


def fast_candidate(
    name: str,
    runbook: Runbook,
    estate: Estate,
    plan: ProtectionPlan,
    specs: Sequence[TrialSpec],
    *,
    seed: int,
    catalog: Catalog | None = None,
    world: WorldDraws | None = None,
) -> FastCandidate:
    """Every trial of one candidate with the fast model, and the share of trials in which a step
    timed out (an attempt waiting for its slot or following its job, retried or not)."""
    model = FastRun(runbook, estate, plan, specs, seed=seed, catalog=catalog, world=world)
    apps = model.run()
    cost = model.costs()
    why = fast_causes(model, specs, apps)
    outcomes = [
        TrialOutcome(name, spec.trial, spec.incident_at, spec.seed, why.statuses[k], float(cost[k]), tuple(apps[k]), why.causes[k])
        for k, spec in enumerate(specs)
    ]
    return FastCandidate(outcomes, float(model.timed_out.mean()) if len(specs) else 0.0)
