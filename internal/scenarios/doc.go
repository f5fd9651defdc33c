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
//     A scenario talks to the nodes over HTTP, drives load through the Env
//     (which wraps internal/load with the configured warm-up and duration)
//     and records what it saw: operations with their histograms, scalars
//     with units, events, checks and warnings.
//  3. The runner reads the filled result back with Env.Result.
//
// Scenarios never start processes themselves: fault abilities come from
// the cluster (cluster.Killer and friends) and are declared in Spec.Needs,
// so the runner can skip a scenario with a reason where they are missing.
package scenarios
