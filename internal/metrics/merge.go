package metrics

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// ErrPlanMismatch: runs to merge did not run the same plan.
var ErrPlanMismatch = errors.New("the runs did not run the same plan")

type scenarioKey struct {
	size int
	name string
	rep  int
}

func planOf(run *Run) map[scenarioKey][]string {
	out := map[scenarioKey][]string{}
	for _, c := range run.Clusters {
		for _, s := range c.Scenarios {
			var ops []string
			for _, op := range s.Operations {
				ops = append(ops, op.Name)
			}
			sort.Strings(ops)
			out[scenarioKey{c.Size, s.Name, s.Repetition}] = ops
		}
	}
	return out
}

// ErrShards: the shards given to merge are not each part of one plan
// exactly once.
var ErrShards = errors.New("the shards are not one complete plan")

// MergeOptions tune Merge.
type MergeOptions struct {
	// MaxSkew: shards whose measured windows of one scenario started
	// further apart get a warning on that scenario (merge.max_skew).
	MaxSkew time.Duration
}

// Merge combines runs made at the same time from several load machines
// against one cluster: the shards of one plan (run --shard), or runs of
// the same plan. Per operation it adds the HDR histograms (exact: the
// percentiles are recomputed from the sum, never averaged), counts, errors
// and throughput; it adds the loads, and the scalars measured in units
// per second. A scenario a shard skipped (its part was empty, or it runs
// on shard 0 only) is merged from the shards that ran it; one that failed
// on any machine failed. What cannot be added (per-second timelines,
// other scalars, resources of different hosts) is the first machine's,
// and the merged run's warnings say so. Shards must be 0..N-1 of one plan
// hash, each once (ErrShards names what is missing or extra); the spread
// of their window starts is recorded per scenario (ShardSkewMs).
func Merge(runs []*Run, names []string, opt MergeOptions) (*Run, error) {
	if len(runs) < 2 {
		return nil, fmt.Errorf("merge needs at least two runs, got %d", len(runs))
	}
	sharded := runs[0].Shard != nil
	if sharded {
		if err := checkShards(runs, names); err != nil {
			return nil, err
		}
		sort.SliceStable(runs, func(i, j int) bool { return runs[i].Shard.Index < runs[j].Shard.Index })
	} else {
		first := planOf(runs[0])
		for i, r := range runs[1:] {
			if r.Shard != nil {
				return nil, fmt.Errorf("%w: %s is shard %d of %d, %s is no shard", ErrShards, names[i+1], r.Shard.Index, r.Shard.Count, names[0])
			}
			if err := samePlan(first, planOf(r), names[0], names[i+1]); err != nil {
				return nil, err
			}
		}
	}
	out := *runs[0]
	out.Clusters = nil
	for _, c := range runs[0].Clusters {
		mc := c
		mc.Scenarios = nil
		for _, s := range c.Scenarios {
			var parts []*Scenario
			for _, r := range runs {
				if p := findScenario(r, c.Size, s.Name, s.Repetition); p != nil {
					parts = append(parts, p)
				}
			}
			ms, err := mergeScenario(parts, opt)
			if err != nil {
				return nil, fmt.Errorf("%d nodes %s #%d: %w", c.Size, s.Name, s.Repetition, err)
			}
			mc.Scenarios = append(mc.Scenarios, ms)
		}
		out.Clusters = append(out.Clusters, mc)
	}
	var hosts []string
	for i, r := range runs {
		hosts = append(hosts, fmt.Sprintf("%s (%s, %d cores)", names[i], r.Host.Hostname, r.Host.Cores))
		if r.StartedAt.Before(out.StartedAt) {
			out.StartedAt = r.StartedAt
		}
		if r.EndedAt.After(out.EndedAt) {
			out.EndedAt = r.EndedAt
		}
		if r.Status == RunInterrupted {
			out.Status = RunInterrupted
		}
	}
	if sharded {
		sh := *runs[0].Shard
		sh.Index = -1
		out.Shard = &sh
	}
	out.Warnings = append(append([]string(nil), out.Warnings...),
		"merged from "+strings.Join(hosts, ", ")+": counts, errors, unfinished, throughput, histograms, the load applied "+
			"(rates, workers, intended, late and dropped starts) and the scalars per second are sums over the load machines; "+
			"a scenario failed on one failed, with its failed checks; host, resources, other scalars, events and per-second "+
			"timelines are those of the first machine that ran the scenario")
	out.Summary = SummaryOf(&out)
	return &out, nil
}

