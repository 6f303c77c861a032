def test_the_schema_stores_every_measure_of_an_app() -> None:
    """The schema's columns are versioned history (migrations.py); the measures are defined once
    (measure.result.AppMeasures): a measure added to one and not the other fails here."""
    from drsim.measure.result import AppMeasures
    from drsim.store.migrations import APP_COLUMNS

    assert tuple(c.strip() for c in APP_COLUMNS.split(",")) == AppMeasures.names()
