"""Benchmark: render the reports of a 10,000-VM drill (targets: <= 10 s, report.html <= 10 MB).

By default the run is a synthetic snapshot-clone drill (3 disks a VM; clone, boot check and canary
check per VM: ~30,000 tasks, ~150,000 journal events), written with the engine's own event classes
and journal encoder (tests/report/report_fixtures.py): it takes seconds to make. `--engine` runs
bench/drill_scale.py's drill through the real engine and simulated world instead (minutes), and a
RUN_DIR argument renders an existing run.

    python bench/report_scale.py [--vms N] [--engine | RUN_DIR]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "report"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_fixtures import synthetic_run, write_run

from drsim.drills import render_reports
from drsim.report import verify_bundle, write_manifest
from drsim.store import HistoryStore

TARGET_SECONDS = 10.0
TARGET_HTML_BYTES = 10 * 1024 * 1024


def engine_run(run_dir: Path, vms: int) -> Path:
    """bench/drill_scale.py's snapshot-clone drill through the engine, journaled like `drsim drill run` does."""
    from drill_scale import INCIDENT, documents

    from drsim.drills import simulate_run
    from drsim.engine.journal import JournalWriter
    from drsim.model.documents import SimOptions

    estate, plan, runbook = documents(vms)
    journal = JournalWriter(run_dir / "journal.jsonl", fsync=False)

    class ToJournal:
        def on_event(self, event: object) -> None:
            journal.write(event)  # type: ignore[arg-type]

        def on_finished(self, outcome: object) -> None:
            pass

    outcome = simulate_run(
        runbook,
        estate,
        plan,
        incident_at=INCIDENT,
        seed=1,
        concurrency=50,
        sim_options=SimOptions(throttling=False),
        observers=(ToJournal(),),
    )
    journal.close()
    assert outcome.result is not None
    (run_dir / "result.json").write_text(outcome.result.to_json(), encoding="utf-8")
    return run_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path, help="an existing run directory to render")
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--engine", action="store_true", help="make the run with the real engine (bench/drill_scale.py's drill)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run_dir
        if run_dir is None and args.engine:
            started = time.perf_counter()
            run_dir = engine_run(Path(tmp) / "run", args.vms)
            print(f"ran {args.vms} VMs through the engine in {time.perf_counter() - started:.1f} s")
        if run_dir is None:
            started = time.perf_counter()
            result, events = synthetic_run(args.vms)
            run_dir = write_run(Path(tmp) / "run", result, events)
            elapsed = time.perf_counter() - started
            print(f"generated {args.vms} VMs: {len(result.tasks)} tasks, {len(events)} journal events in {elapsed:.2f} s")
        journal = run_dir / "journal.jsonl"
        print(f"journal.jsonl {journal.stat().st_size / 1e6:.1f} MB, result.json {(run_dir / 'result.json').stat().st_size / 1e6:.1f} MB")

        with HistoryStore(Path(tmp) / "history.sqlite") as store:
            started, cpu_started = time.perf_counter(), time.process_time()
            written = render_reports(run_dir, ("md", "html"), store)
            render_s, render_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        started = time.perf_counter()
        write_manifest(run_dir)
        seal_s = time.perf_counter() - started
        started = time.perf_counter()
        intact = verify_bundle(run_dir).intact
        verify_s = time.perf_counter() - started

        html = run_dir / "report.html"
        html_bytes = html.stat().st_size
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"render (md + html + charts, history recorded): {render_s:.2f} s   target <= {TARGET_SECONDS:.0f} s")
        print(f"render CPU time: {render_cpu_s:.2f} s (steadier than the wall time on a busy machine)")
        print(f"report.html: {html_bytes / 1e6:.2f} MB   target <= {TARGET_HTML_BYTES / 1024 / 1024:.0f} MB")
        print(f"report.md: {(run_dir / 'report.md').stat().st_size / 1e3:.1f} kB; files written: {', '.join(p.name for p in written)}")
        print(f"seal (manifest.json): {seal_s:.2f} s; verify: {verify_s:.2f} s, intact: {intact}")
        print(f"peak RSS: {peak_mib:.0f} MiB")
        ok = render_s <= TARGET_SECONDS and html_bytes <= TARGET_HTML_BYTES and intact
        print("targets met" if ok else "TARGETS MISSED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
