package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/node"
	"github.com/odbench/odbench/internal/runner"
)

// nodeSide is how one side's nodes differ from the configuration: another
// binary (empty: the configured one), more arguments, a log folder.
type nodeSide struct {
	binary    string
	extraArgs []string
	logDir    string
}

// readyChecks compiles cluster.ready (errors name each condition's field).
func readyChecks(cfg *config.Config) (*cluster.ReadyChecks, error) {
	specs := make([]cluster.ReadySpec, len(cfg.Cluster.Ready))
	for i, r := range cfg.Cluster.Ready {
		specs[i] = cluster.ReadySpec{URL: r.URL, Path: r.Path, CountAtLeast: r.CountAtLeast, Equals: r.Equals, NotEquals: r.NotEquals}
	}
	return cluster.NewReadyChecks(specs)
}

// newDrivers builds the configured driver and, for an A/B run (ab.binary),
// the baseline side's; runDir receives node logs.
func newDrivers(cfg *config.Config, runDir string) (cluster.Driver, string, *runner.Side, error) {
	logs := filepath.Join(runDir, "logs")
	if cfg.AB.Binary == "" {
		d, describe, err := newDriver(cfg, nodeSide{logDir: logs})
		return d, describe, nil, err
	}
	cur, curDescribe, err := newDriver(cfg, nodeSide{extraArgs: cfg.AB.CurrentArgs, logDir: filepath.Join(logs, runner.SideCurrent)})
	if err != nil {
		return nil, "", nil, err
	}
	base, baseDescribe, err := newDriver(cfg, nodeSide{binary: cfg.AB.Binary, extraArgs: cfg.AB.BaselineArgs,
		logDir: filepath.Join(logs, runner.SideBaseline)})
	if err != nil {
		return nil, "", nil, fmt.Errorf("ab.binary: %w", err)
	}
	return cur, curDescribe, &runner.Side{Driver: base, Describe: baseDescribe}, nil
}

// newDriver builds the configured cluster driver for one side's nodes.
func newDriver(cfg *config.Config, side nodeSide) (cluster.Driver, string, error) {
	switch cfg.Cluster.Driver {
	case "external":
		ready, err := readyChecks(cfg)
		if err != nil {
			return nil, "", err
		}
		d := cluster.NewExternal(cfg.Cluster.Targets, cfg.Cluster.StartTimeout)
		d.Ready = ready
		return d, "external cluster at " + strings.Join(cfg.Cluster.Targets, ", "), nil
	case "exec":
		x := cfg.Cluster.Exec
		command := append(append([]string(nil), x.Command...), side.extraArgs...)
		version := x.VersionCommand
		if side.binary != "" {
			if len(version) > 0 && version[0] == command[0] {
				version = append([]string{side.binary}, version[1:]...)
			}
			command[0] = side.binary
		}
		ready, err := readyChecks(cfg)
		if err != nil {
			return nil, "", err
		}
		d, err := cluster.NewExec(cluster.ExecOptions{Command: command, Env: x.Env, APIURL: x.APIURL, HealthURL: x.HealthURL,
			ReadyPattern: x.ReadyPattern, ClusterReadyURL: x.ClusterReadyURL, Capture: x.Capture, ConfigFile: x.ConfigFile,
			ConfigTemplate: x.ConfigTemplate, VersionCommand: version, Ready: ready, LogDir: side.logDir})
		if err != nil {
			return nil, "", err
		}
		return d, "exec clusters of " + strings.Join(command, " "), nil
	case "local":
		l := cfg.Cluster.Local
		bin := side.binary
		if bin == "" {
			bin = l.Binary
		}
		if bin != "" && !strings.ContainsRune(bin, os.PathSeparator) {
			// A bare name is looked up on PATH: --ab odbench-main.
			found, err := exec.LookPath(bin)
			if err != nil {
				return nil, "", fmt.Errorf("the node binary: %w", err)
			}
			bin = found
		}
		if bin == "" {
			self, err := os.Executable()
			if err != nil {
				return nil, "", fmt.Errorf("finding the odbench executable to start nodes from: %v; set cluster.local.binary", err)
			}
			bin = self
		}
		if _, err := os.Stat(bin); err != nil {
			return nil, "", fmt.Errorf("the node binary: %w", err)
		}
		args := []string{fmt.Sprintf("--fsync=%t", l.Fsync), "--slots", strconv.Itoa(l.Slots), "--token-delay", l.TokenDelay.String(),
			"--heartbeat-timeout", l.HeartbeatTimeout.String(), "--election-timeout", l.ElectionTimeout.String(), "--leader-lease", l.LeaderLease.String()}
		if biggest := slices.Max(cfg.System.ModelSizes); biggest > node.DefaultMaxModelMB {
			args = append(args, "--max-model-mb", strconv.Itoa(biggest)) // the node refuses bigger models
		}
		args = append(append(args, l.ExtraArgs...), side.extraArgs...)
		return cluster.NewLocal(cluster.LocalOptions{Binary: bin, NodeArgs: args, LogDir: side.logDir}),
			fmt.Sprintf("local clusters of odbench's reference node from %s (%s)", bin, strings.Join(args, " ")), nil
	}
	return nil, "", fmt.Errorf("cluster.driver %q is not available yet in this build; use the external driver (--targets URL,...)", cfg.Cluster.Driver)
}
