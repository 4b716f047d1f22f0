"""Decision analysis over simulated cohorts: costs, effects, PSA, sensitivity (a layer over the simulator)."""
