package cli

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/cluster/netfault"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/node"
	"github.com/odbench/odbench/internal/runner"
	"github.com/odbench/odbench/internal/target"
)

// nodeSide is how one side's members differ from the configuration:
// another binary (empty: the configured one), more arguments, a log
// folder.
type nodeSide struct {
	binary    string
	extraArgs []string
	logDir    string
}

// plan is what a run measures and how it reaches it: the target profile,
// the driver (and, in an A/B run, the baseline side's) and a description
// for the results.
type plan struct {
	profile  *target.Profile
	driver   cluster.Driver
	describe string
	baseline *runner.Side
}

// loadTarget loads cluster.target.
func loadTarget(cfg *config.Config) (*target.Profile, error) {
	p, err := target.Load(cfg.Cluster.Target)
	if err != nil {
		return nil, fmt.Errorf("cluster.target: %w", err)
	}
	if cfg.Cluster.Driver == "local" && p.Start == nil {
		return nil, fmt.Errorf("cluster.target: the %s profile has no start section, so odbench cannot start it: give the running members' URLs with --targets", p.Name)
	}
	return p, nil
}

// newPlan builds the configured driver and, for an A/B run (ab.binary),
// the baseline side's; runDir receives member logs.
func newPlan(cfg *config.Config, runDir string) (*plan, error) {
	p, err := loadTarget(cfg)
	if err != nil {
		return nil, err
	}
	logs := filepath.Join(runDir, "logs")
	if cfg.AB.Binary == "" {
		d, describe, err := newDriver(cfg, p, nodeSide{logDir: logs})
		return &plan{profile: p, driver: d, describe: describe}, err
	}
	cur, curDescribe, err := newDriver(cfg, p, nodeSide{extraArgs: cfg.AB.CurrentArgs, logDir: filepath.Join(logs, runner.SideCurrent)})
	if err != nil {
		return nil, err
	}
	base, baseDescribe, err := newDriver(cfg, p, nodeSide{binary: cfg.AB.Binary, extraArgs: cfg.AB.BaselineArgs,
		logDir: filepath.Join(logs, runner.SideBaseline)})
	if err != nil {
		return nil, fmt.Errorf("ab.binary: %w", err)
	}
	return &plan{profile: p, driver: cur, describe: curDescribe, baseline: &runner.Side{Driver: base, Describe: baseDescribe}}, nil
}

// rateLimit is the target's limit per second: cluster.rate_limit, else
// the profile's (0: none).
func rateLimit(cfg *config.Config, p *target.Profile) float64 {
	limit := cfg.Cluster.RateLimit
	if limit == "" {
		limit = p.RateLimit
	}
	r, _ := config.ParseRate(limit) // validated
	return r
}

// kernelFaults is odbench's own network faults, made once per process.
var kernelFaults = sync.OnceValues(func() (*netfault.Kernel, error) { return netfault.New() })

// isReferenceNode reports whether a profile starts odbench's own node:
// cluster.local's arguments go to its members.
func isReferenceNode(p *target.Profile) bool {
	return p.Start != nil && len(p.Start.Command) > 0 && p.Start.Command[0] == "{{.Self}}"
}

// newDriver builds the configured cluster driver for one side's members.
func newDriver(cfg *config.Config, p *target.Profile, side nodeSide) (cluster.Driver, string, error) {
	if cfg.Cluster.Driver == "external" {
		d := cluster.NewExternal(cfg.Cluster.Targets, p, cfg.Cluster.StartTimeout)
		d.RateLimit = rateLimit(cfg, p)
		return d, fmt.Sprintf("external %s cluster at %s", p.Name, strings.Join(cfg.Cluster.Targets, ", ")), nil
	}
	opt := cluster.StartOptions{Profile: p, LogDir: side.logDir, RateLimit: rateLimit(cfg, p)}
	self, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("finding the odbench executable: %v", err)
	}
	opt.Self = self
	var args []string
	if isReferenceNode(p) {
		l := cfg.Cluster.Local
		bin := side.binary
		if bin == "" {
			bin = l.Binary
		}
		if bin != "" {
			if opt.Self, err = findBinary(bin); err != nil {
				return nil, "", err
			}
		}
		args = []string{fmt.Sprintf("--fsync=%t", l.Fsync), "--slots", strconv.Itoa(l.Slots), "--token-delay", l.TokenDelay.String(),
			"--heartbeat-timeout", l.HeartbeatTimeout.String(), "--election-timeout", l.ElectionTimeout.String(), "--leader-lease", l.LeaderLease.String()}
		if biggest := slices.Max(cfg.System.ModelSizes); biggest > node.DefaultMaxModelMB {
			args = append(args, "--max-model-mb", strconv.Itoa(biggest)) // the node refuses bigger models
		}
		args = append(args, l.ExtraArgs...)
	} else if bin := cmp.Or(side.binary, cfg.Cluster.Local.Binary); bin != "" {
		if opt.Binary, err = findBinary(bin); err != nil {
			return nil, "", err
		}
	}
	opt.ExtraArgs = append(args, side.extraArgs...)
	if p.Faults.Network == target.NetworkKernel {
		k, err := kernelFaults()
		if err != nil {
			opt.NetworkWhy = err.Error()
		} else {
			opt.Network = k
		}
	}
	d, err := cluster.NewStarter(opt)
	if err != nil {
		return nil, "", err
	}
	from := opt.Binary
	switch {
	case from != "":
	case isReferenceNode(p) && opt.Self == self:
		// This very binary (a go run's lives in a temp dir: its path says nothing).
		from = "this odbench's own `odbench node`"
	case isReferenceNode(p):
		from = opt.Self
	default:
		from = p.Start.Command[0]
	}
	describe := fmt.Sprintf("local clusters of the %s target profile from %s", p.Name, from)
	if len(opt.ExtraArgs) > 0 {
		describe += " (" + strings.Join(opt.ExtraArgs, " ") + ")"
	}
	return d, describe, nil
}

// findBinary resolves a member binary: a bare name on PATH, else a path
// that must exist.
func findBinary(bin string) (string, error) {
	if !strings.ContainsRune(bin, os.PathSeparator) {
		found, err := exec.LookPath(bin) // --ab odbench-main
		if err != nil {
			return "", fmt.Errorf("the member binary: %w", err)
		}
		return found, nil
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("the member binary: %w", err)
	}
	// Members run in directories of their own: a relative path would not
	// lead there.
	return filepath.Abs(bin)
}