// checkShards requires runs to be shards 0..N-1 of one plan, each once.
func checkShards(runs []*Run, names []string) error {
	first := runs[0].Shard
	seen := map[int][]string{}
	var problems []string
	for i, r := range runs {
		switch {
		case r.Shard == nil:
			problems = append(problems, names[i]+" is no shard")
			continue
		case r.Shard.Count != first.Count:
			problems = append(problems, fmt.Sprintf("%s is one of %d shards, %s one of %d", names[i], r.Shard.Count, names[0], first.Count))
		case r.Shard.PlanHash != first.PlanHash:
			problems = append(problems, fmt.Sprintf("%s ran plan %s, %s plan %s", names[i], r.Shard.PlanHash, names[0], first.PlanHash))
		}
		seen[r.Shard.Index] = append(seen[r.Shard.Index], names[i])
	}
	for i := 0; i < first.Count; i++ {
		switch n := seen[i]; {
		case len(n) == 0:
			problems = append(problems, fmt.Sprintf("shard %d of %d is missing", i, first.Count))
		case len(n) > 1:
			problems = append(problems, fmt.Sprintf("shard %d is given %d times (%s)", i, len(n), strings.Join(n, ", ")))
		}
	}
	for i, n := range seen {
		if i < 0 || i >= first.Count {
			problems = append(problems, fmt.Sprintf("%s is shard %d, outside 0..%d", strings.Join(n, ", "), i, first.Count-1))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return fmt.Errorf("%w: %s", ErrShards, strings.Join(problems, "; "))
}

// mergeScenario merges one scenario as the machines that ran it saw it.
func mergeScenario(parts []*Scenario, opt MergeOptions) (Scenario, error) {
	var ran []*Scenario
	for _, p := range parts {
		if p.Status != StatusSkipped {
			ran = append(ran, p)
		}
	}
	if len(ran) == 0 {
		return *parts[0], nil // skipped everywhere
	}
	ms := *ran[0]
	ms.Operations, ms.Scalars = nil, nil
	ms.Checks = append([]Check(nil), ran[0].Checks...)
	ms.Warnings = append([]string(nil), ran[0].Warnings...)
	var names []string
	byName := map[string][]Operation{}
	for _, p := range ran {
		for _, op := range p.Operations {
			if _, ok := byName[op.Name]; !ok {
				names = append(names, op.Name)
			}
			byName[op.Name] = append(byName[op.Name], op)
		}
	}
	for _, n := range names {
		merged, err := mergeOps(byName[n])
		if err != nil {
			return ms, fmt.Errorf("%s: %w", n, err)
		}
		ms.Operations = append(ms.Operations, merged)
	}
	loads := []*Load{ran[0].Load}
	for _, p := range ran[1:] {
		loads = append(loads, p.Load)
		if p.Status == StatusFailed && ms.Status != StatusFailed {
			ms.Status, ms.Error = p.Status, p.Error
		}
		for _, ch := range p.Checks { // a check that failed on any machine failed
			if !ch.Passed {
				ms.Checks = append(ms.Checks, ch)
			}
		}
	}
	var warn string
	if ms.Load, warn = mergeLoads(loads); warn != "" {
		ms.Warnings = append(ms.Warnings, warn)
	}
	ms.Scalars = mergeScalars(ran)
	if len(ran) > 1 {
		var starts []time.Time
		for _, p := range ran {
			if p.MeasuredNs > 0 {
				starts = append(starts, p.StartedAt.Add(time.Duration(p.MeasureOffsetMs)*time.Millisecond))
			}
		}
		if len(starts) > 1 {
			sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
			skew := starts[len(starts)-1].Sub(starts[0])
			ms.ShardSkewMs = Float(float64(skew.Microseconds()) / 1000)
			if opt.MaxSkew > 0 && skew > opt.MaxSkew {
				ms.Warnings = append(ms.Warnings, fmt.Sprintf("the load machines' measured windows started %v apart, more than merge.max_skew %v: "+
					"their clocks or their schedules disagreed, so the sums mix different moments", skew.Round(time.Millisecond), opt.MaxSkew))
			}
		}
	}
	return ms, nil
}

// mergeScalars sums the scalars measured in units per second (each
// machine measured its own part) and keeps the others of the first.
func mergeScalars(ran []*Scenario) []Scalar {
	out := append([]Scalar(nil), ran[0].Scalars...)
	for i := range out {
		if !strings.HasSuffix(out[i].Unit, "/s") || out[i].Value == nil {
			continue
		}
		sum := *out[i].Value
		for _, p := range ran[1:] {
			for _, sc := range p.Scalars {
				if sc.Name == out[i].Name && sc.Value != nil {
					sum += *sc.Value
				}
			}
		}
		out[i].Value = Float(sum)
	}
	return out
}

// mergeLoads adds the loads several machines applied at once: rates,
// workers and in-flight bounds, and the intended, late and dropped
// starts. What cannot be added (a step ramp's per-step figures, loads of
// different modes) is taken from the first, with a warning saying so.
func mergeLoads(loads []*Load) (*Load, string) {
	if loads[0] == nil {
		return nil, ""
	}
	out := *loads[0]
	out.Steps = append([]Step(nil), loads[0].Steps...)
	var warn []string
	for _, l := range loads[1:] {
		if l == nil || l.Mode != out.Mode || l.Arrival != out.Arrival {
			warn = append(warn, "the load machines applied loads of different kinds; the load shown is the first file's")
			return loads[0], strings.Join(warn, "; ")
		}
		out.Workers += l.Workers
		out.RateOpsPerSec += l.RateOpsPerSec
		out.MaxInFlight += l.MaxInFlight
		out.IntendedStarts += l.IntendedStarts
		out.LateStarts += l.LateStarts
		out.DroppedStarts += l.DroppedStarts
	}
	if len(out.Steps) > 0 {
		warn = append(warn, "the step ramp's per-step figures are the first file's: steps of several machines cannot be added without their histograms")
	}
	return &out, strings.Join(warn, "; ")
}

func samePlan(a, b map[scenarioKey][]string, an, bn string) error {
	var diffs []string
	for k, ops := range a {
		bops, ok := b[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%d nodes %s #%d is only in %s", k.size, k.name, k.rep, an))
		case strings.Join(ops, ",") != strings.Join(bops, ","):
			diffs = append(diffs, fmt.Sprintf("%d nodes %s #%d has operations %v in %s but %v in %s", k.size, k.name, k.rep, ops, an, bops, bn))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%d nodes %s #%d is only in %s", k.size, k.name, k.rep, bn))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	sort.Strings(diffs)
	if len(diffs) > 5 {
		diffs = append(diffs[:5], fmt.Sprintf("and %d more differences", len(diffs)-5))
	}
	return fmt.Errorf("%w: %s", ErrPlanMismatch, strings.Join(diffs, "; "))
}

func findScenario(r *Run, size int, name string, rep int) *Scenario {
	for ci := range r.Clusters {
		if r.Clusters[ci].Size != size {
			continue
		}
		for si := range r.Clusters[ci].Scenarios {
			if s := &r.Clusters[ci].Scenarios[si]; s.Name == name && s.Repetition == rep {
				return s
			}
		}
	}
	return nil
}

func findOp(r *Run, size int, name string, rep int, op string) (Operation, bool) {
	if s := findScenario(r, size, name, rep); s != nil {
		for _, o := range s.Operations {
			if o.Name == op {
				return o, true
			}
		}
	}
	return Operation{}, false
}

// mergeOps adds operations measured at the same time by several machines.
func mergeOps(parts []Operation) (Operation, error) {
	out := Operation{Name: parts[0].Name, PhaseOf: parts[0].PhaseOf}
	var total, totalUnc *hdr.Histogram
	for _, p := range parts {
		out.Count += p.Count
		out.Errors += p.Errors
		out.RateLimited += p.RateLimited
		out.OutOfRange += p.OutOfRange
		out.Unfinished += p.Unfinished
		out.ThroughputOpsPerSec += p.ThroughputOpsPerSec
		for k, v := range p.ErrorsByKind {
			if out.ErrorsByKind == nil {
				out.ErrorsByKind = map[string]int64{}
			}
			out.ErrorsByKind[k] += v
		}
		if err := addHist(&total, p.Histogram); err != nil {
			return out, err
		}
		if p.UncorrectedHistogram != "" {
			if err := addHist(&totalUnc, p.UncorrectedHistogram); err != nil {
				return out, err
			}
		}
	}
	if total != nil {
		out.Latency, out.Histogram = Summarize(total), EncodeHistogram(total)
	}
	if totalUnc != nil {
		u := Summarize(totalUnc)
		out.Uncorrected, out.UncorrectedHistogram = &u, EncodeHistogram(totalUnc)
	}
	out.Timeline = parts[0].Timeline
	return out, nil
}

func addHist(total **hdr.Histogram, encoded string) error {
	if encoded == "" {
		return nil
	}
	h, err := DecodeHistogram(encoded)
	if err != nil {
		return err
	}
	if *total == nil {
		*total = h
		return nil
	}
	if dropped := (*total).Merge(h); dropped > 0 {
		return fmt.Errorf("%d values fell outside the histogram while merging", dropped)
	}
	return nil
}
