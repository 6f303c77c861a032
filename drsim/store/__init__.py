"""Drill history in SQLite (schema versioned with migrations), for trends across quarters."""

from drsim.store.history import DEFAULT_STORE, STORE_NAME, HistoryStore, RunRecord, SealRecord, store_of_run

__all__ = ["DEFAULT_STORE", "STORE_NAME", "HistoryStore", "RunRecord", "SealRecord", "store_of_run"]
