// Package scenarios holds every benchmark odbench can run, one file per
// category, and the registry that lists them.
//
// What flows through it, in order:
//
//  1. All(cfg) expands each category's scenario families over the
//     configuration (concurrency levels, rates, value sizes) into Specs with
//     path-like names carrying their parameters:
//     "api/health_check/clients=10". The list is explicit, not built from
//     init() side effects; an empty or duplicate name panics at start-up.
//  2. The runner hands each Spec's Run an Env and a running cluster.Cluster.
//     A scenario talks to the nodes over HTTP through the Env's target
//     profile (package target): its kv section (kvclient.go), its
//     inference section (infertarget.go), its named routes (client.go).
//     Probe finds beforehand which route families the target serves, and
//     a scenario whose family it lacks is skipped, naming what is missing;
//     an inference route that answers with a placeholder is not
//     inference, and its answers count as errors of kind placeholder.
//     It drives load through the Env
//     (which wraps internal/load with the configured warm-up and duration)
//     and records what it saw: operations with their histograms, scalars
//     with units, events, checks and warnings.
//     Fault scenarios (faults.go) run under faultLoad (faultload.go): a
//     steady open-loop write load measured until the fault and a quarter
//     of the duration after it are over, its writes also split into
//     before, during and after windows, the acknowledged keys read back,
//     and beside it the recorded history workload (history.go) whose
//     history internal/history checks for linearizability. With
//     consensus.check_consistency the same workload runs beside every
//     consensus scenario.
//     Inference scenarios send the requests of inference.workload
//     (workload.go: a fixed prompt, lengths drawn from distributions, a
//     JSONL dataset, shared prefixes, multi-turn conversations). The
//     capacity search and the sweeps (capacity.go, one load each in
//     steps.go) run only when execution.scenarios names them (Spec.OptIn):
//     a synchronous probe, a throughput probe, then open-loop steps judged
//     against capacity.slo, recorded as the result's Sweep.
//  3. The runner reads the filled result back with Env.Result.
//
// Scenarios never start processes themselves: fault abilities come from
// the cluster (cluster.Killer and friends) and are declared in Spec.Needs,
// so the runner can skip a scenario with a reason where they are missing.
package scenarios
