"""`pytest --kindling-signals`: the catalog coverage report (hooks only; see the report engine)."""
