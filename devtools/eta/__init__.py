"""The `eta` benchmark: simulated office days for comparing wait estimators (see `devtools.eta.scenarios`)."""
