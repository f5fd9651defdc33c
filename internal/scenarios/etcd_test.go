package scenarios

// etcd, a system odbench did not write, driven through its built-in
// target profile: formation, load at 1, 16 and 256 clients, the leader
// killed and restarted, a minority partitioned and a slow link made by
// odbench's kernel rules, the linearizability verdict on all of these,
// and the negative control that must fail.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/cluster/netfault"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/target"
)

// requireEnv is set by .ci/run: what these tests need must be there, and
// a missing piece fails them instead of skipping them.
const requireEnv = "ODBENCH_REQUIRE_FOREIGN_TARGETS"

// needs skips t (or fails it under requireEnv) with why.
func needs(t *testing.T, why string) {
	t.Helper()
	if os.Getenv(requireEnv) != "" {
		t.Fatalf("%s (%s is set: the environment must provide it)", why, requireEnv)
	}
	t.Skip(why)
}

// startEtcd starts n members of the named etcd profile with odbench's
// kernel network faults, stopped when t ends.
func startEtcd(t *testing.T, profile string, n int) (cluster.Cluster, *target.Profile) {
	t.Helper()
	if _, err := exec.LookPath("etcd"); err != nil {
		needs(t, "etcd is not installed: apt-get install etcd-server")
	}
	net, err := netfault.New()
	if err != nil {
		needs(t, "odbench cannot make network faults here: "+err.Error())
	}
	p, err := target.Load(profile)
	if err != nil {
		t.Fatal(err)
	}
	d, err := cluster.NewStarter(cluster.StartOptions{Profile: p, TempRoot: t.TempDir(), Network: net})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := d.Start(ctx, n)
	if c != nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := c.Stop(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	if err != nil {
		t.Fatalf("starting %d etcd members: %v", n, err)
	}
	return c, p
}

// runOn runs spec against c as a member of profile p.
func runOn(t *testing.T, cfg *config.Config, spec Spec, c cluster.Cluster, p *target.Profile) metrics.Scenario {
	t.Helper()
	env := NewEnv(cfg, slog.New(slog.DiscardHandler), spec, t.TempDir(), 1)
	env.Target = p
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := spec.Run(ctx, env, c)
	res, _, _ := env.Result()
	if err != nil {
		t.Fatalf("%s: %v", spec.Name, err)
	}
	res.Status = metrics.StatusOK // as the runner does before its verdict
	metrics.Judge(&res, cfg.Targets.ErrorRatePercent)
	return res
}

// wantLinearizable fails t unless res ran the history workload, judged
// it linearizable, and passed every check.
func wantLinearizable(t *testing.T, res metrics.Scenario) {
	t.Helper()
	if cs := res.Consistency; cs == nil || cs.Verdict != "linearizable" || cs.Operations == 0 {
		t.Errorf("%s: consistency %+v, want a linearizable history", res.Name, cs)
	}
	for _, ch := range res.Checks {
		if !ch.Passed {
			t.Errorf("%s: check %s failed: %s", res.Name, ch.Name, ch.Detail)
		}
	}
	if res.Status != metrics.StatusOK {
		t.Errorf("%s: %s %s", res.Name, res.Status, res.Error)
	}
}

func TestEtcd(t *testing.T) {
	c, p := startEtcd(t, "etcd", 3)
	t.Run("formed: every member names the one leader, the member list has 3", func(t *testing.T) {
		leader, err := c.(cluster.Observer).Leader(context.Background())
		if err != nil || leader.ID == "" {
			t.Fatalf("leader %+v: %v", leader, err)
		}
		st, err := c.(cluster.Observer).Status(context.Background(), leader)
		if err != nil || !st.HasTerm || st.Term == 0 || st.Leader != st.ID {
			t.Errorf("the leader's status %+v: %v", st, err)
		}
	})
	cfg := shortConfig()
	cfg.Consensus.CheckConsistency = true
	for _, clients := range []int{1, 16, 256} {
		cfg.Execution.ConcurrentWorkers = clients
		for _, name := range []string{fmt.Sprintf("consensus/apply/clients=%d/value=128B", clients),
			fmt.Sprintf("consensus/read/linearizable/clients=%d", clients)} {
			t.Run(name, func(t *testing.T) {
				res := runOn(t, cfg, specNamed(t, cfg, name), c, p)
				if op := res.Operations[0]; op.Count == 0 || op.Errors > 0 {
					t.Errorf("%s: %d operations, %d errors %v", op.Name, op.Count, op.Errors, op.ErrorsByKind)
				}
				wantLinearizable(t, res)
			})
		}
	}
	cfg = shortConfig()
	cfg.Execution.Duration = 3 * time.Second
	// Recovery is checked as a state, not a time: etcd's minority caught
	// up 7.4 s after healing once in nine runs here, past the default 5 s
	// target. The scenario still fails if the minority has not caught up
	// 15 s after healing.
	cfg.Targets.RecoveryTime = time.Minute
	for _, name := range []string{"faults/leader_failure", "faults/partition_minority", "faults/slow_link"} {
		t.Run(name, func(t *testing.T) {
			res := runOn(t, cfg, specNamed(t, cfg, name), c, p)
			wantLinearizable(t, res)
			if err := healthyWithin(c.(cluster.Healther)); err != nil {
				t.Errorf("after %s: %v", name, err)
			}
		})
	}
}

// healthyWithin waits, as the runner does between scenarios (with the default
// cluster.settle_timeout), until h reports a leader every member follows
// and every member caught up; it returns what was last wrong. A member
// applying the entries of a healed partition can lag the commit index for
// a moment on a loaded machine.
func healthyWithin(h cluster.Healther) error {
	ctx, cancel := context.WithTimeout(context.Background(), config.Default().Cluster.SettleTimeout)
	defer cancel()
	for {
		err := h.Healthy(ctx)
		if err == nil || ctx.Err() != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The negative control: serializable reads standing in for linearizable
// ones. A member cut off from the majority answers from what it last
// knew, and the recorded history must show it.
func TestEtcdSerializableReadsAreCaught(t *testing.T) {
	c, p := startEtcd(t, "etcd-serializable-reads", 3)
	cfg := shortConfig()
	// A partition of a second, and operations cut off after 200 ms: every
	// history client reads on the minority member several times after the
	// majority has moved on, so a stale read is all but certain.
	cfg.Execution.Duration, cfg.Faults.HistoryTimeout = 4*time.Second, 200*time.Millisecond
	res := runOn(t, cfg, specNamed(t, cfg, "faults/partition_minority"), c, p)
	if cs := res.Consistency; cs == nil || cs.Verdict != "violation" {
		t.Fatalf("consistency %+v, want a violation", res.Consistency)
	}
	wantFailed(t, res, "linearizable", metrics.SeverityFail)
}

// A profile whose ready conditions etcd cannot meet: the cluster is
// returned running, beside ErrNotFormed naming what each member said.
func TestEtcdNotFormed(t *testing.T) {
	if _, err := exec.LookPath("etcd"); err != nil {
		needs(t, "etcd is not installed: apt-get install etcd-server")
	}
	p, err := target.Parse("four.yaml", []byte(`
base: etcd
name: etcd-wants-four
ready:
  - {method: POST, path: /v3/cluster/member/list, body: "{}", json: members, count_at_least: "{{add .Size 1}}"}
faults: {network: none}
`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := cluster.NewStarter(cluster.StartOptions{Profile: p, TempRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.Start(ctx, 1)
	if c != nil {
		defer c.Stop(context.Background())
	}
	if !errors.Is(err, cluster.ErrNotFormed) || !strings.Contains(err.Error(), "n1 reports 1 members (want at least 2)") {
		t.Fatalf("err = %v, want not formed with the member count seen", err)
	}
}
