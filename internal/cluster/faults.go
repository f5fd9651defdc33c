// Faults of a started cluster: signals to its member processes, and
// network and disk faults the way its profile says (the system's own
// fault routes, or odbench's kernel rules).

package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/odbench/odbench/internal/target"
)

// NetworkFaults makes network faults from outside the members of the
// clusters odbench starts, without their cooperation.
type NetworkFaults interface {
	// Prepare readies the faults of one cluster, whose members are ids,
	// with its state under dir.
	Prepare(dir string, ids []string) (NetworkCluster, error)
}

// NetworkCluster cuts and shapes the traffic between one cluster's
// members.
type NetworkCluster interface {
	// CgroupFD returns the fd of member id's cgroup, to start it in.
	CgroupFD(id string) (int, error)
	// Partition cuts every link between the minority and the others.
	Partition(minority []string) error
	// Shape degrades every link between ids and the others, both ways.
	Shape(ids []string, link LinkFault) error
	// ShapeLacks says why Shape cannot, or "" when it can.
	ShapeLacks() string
	// Heal removes every fault.
	Heal() error
	// Close heals and releases everything Prepare made.
	Close() error
}

var (
	_ Killer          = (*startedCluster)(nil)
	_ Restarter       = (*startedCluster)(nil)
	_ Pauser          = (*startedCluster)(nil)
	_ Partitioner     = (*startedCluster)(nil)
	_ Shaper          = (*startedCluster)(nil)
	_ DiskSlower      = (*startedCluster)(nil)
	_ AbilityReporter = (*startedCluster)(nil)
	_ Watcher         = (*startedCluster)(nil)
	_ Describer       = (*startedCluster)(nil)
)

// Lacks says why the cluster lacks an ability, from its profile.
func (c *startedCluster) Lacks(a Ability) string {
	p := c.drv.opt.Profile
	switch a {
	case CanKill, CanRestart, CanPause:
		if !p.Faults.SignalsOK() {
			return fmt.Sprintf("the %s profile sets faults.signals false", p.Name)
		}
	case CanPartition, CanShape:
		switch p.Faults.Network {
		case target.NetworkAPI:
		case target.NetworkKernel:
			if c.net == nil {
				why := c.netWhy
				if why == "" {
					why = c.drv.opt.NetworkWhy
				}
				return fmt.Sprintf("odbench cannot %s the %s profile's members here: %s", a, p.Name, why)
			}
			if why := c.net.ShapeLacks(); a == CanShape && why != "" {
				return why
			}
		default:
			return fmt.Sprintf("the %s profile has no way to %s its members (faults.network)", p.Name, a)
		}
	case CanSlowDisk:
		if p.Faults.Disk != target.NetworkAPI {
			return fmt.Sprintf("the %s profile has no way to slow a member's disk (faults.disk)", p.Name)
		}
	}
	return ""
}

// faultBody is the reference node's fault request (its admin route's
// body), as the "api" network and disk faults send it.
type faultBody struct {
	Drop      []string                  `json:"drop,omitempty"`
	Links     map[string]map[string]any `json:"links,omitempty"`
	DiskDelay string                    `json:"disk_delay,omitempty"`
}

// sendFault posts body to member p's fault route.
func (c *startedCluster) sendFault(ctx context.Context, p *proc, body any) error {
	r := c.drv.opt.Profile.Routes[target.RouteFaultsSet]
	b, _ := json.Marshal(body)
	a, err := c.caller.do(ctx, &r, p.apiURL(), target.Vars{Member: p.id, Body: string(b)})
	if err != nil {
		return fmt.Errorf("member %s: %s: %v", p.id, r.Describe(), err)
	}
	if a.Code/100 != 2 {
		return fmt.Errorf("member %s: %s answered HTTP %d: %s", p.id, r.Describe(), a.Code, clipLine(string(a.Body)))
	}
	return nil
}

func (c *startedCluster) checkIDs(ids []string) error {
	for _, id := range ids {
		if _, err := c.proc(id); err != nil {
			return err
		}
	}
	return nil
}

// Partition cuts the members in minority off from the others, both ways.
func (c *startedCluster) Partition(ctx context.Context, minority []string) error {
	if why := c.Lacks(CanPartition); why != "" {
		return errors.New(why)
	}
	if err := c.checkIDs(minority); err != nil {
		return err
	}
	if c.net != nil {
		return c.net.Partition(minority)
	}
	var majority []string
	for _, id := range c.ids() {
		if !slices.Contains(minority, id) {
			majority = append(majority, id)
		}
	}
	var errs []error
	for _, p := range c.procs {
		if !p.running() {
			continue
		}
		other := majority
		if !slices.Contains(minority, p.id) {
			other = minority
		}
		errs = append(errs, c.sendFault(ctx, p, faultBody{Drop: other}))
	}
	return errors.Join(errs...)
}

// Shape degrades every link between the members ids and the others.
func (c *startedCluster) Shape(ctx context.Context, ids []string, link LinkFault) error {
	if why := c.Lacks(CanShape); why != "" {
		return errors.New(why)
	}
	if err := c.checkIDs(ids); err != nil {
		return err
	}
	if c.net != nil {
		return c.net.Shape(ids, link)
	}
	rule := map[string]any{"delay": link.Delay.String(), "jitter": link.Jitter.String(),
		"loss_percent": link.LossPercent, "bandwidth_kb_per_s": link.BandwidthKBPerSec}
	var errs []error
	for _, p := range c.procs {
		if !p.running() {
			continue
		}
		links := map[string]map[string]any{}
		for _, other := range c.ids() {
			if other != p.id && slices.Contains(ids, p.id) != slices.Contains(ids, other) {
				links[other] = rule
			}
		}
		errs = append(errs, c.sendFault(ctx, p, faultBody{Links: links}))
	}
	return errors.Join(errs...)
}

// SlowDisk makes member id's log writes wait delay.
func (c *startedCluster) SlowDisk(ctx context.Context, id string, delay time.Duration) error {
	if why := c.Lacks(CanSlowDisk); why != "" {
		return errors.New(why)
	}
	p, err := c.proc(id)
	if err != nil {
		return err
	}
	return c.sendFault(ctx, p, faultBody{DiskDelay: delay.String()})
}

// Heal removes every fault: the kernel's rules, and every member's own.
func (c *startedCluster) Heal(ctx context.Context) error {
	var errs []error
	if c.net != nil {
		errs = append(errs, c.net.Heal())
	}
	p := c.drv.opt.Profile
	if r, ok := p.Routes[target.RouteFaultsClear]; ok && (p.Faults.Network == target.NetworkAPI || p.Faults.Disk == target.NetworkAPI) {
		for _, m := range c.procs {
			if !m.running() {
				continue
			}
			a, err := c.caller.do(ctx, &r, m.apiURL(), target.Vars{Member: m.id})
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("member %s: %s: %v", m.id, r.Describe(), err))
			case a.Code/100 != 2:
				errs = append(errs, fmt.Errorf("member %s: %s answered HTTP %d", m.id, r.Describe(), a.Code))
			}
		}
	}
	return errors.Join(errs...)
}

// Stop stops every member, then releases the kernel's rules.
func (c *startedCluster) Stop(ctx context.Context) error {
	err := c.supervisor.Stop(ctx)
	if c.net != nil {
		err = errors.Join(err, c.net.Close())
	}
	return err
}
