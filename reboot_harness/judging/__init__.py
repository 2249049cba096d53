"""judging: whether a run passed — a scenario variant's verdict (judge), what its traffic
measured (traffic, measures) and the budgets it exceeded (budgets). Pure: imports model only;
no I/O, no Docker, no clock."""
