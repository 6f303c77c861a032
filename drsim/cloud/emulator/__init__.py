"""An ARM-compatible HTTP emulator over the simulated world, for the unmodified Azure SDK.

`serve_emulator(world_or_options)` serves it in the running event loop; `EmulatorThread` in a thread
of its own; `drsim emulator serve` from the command line. docs/emulator.md shows how to point SDK
code at it.
"""

from drsim.cloud.emulator.app import Emulator
from drsim.cloud.emulator.server import EmulatorHandle, EmulatorThread, run_emulator, serve_emulator
from drsim.cloud.emulator.world import DEFAULT_SPEED, EmulatedWorld, EmulatorOptions, build_world

__all__ = [
    "DEFAULT_SPEED",
    "EmulatedWorld",
    "Emulator",
    "EmulatorHandle",
    "EmulatorOptions",
    "EmulatorThread",
    "build_world",
    "run_emulator",
    "serve_emulator",
]
