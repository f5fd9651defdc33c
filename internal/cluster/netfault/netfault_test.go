package netfault

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster"
)

// TestMain lets the test binary play a member: an echo server or a
// client that sends numbered lines and reads them back.
func TestMain(m *testing.M) {
	switch os.Getenv("NETFAULT_HELPER") {
	case "serve":
		serve()
	case "send":
		send(os.Args[len(os.Args)-2], os.Args[len(os.Args)-1])
	default:
		os.Exit(m.Run())
	}
}

func serve() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	for {
		conn, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		go func() {
			sc := bufio.NewScanner(conn)
			for sc.Scan() {
				fmt.Fprintln(conn, sc.Text())
			}
			conn.Close()
		}()
	}
}

// send connects to port and sends n lines of 1 KiB, each read back
// within 2 s; it prints "got i" for each.
func send(port, count string) {
	n, _ := strconv.Atoi(count)
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 2*time.Second)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer conn.Close()
	sc := bufio.NewScanner(conn)
	pad := strings.Repeat("x", 1024)
	for i := range n {
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := fmt.Fprintf(conn, "%d %s\n", i, pad); err != nil {
			fmt.Println("error:", err)
			return
		}
		if !sc.Scan() {
			fmt.Println("error:", sc.Err())
			return
		}
		if got := strings.Fields(sc.Text())[0]; got != strconv.Itoa(i) {
			fmt.Println("error: out of order:", got, "for", i)
			return
		}
		fmt.Println("got", i)
	}
}

// helper starts the test binary as a helper in member id's cgroup.
func helper(t *testing.T, nc cluster.NetworkCluster, id string, args ...string) *exec.Cmd {
	t.Helper()
	fd, err := nc.CgroupFD(id)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=XXX"}, args...)...)
	cmd.Env = append(os.Environ(), "NETFAULT_HELPER="+map[bool]string{true: "serve", false: "send"}[len(args) == 0])
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	return cmd
}

// exchange runs a client in member b against the server's port: how many
// of n lines came back, and the client's error line, if any.
func exchange(t *testing.T, nc cluster.NetworkCluster, port string, n int) (int, string) {
	t.Helper()
	out, err := helper(t, nc, "b", port, strconv.Itoa(n)).Output()
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	got, why := 0, ""
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch {
		case strings.HasPrefix(line, "got "):
			got++
		case line != "":
			why = line
		}
	}
	return got, why
}

// Partitions cut both ways and heal; shaped links pass every packet
// through odbench's queue, in order, and a link losing everything
// carries nothing. Counts, not times: the delays are only checked to
// have let every line through in order.
func TestPartitionAndShape(t *testing.T) {
	k, err := New()
	if err != nil {
		t.Skipf("no kernel network faults here: %v", err)
	}
	nc, err := k.Prepare(t.TempDir(), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := nc.Close(); err != nil {
			t.Error(err)
		}
	}()
	srv := helper(t, nc, "a")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatal("the server printed no port")
	}
	port := sc.Text()
	q := func() (uint64, uint64) {
		if c := nc.(*netCluster); c.q != nil {
			return c.q.counts()
		}
		return 0, 0
	}
	defer func() {
		if c := nc.(*netCluster); c.q != nil && t.Failed() {
			n, err := c.q.readErrors()
			t.Logf("the queue's reads failed %d times (last: %v)", n, err)
		}
	}()

	if got, why := exchange(t, nc, port, 5); got != 5 {
		t.Fatalf("unfaulted: %d of 5 lines back (%s)", got, why)
	}
	if err := nc.Partition([]string{"a"}); err != nil {
		t.Fatal(err)
	}
	if got, why := exchange(t, nc, port, 5); got != 0 || why == "" {
		t.Errorf("partitioned: %d lines back (%s), want none", got, why)
	}
	if err := nc.Heal(); err != nil {
		t.Fatal(err)
	}
	if got, why := exchange(t, nc, port, 5); got != 5 {
		t.Fatalf("healed: %d of 5 lines back (%s)", got, why)
	}

	if err := nc.Shape([]string{"a"}, cluster.LinkFault{Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, BandwidthKBPerSec: 200}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if got, why := exchange(t, nc, port, 20); got != 20 {
		t.Errorf("delayed: %d of 20 lines back (%s)", got, why)
	}
	t.Logf("20 lines over a shaped link in %v", time.Since(start))
	seen, _ := q()
	if seen < 40 { // every line is at least one packet each way
		t.Errorf("%d packets went through the queue, want at least 40", seen)
	}
	if err := nc.Shape([]string{"a"}, cluster.LinkFault{LossPercent: 100}); err != nil {
		t.Fatal(err)
	}
	if got, why := exchange(t, nc, port, 5); got != 0 || why == "" {
		t.Errorf("all lost: %d lines back (%s), want none", got, why)
	}
	if _, dropped := q(); dropped == 0 {
		t.Error("no packet was dropped on a link losing 100%")
	}
	if err := nc.Heal(); err != nil {
		t.Fatal(err)
	}
	before, _ := q()
	if got, why := exchange(t, nc, port, 5); got != 5 {
		t.Errorf("healed: %d of 5 lines back (%s)", got, why)
	}
	if after, _ := q(); after != before {
		t.Errorf("%d packets queued after the heal", after-before)
	}
}
