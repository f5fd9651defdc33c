package metrics

import (
	"errors"
	"fmt"
	"sort"
	"strings"

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

// Merge combines runs of the same plan made at the same time from several
// load machines against one cluster. Per operation it adds the HDR
// histograms (exact: the percentiles are recomputed from the sum, never
// averaged), counts, errors and throughput. Everything that cannot be
// added (per-second timeline percentiles, scalars, resources of different
// hosts) is taken from the first run, and the merged run's warnings say so.
func Merge(runs []*Run, names []string) (*Run, error) {
	if len(runs) < 2 {
		return nil, fmt.Errorf("merge needs at least two runs, got %d", len(runs))
	}
	first := planOf(runs[0])
	for i, r := range runs[1:] {
		if err := samePlan(first, planOf(r), names[0], names[i+1]); err != nil {
			return nil, err
		}
	}
	out := *runs[0]
	out.Clusters = nil
	for _, c := range runs[0].Clusters {
		mc := c
		mc.Scenarios = nil
		for _, s := range c.Scenarios {
			ms := s
			ms.Operations = nil
			for _, op := range s.Operations {
				parts := []Operation{op}
				for _, r := range runs[1:] {
					if o, ok := findOp(r, c.Size, s.Name, s.Repetition, op.Name); ok {
						parts = append(parts, o)
					}
				}
				merged, err := mergeOps(parts)
				if err != nil {
					return nil, fmt.Errorf("%d nodes %s #%d %s: %w", c.Size, s.Name, s.Repetition, op.Name, err)
				}
				ms.Operations = append(ms.Operations, merged)
			}
			ms.Checks = append([]Check(nil), s.Checks...)
			loads := []*Load{s.Load}
			for _, r := range runs[1:] {
				o := findScenario(r, c.Size, s.Name, s.Repetition)
				if o == nil {
					continue
				}
				loads = append(loads, o.Load)
				if o.Status != StatusOK && ms.Status == StatusOK {
					ms.Status, ms.Error = o.Status, o.Error
				}
				// A check that failed on any load machine failed.
				for _, ch := range o.Checks {
					if !ch.Passed {
						ms.Checks = append(ms.Checks, ch)
					}
				}
			}
			var warn string
			ms.Load, warn = mergeLoads(loads)
			if warn != "" {
				ms.Warnings = append(append([]string(nil), ms.Warnings...), warn)
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
	out.Warnings = append(append([]string(nil), out.Warnings...),
		"merged from "+strings.Join(hosts, ", ")+": counts, errors, unfinished, throughput, histograms and the load applied "+
			"(rates, workers, intended, late and dropped starts) are sums over the load machines; a scenario failed on one failed, "+
			"with its failed checks; host, resources, scalars, events and per-second timelines are those of the first file")
	out.Summary = SummaryOf(&out)
	return &out, nil
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
