"""The `eta` benchmark: simulated office days for comparing wait estimators (see `bench.eta.scenarios`)."""
