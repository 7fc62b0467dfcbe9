"""The pytest plugin: entry point, options, the run object, per-test logic, xdist, hook specs, reporting."""
