"""judging: whether a run passed — a scenario variant's verdict (judge), what its traffic
measured (traffic, measures), the budgets it exceeded (budgets), and the result that holds them
all (result: ScenarioResult, what the run produces and the reports read). Pure: imports model only;
no I/O, no Docker, no clock."""
