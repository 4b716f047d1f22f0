"""Every key of summary.json, validation.json and run.json: type, unit and meaning.

docs/data-dictionary.md is generated from these lists (with the table columns of
schema.py), and a test walks a real summary and checks that every key it holds is
listed here, so the dictionary cannot fall behind the writers. ``<name>`` in a
path stands for any key (a state id, a policy name, ...), ``[]`` for the items of
a list. ``<body>`` is one policy's block: it is found under ``by_policy.<policy>``
and, for the first policy of the run, at the top level too.
"""

from __future__ import annotations

Key = tuple[str, str, str, str]
"""(path, type, unit, meaning)"""

ESTIMATE: tuple[Key, ...] = (
    ("value", "number", "as the figure", "the point estimate"),
    ("low", "number or null", "as the figure", "lower end of the 95 % interval (null when n is too small for one)"),
    ("high", "number or null", "as the figure", "upper end of the 95 % interval"),
    ("n", "integer", "patients", "the number the figure rests on (denominator, or observations)"),
    ("method", "string", "", "wilson, normal, order_statistic, paired_normal or newcombe_paired (docs/simulation.md)"),
    ("small_n", "boolean", "", "fewer than 10 events (shares) or 30 observations (means, quantiles): imprecise"),
    ("count", "integer", "patients", "shares only: the numerator k of k/n"),
    ("discordant", "integer", "patients", "paired shares only: patients counted under one policy but not the other"),
)

TIMES: tuple[Key, ...] = (
    ("n", "integer", "patients", "patients with this time"),
    ("mean", "estimate", "h", "mean with its 95 % interval"),
    ("p50", "estimate", "h", "median with its distribution-free 95 % interval"),
    ("p95", "estimate", "h", "95th centile with its distribution-free 95 % interval"),
    ("p5", "number", "h", "5th centile"),
    ("p25", "number", "h", "25th centile"),
    ("p75", "number", "h", "75th centile"),
    ("min", "number", "h", "shortest"),
    ("max", "number", "h", "longest"),
)

FIGURES: tuple[Key, ...] = (
    ("imaging_studies_count", "integer", "studies", "imaging studies ordered (all episodes)"),
    ("imaging_studies_per_1000", "estimate", "studies per 1,000 patients", "mean studies per patient x 1,000"),
    ("usually_not_appropriate_studies_count", "integer", "studies", "studies the state rated usually not appropriate"),
    ("usually_not_appropriate_studies_per_1000", "estimate", "studies per 1,000 patients", "as above, per 1,000"),
    ("radiation_msv_total", "number", "mSv", "effective dose of all studies (representative dose per RRL)"),
    ("radiation_msv_per_1000", "estimate", "mSv per 1,000 patients", "mean dose per patient x 1,000"),
    ("contrast_exposures_count", "integer", "studies", "studies with IV or intrathecal contrast"),
    ("contrast_exposures_per_1000", "estimate", "studies per 1,000 patients", "as above, per 1,000"),
    ("patients_imaged_count", "integer", "patients", "patients with at least one study"),
    ("patients_imaged_share", "estimate", "share", "patients imaged / patients"),
    ("blood_patches_count", "integer", "patches", "epidural blood patches done"),
    ("blood_patches_per_1000", "estimate", "patches per 1,000 patients", "mean patches per patient x 1,000"),
    ("patients_patched_count", "integer", "patients", "patients with at least one patch"),
    ("patients_patched_share", "estimate", "share", "patients patched / patients"),
    ("escalations_count", "integer", "patients", "patients escalated for a red flag (any episode)"),
    ("escalations_per_1000", "estimate", "patients per 1,000", "escalated patients per 1,000"),
    ("complications_count", "integer", "patients", "patients with a complication (subdural haematoma, ...)"),
    ("complications_per_1000", "estimate", "patients per 1,000", "complications per 1,000 patients"),
    ("complications_not_escalated_count", "integer", "patients", "complications never escalated within the horizon"),
    ("complications_not_escalated_per_1000", "estimate", "patients per 1,000", "as above, per 1,000 patients"),
    ("complications_not_escalated_share", "estimate", "share", "never escalated / complications"),
    ("time_to_escalation_h", "times", "h", "from a complication's first signs to escalation, over all episodes"),
    ("under_care_72h_share", "estimate", "share", "patients still in a non-final state 72 h after presentation"),
    ("under_care_168h_share", "estimate", "share", "patients still in a non-final state 7 days after presentation"),
)

