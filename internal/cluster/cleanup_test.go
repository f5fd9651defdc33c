package cluster

// Members die with the odbench that started them, and what a killed
// odbench left behind is removed by the next one.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster/clustertest"
	"github.com/odbench/odbench/internal/target"
)

// helperStartAndWait runs in a child process: it starts a cluster, prints
// its node PIDs and temp dir, and waits to be killed.
func helperStartAndWait() {
	p, err := target.Load("odbench-node")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	d, err := NewStarter(StartOptions{Profile: p, Self: os.Getenv("ODBENCH_BIN"), TempRoot: os.Getenv("ODBENCH_TEST_ROOT"), ExtraArgs: []string{"--fsync=false"}})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := d.Start(ctx, 2)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for _, n := range c.Nodes() {
		fmt.Println(n.PID)
	}
	fmt.Println("dir", c.(*startedCluster).dir)
	time.Sleep(time.Minute)
}

func TestNodesDieWithOdbench(t *testing.T) {
	root := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := exec.Command(self, "-test.run=XXX")
	helper.Env = append(os.Environ(), "ODBENCH_TEST_HELPER=start-and-wait", "ODBENCH_BIN="+clustertest.Binary, "ODBENCH_TEST_ROOT="+root)
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = helper.Process.Kill(); _ = helper.Wait() })
	var pids []int
	var dir string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "error:") {
			t.Fatal(line)
		}
		if d, ok := strings.CutPrefix(line, "dir "); ok {
			dir = d
			break
		}
		pid, err := strconv.Atoi(line)
		if err != nil {
			t.Fatalf("helper said %q", line)
		}
		pids = append(pids, pid)
	}
	if len(pids) != 2 {
		t.Fatalf("helper reported %d node PIDs, want 2", len(pids))
	}
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	eventually(t, 5*time.Second, "nodes die with their odbench", func() error {
		for _, pid := range pids {
			if !processGone(pid) {
				return fmt.Errorf("node %d still running", pid)
			}
		}
		return nil
	})
	// The killed odbench could not remove its temp dir; the next start does.
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("expected the killed run's temp dir to remain until the next start: %v", err)
	}
	startClusterIn(t, root, 1)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("stale temp dir %s of a killed run was not removed at the next start", dir)
	}
}

func startClusterIn(t *testing.T, root string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := nodeStarter(t, root, []string{"--fsync=false"}).Start(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	stop, cancel2 := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel2()
	if err := c.Stop(stop); err != nil {
		t.Fatal(err)
	}
}
