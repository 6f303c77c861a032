"""Drill history in SQLite (schema versioned with migrations), for trends across quarters."""

from drsim.store.history import DEFAULT_STORE, AppRecord, HistoryStore, RunRecord

__all__ = ["DEFAULT_STORE", "AppRecord", "HistoryStore", "RunRecord"]
