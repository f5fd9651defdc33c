package scenarios

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

// Spec is one measurable thing, named like a path:
// "api/health_check/clients=16".
type Spec struct {
	Name     string
	Category string
	Params   map[string]string
	// MinNodes: the scenario is skipped (with a reason) on smaller clusters.
	MinNodes int
	// Needs: the scenario is skipped where the cluster lacks an ability.
	Needs []cluster.Ability
	// Routes are the route families it needs from the target (see
	// probe.go); All fills them. It is skipped where Probe finds one missing.
	Routes []string
	// Timeout bounds the whole scenario; 0 means the configured scenario timeout.
	Timeout time.Duration
	Run     func(ctx context.Context, env *Env, c cluster.Cluster) error
	// Finish, if set, derives more from the finished result once the
	// runner has attached the resources it sampled.
	Finish func(res *metrics.Scenario)
	// Unsplittable, when set, says why the scenario cannot be split over
	// shards (one fault, one ramp to find one knee): it runs on shard 0
	// only, and the other shards record it skipped with this reason.
	Unsplittable string
	// OptIn: the scenario is long (a capacity search, a sweep) and runs
	// only when execution.scenarios names it by a pattern with a slash
	// ("inference/capacity", "inference/sweep/*"), not by its category.
	OptIn bool
	// Length estimates how long the scenario's loads take (default: one
	// warm-up and one measurement); shards schedule it on their shared
	// clock with it.
	Length func(cfg *config.Config) time.Duration
}

// PlannedLength is the spec's Length, or one warm-up and one measurement.
func (s Spec) PlannedLength(cfg *config.Config) time.Duration {
	if s.Length != nil {
		return s.Length(cfg)
	}
	return cfg.Execution.WarmupDuration + cfg.Execution.Duration
}

// SkipError says a scenario cannot run against this target; the runner
// records it as skipped with the reason, never as a failure or a zero.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return "skipped: " + e.Reason }

// Skip returns a SkipError.
func Skip(format string, args ...any) error { return &SkipError{Reason: fmt.Sprintf(format, args...)} }

// family expands into the specs of one kind of scenario for a config.
type family func(cfg *config.Config) []Spec

// families is the one explicit list of every scenario odbench has, by category.
var families = map[string][]family{
	"consensus":   {consensusScenarios},
	"p2p":         {p2pScenarios},
	"models":      {modelScenarios},
	"api":         {apiEndpoints, apiCapacityScenarios},
	"memory":      {memoryScenarios},
	"concurrency": {concurrencyScenarios},
	"faults":      {faultScenarios},
	"loadbalance": {loadbalanceScenarios},
	"inference":   {inferenceScenarios, capacityScenarios},
	"custom":      {customScenarios, registeredScenarios},
}

// registry holds the scenarios programs register in Go (odbench.Register).
var registry struct {
	mu    sync.Mutex
	specs []Spec
}

// Register adds scenarios written in Go to the category custom: All lists
// them after the declared ones. Their names must start with "custom/".
func Register(specs ...Spec) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	registry.specs = append(registry.specs, specs...)
}

func registeredScenarios(*config.Config) []Spec {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return slices.Clone(registry.specs)
}

