"""drsim: a disaster-recovery runbook and drill simulator for Azure virtual machines."""

__version__ = "0.1.0"