DIFFERENCES: tuple[Key, ...] = (
    *((name, "estimate", unit, f"{meaning}: policy minus reference, paired") for name, kind, unit, meaning in FIGURES
      if name.endswith(("_per_1000", "_share")) and name not in {"complications_not_escalated_share",
      "under_care_72h_share", "under_care_168h_share", "complications_per_1000"}),
    ("complications_per_1000", "estimate", "patients per 1,000", "complications: 0 by construction (same patients)"),
    ("time_to_escalation_h_mean", "estimate", "h", "mean paired difference, patients escalated under both policies"),
    ("time_to_resolution_h_mean", "estimate", "h", "mean paired difference, patients resolved under both policies"),
)  # fmt: skip

BODY: tuple[Key, ...] = (
    ("patients", "integer", "patients", "patients simulated under this policy"),
    ("case_mix.<case>", "integer", "patients", "patients by why they present (in_scope, no_puncture, late, atypical)"),
    ("final_states.<state>", "integer", "patients", "patients whose first episode ended in this final state"),
    ("final_state_shares.<state>", "estimate", "share", "the same as a share of the patients"),
    ("open_states.<state>", "integer", "patients", "first episodes left in a non-final state"),
    ("paths[].path", "list of strings", "", "states visited in order"),
    ("paths[].count", "integer", "patients", "patients who took that path"),
    ("transitions[].transition", "string", "", "transition id of the definition"),
    ("transitions[].source", "string", "", "its source state"),
    ("transitions[].target", "string", "", "its target state"),
    ("transitions[].count", "integer", "times", "times the transition was taken"),
    ("transitions[].patients", "integer", "patients", "patients who took it at least once"),
    ("events.<event>.count", "integer", "events", "accepted events of this name"),
    ("events.<event>.patients", "integer", "patients", "patients with at least one"),
    ("field_values.<event>.<field>.<value>", "integer", "events", "accepted events with this field value"),
    ("rejected_events", "integer", "events", "events the pathway refused (0 for a correct simulation)"),
    *((f"figures.{name}", kind, unit, meaning) for name, kind, unit, meaning in FIGURES),
    ("time_to_resolution_h", "times", "h", "from presentation to the resolved state"),
    ("time_to_end_h.<state>", "times", "h", "from presentation to each final state"),
    ("time_to_end_hist.step_h", "integer", "h", "bin width of the histograms"),
    ("time_to_end_hist.bins", "integer", "bins", "bins before the last, open-ended one"),
    ("time_to_end_hist.states.<state>", "list of integers", "patients", "patients reaching the state per bin"),
    ("complications.<complication>.patients_count", "integer", "patients", "patients with this complication"),
    ("complications.<complication>.per_1000", "estimate", "patients per 1,000", "as above, per 1,000 patients"),
    ("complications.<complication>.escalated_count", "integer", "patients", "of them escalated (any episode)"),
    ("complications.<complication>.not_escalated_count", "integer", "patients", "of them never escalated"),
    ("complications.<complication>.time_to_escalation_h", "times", "h", "first signs to escalation"),
    ("returns.patients_count", "integer", "patients", "patients who came back with a complication's signs"),
    ("returns.patients_per_1000", "estimate", "patients per 1,000", "as above, per 1,000 patients"),
    ("returns.episodes_count", "integer", "episodes", "return visits (a dismissed visit and the next count two)"),
    ("returns.escalated_count", "integer", "patients", "patients escalated at a return visit"),
    ("returns.final_states.<state>", "integer", "episodes", "the state each return visit ended in"),
    ("imaging.by_code_count.<code>", "integer", "studies", "studies ordered by imaging code"),
    ("imaging.by_rating_count.<rating>", "integer", "studies", "studies by the rating of the state"),
    ("imaging.by_rrl_count.<rrl>", "integer", "studies", "studies by ACR relative radiation level"),
    ("imaging.patients_with_contrast_count", "integer", "patients", "patients with a contrast study"),
    ("reviews_per_patient.<k>", "integer", "patients", "patients with k reassessments"),
    ("patches_per_patient.<k>", "integer", "patients", "patients with k blood patches"),
    ("occupancy.step_h", "integer", "h", "1: one value per hour"),
    ("occupancy.hours", "integer", "h", "hours after presentation counted"),
    ("occupancy.states.<state>", "list of integers", "patients", "patients in the state at each whole hour"),
    ("monitor.checked", "integer", "patients", "patients whose traces the runtime monitors checked"),
    ("monitor.violations", "integer", "patients", "of them with a safety violation (exit 1)"),
)