// All returns every scenario for cfg's enabled categories, in category
// order. It panics on an empty or duplicate name: that is a programming
// error, caught by the first test that calls it.
func All(cfg *config.Config) []Spec {
	var out []Spec
	seen := map[string]bool{}
	for _, cat := range cfg.EnabledCategories() {
		for _, fam := range families[cat] {
			for _, s := range fam(cfg) {
				if s.Name == "" || s.Run == nil {
					panic(fmt.Sprintf("scenarios: a %s scenario has no name or no Run", cat))
				}
				if seen[s.Name] {
					panic(fmt.Sprintf("scenarios: duplicate scenario name %q", s.Name))
				}
				seen[s.Name] = true
				s.Category = cat
				if s.MinNodes == 0 {
					s.MinNodes = 1
				}
				if s.Routes == nil {
					s.Routes = routesFor(s.Name, cfg)
				}
				if cat == "consensus" && cfg.Consensus.CheckConsistency {
					s = withHistory(s)
				}
				for _, u := range unsplittable {
					if strings.HasPrefix(s.Name, u.prefix) && s.Unsplittable == "" {
						s.Unsplittable, s.Length = u.why, u.length
					}
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// Implemented lists the categories that have scenarios.
func Implemented() []string {
	var out []string
	for _, c := range config.Categories() {
		if len(families[c]) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// Matches reports whether a scenario name is selected by pattern: the
// exact name, a prefix of whole path segments ("api/health_check" selects
// "api/health_check/clients=1" but "api/health_check/clients=1" does not
// select ".../clients=10"), or a path.Match glob ("api/*/rate=*").
func Matches(name, pattern string) bool {
	pattern = strings.TrimSuffix(pattern, "/")
	if name == pattern || strings.HasPrefix(name, pattern+"/") {
		return true
	}
	ok, _ := path.Match(pattern, name)
	return ok
}

// Filter keeps the specs selected by one of patterns (all when patterns is
// empty; see Matches). A pattern that selects nothing is an error listing
// the valid names.
func Filter(specs []Spec, prefixes []string) ([]Spec, error) {
	if len(prefixes) == 0 {
		var out []Spec
		for _, s := range specs {
			if !s.OptIn {
				out = append(out, s)
			}
		}
		return out, nil
	}
	var out []Spec
	for _, p := range prefixes {
		matched := false
		for _, s := range specs {
			if Matches(s.Name, p) {
				matched = true
			}
		}
		if !matched {
			names := make([]string, len(specs))
			for i, s := range specs {
				names[i] = s.Name
			}
			sort.Strings(names)
			return nil, fmt.Errorf("scenario %q matches no scenario of the enabled categories; valid scenarios are:\n  %s",
				p, strings.Join(names, "\n  "))
		}
	}
	for _, s := range specs {
		for _, p := range prefixes {
			if Matches(s.Name, p) && (!s.OptIn || strings.Contains(strings.TrimSuffix(p, "/"), "/")) {
				out = append(out, s)
				break
			}
		}
	}
	return out, nil
}

// unsplittable are the scenarios a sharded run cannot split over its load
// machines, why, and how long their loads take (for the shards' shared
// clock; nil: one warm-up and one measurement).
var unsplittable = []struct {
	prefix, why string
	length      func(cfg *config.Config) time.Duration
}{
	{"faults/", "a fault is injected once, by one load machine", func(cfg *config.Config) time.Duration {
		// The load goes on a quarter of the duration past the fault.
		return cfg.Execution.WarmupDuration + cfg.Execution.Duration*3/2
	}},
	{"p2p/rejoin", "it kills and restarts a node once", nil},
	{"models/download", "it downloads one model once", nil},
	{"models/replication", "it replicates one model once", nil},
	{"loadbalance/policy=", "it switches the nodes' scheduling policy and judges the spread of one load", nil},
	{"loadbalance/prefix_cache", "it switches the nodes' scheduling policy twice", nil},
	{"concurrency/contention", "its knee is a client count of one load", nil},
	{"concurrency/stress", "its ramp finds the limit of one load's rate", func(cfg *config.Config) time.Duration {
		return cfg.Execution.WarmupDuration + time.Duration(cfg.Concurrency.MaxSteps)*cfg.Concurrency.StepDuration
	}},
	{"inference/capacity", "its search finds the limit of one load's rate", searchLength},
	{"inference/sweep/", "its points are loads of one machine", searchLength},
	{"api/health_check/capacity", "its search finds the limit of one load's rate", searchLength},
	{"api/cluster_status/capacity", "its search finds the limit of one load's rate", searchLength},
}

// searchLength estimates a capacity search's or a sweep's loads: two
// probes and capacity.max_steps steps of their shortest length.
func searchLength(cfg *config.Config) time.Duration {
	c := cfg.Capacity
	return time.Duration(2+c.MaxSteps) * (c.StepWarmup + c.MinStepDuration)
}
