"""The DR testing program above single runs: what is due (cadence and changes since the last passed
real drill), findings, attestations and the period coverage packet (DESIGN.md, "The DR testing program")."""