SUMMARY: tuple[Key, ...] = (
    ("pathway", "string", "", "pathway id of the definition"),
    ("version", "string", "", "its version"),
    ("params.title", "string", "", "title of the parameter file"),
    ("params.sha256_16", "string", "", "digest of the parameter file and --set assignments"),
    ("params.overrides", "list of strings", "", "the --set assignments, in order"),
    ("seed", "integer", "", "random seed"),
    ("policy", "string", "", "the first policy (the reference of the differences)"),
    ("policies", "list of strings", "", "policies run, in order"),
    ("per", "integer", "patients", "1000: the base of every *_per_1000 figure"),
    ("monitor_violations", "integer", "patients", "safety violations over all policies"),
    ("by_policy.<policy>", "body", "", "everything about one policy (the <body> keys)"),
    ("differences.reference", "string", "", "the policy the others are compared with"),
    ("differences.policies.<policy>", "differences", "", "paired differences of a policy from the reference"),
    ("engine_check.checked", "integer", "patients", "with --check-engines: courses run on both engines"),
    ("engine_check.mismatches", "integer", "patients", "of them with different traces (exit 1)"),
)

VALIDATION: tuple[Key, ...] = (
    ("patients", "integer", "patients", "cohort size"),
    ("seed", "integer", "", "random seed"),
    ("targets[].id", "string", "", "target id (pathway/simulate/validation.toml)"),
    ("targets[].use", "string", "", "calibration (used to set a parameter) or validation (not used)"),
    ("targets[].measure", "string", "", "share, or median <time> (<unit>)"),
    ("targets[].subgroup.policy", "string", "", "policy of the simulated patients compared"),
    ("targets[].subgroup.punctures", "list of strings or 'all'", "", "puncture kinds of the subgroup"),
    ("targets[].subgroup.numerator", "list of strings", "", "facts counted (pathway/simulate/cohort_facts.py)"),
    ("targets[].subgroup.denominator", "list of strings", "", "facts of the denominator"),
    ("targets[].source", "string", "", "citation id (docs/evidence.md)"),
    ("targets[].population", "string", "", "the published population"),
    ("targets[].published.value", "number", "share or the unit", "published figure"),
    ("targets[].published.low", "number", "share or the unit", "lower end of its interval"),
    ("targets[].published.high", "number", "share or the unit", "upper end"),
    ("targets[].published.n", "integer or null", "patients", "published n, when given"),
    ("targets[].published.interval", "string", "", "how the published interval was obtained"),
    ("targets[].simulated", "estimate", "share or the unit", "the same measure on the simulated subgroup"),
    ("targets[].verdict", "string", "", "consistent (intervals overlap), not consistent, or not assessable"),
    ("targets[].reason", "string", "", "why a target is not consistent or not assessable"),
    ("targets[].note", "string", "", "what to know about the comparison"),
    ("counts.<use>.<verdict>", "integer", "targets", "targets by use and verdict"),
)

RUN: tuple[Key, ...] = (
    ("command", "string", "", "simulate"),
    ("patients", "integer", "patients", "cohort size"),
    ("seed", "integer", "", "random seed"),
    ("policies", "list of strings", "", "policies run"),
    ("engine", "string", "", "local or dask"),
    ("scheduler", "string or null", "", "Dask scheduler address"),
    ("workers", "integer or null", "processes", "local worker processes"),
    ("chunk_size", "integer", "patients", "patients per task"),
    ("seconds", "number", "s", "wall time of the simulation"),
    ("patients_per_second", "number", "patients/s", "throughput"),
    ("peak_rss_mb_largest_process", "number", "MB", "peak memory of the largest process"),
    ("definition", "string", "", "definition file"),
    ("params", "string", "", "parameter file"),
    ("set", "list of strings", "", "the --set assignments"),
    ("python", "string", "", "Python version"),
    ("files[].name", "string", "", "a file this run wrote"),
    ("files[].bytes", "integer", "bytes", "its size"),
)
