package cluster

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/node"
)

// bareProcs is the bare Raft cluster with each server in a process of its
// own (this test binary, re-run as a helper), the load applied inside the
// leader's process. Beside bareRaft (one process) and the reference node
// (three processes behind HTTP) it tells what running three Go processes
// costs apart from what the node's code costs.
type bareProcs struct {
	procs []*bareProc
}

type bareProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// ask sends one command line and returns the helper's one-line answer.
func (p *bareProc) ask(line string) (string, error) {
	if _, err := fmt.Fprintln(p.in, line); err != nil {
		return "", err
	}
	if !p.out.Scan() {
		return "", fmt.Errorf("bare raft helper %d exited (%v)", p.cmd.Process.Pid, p.out.Err())
	}
	ans := p.out.Text()
	if e, ok := strings.CutPrefix(ans, "error: "); ok {
		return "", fmt.Errorf("bare raft helper: %s", e)
	}
	return ans, nil
}

func startBareProcs(tb testing.TB, n int) *bareProcs {
	tb.Helper()
	self, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	b := &bareProcs{}
	tb.Cleanup(b.stop)
	var servers []string
	for i := range n {
		id := fmt.Sprintf("p%d", i+1)
		cmd := exec.Command(self, "-test.run=XXX")
		cmd.Env = append(os.Environ(), "ODBENCH_TEST_HELPER=bare-raft-node", "ODBENCH_BARE_ID="+id, "ODBENCH_TEST_ROOT="+tb.TempDir())
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = procAttr(-1) // dies with this process
		in, err := cmd.StdinPipe()
		if err != nil {
			tb.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			tb.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		p := &bareProc{cmd: cmd, in: in, out: bufio.NewScanner(out)}
		b.procs = append(b.procs, p)
		addr, err := p.ask("addr")
		if err != nil {
			tb.Fatal(err)
		}
		servers = append(servers, id+"="+addr)
	}
	if _, err := b.procs[0].ask("bootstrap " + strings.Join(servers, " ")); err != nil {
		tb.Fatal(err)
	}
	awaitLeader(tb, "the bare Raft processes", func() bool { return b.leader() != nil })
	return b
}

func (b *bareProcs) leader() *bareProc {
	for _, p := range b.procs {
		if ans, err := p.ask("leader?"); err == nil && ans == "yes" {
			return p
		}
	}
	return nil
}

func (b *bareProcs) pids() []int {
	var out []int
	for _, p := range b.procs {
		out = append(out, p.cmd.Process.Pid)
	}
	return out
}

// run has the leader apply 128-byte commands from clients goroutines for
// a second of warm-up and then d, and returns its throughput.
func (b *bareProcs) run(clients int, d time.Duration) (float64, error) {
	l := b.leader()
	if l == nil {
		return 0, fmt.Errorf("the bare Raft processes have no leader")
	}
	ans, err := l.ask(fmt.Sprintf("load %d %s", clients, d))
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(ans, 64)
}

func (b *bareProcs) stop() {
	for _, p := range b.procs {
		p.in.Close() // the helper stops its server and exits at EOF
	}
	for _, p := range b.procs {
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
	}
}

// helperBareRaftNode is the helper process: one bare Raft server that
// answers commands on stdin (addr, bootstrap ID=ADDR..., leader?, load
// CLIENTS DURATION) with one line each, and stops at EOF.
func helperBareRaftNode() {
	debug.SetGCPercent(node.DefaultGCPercent) // as the nodes it stands beside
	node, err := newBareNode(os.Getenv("ODBENCH_TEST_ROOT"), os.Getenv("ODBENCH_BARE_ID"))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	defer node.stop()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		ans, err := bareCommand(node, f)
		if err != nil {
			ans = "error: " + err.Error()
		}
		fmt.Println(ans)
	}
}

func bareCommand(node *bareNode, f []string) (string, error) {
	switch f[0] {
	case "addr":
		return string(node.trans.LocalAddr()), nil
	case "bootstrap":
		var cfg raft.Configuration
		for _, s := range f[1:] {
			id, addr, _ := strings.Cut(s, "=")
			cfg.Servers = append(cfg.Servers, raft.Server{ID: raft.ServerID(id), Address: raft.ServerAddress(addr)})
		}
		return "ok", node.r.BootstrapCluster(cfg).Error()
	case "leader?":
		if node.r.State() == raft.Leader {
			return "yes", nil
		}
		return "no", nil
	case "load":
		if len(f) != 3 {
			return "", fmt.Errorf("load CLIENTS DURATION")
		}
		clients, err := strconv.Atoi(f[1])
		if err != nil {
			return "", err
		}
		d, err := time.ParseDuration(f[2])
		if err != nil {
			return "", err
		}
		value := []byte(strings.Repeat("v", 128))
		op := load.Operation{Name: "apply", Do: func(ctx context.Context) error {
			return node.r.Apply(value, 10*time.Second).Error()
		}}
		res, err := load.RunClosed(context.Background(), load.Closed{Workers: clients, Warmup: time.Second, Duration: d}, op)
		if err != nil {
			return "", err
		}
		o := res.Operations()[0]
		if o.Errors > 0 {
			return "", fmt.Errorf("%d errors: %v", o.Errors, o.ErrorsByKind)
		}
		return strconv.FormatFloat(o.ThroughputOpsPerSec, 'f', 1, 64), nil
	}
	return "", fmt.Errorf("unknown command %q", f[0])
}
