"""Architecture search: the searcher, reward and executor interfaces, the jobs executors run and their
evaluation, fidelity schedules, the driver, the settings and the resumable run directory."""
