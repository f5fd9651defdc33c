package cluster

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFreePortsAreBelowTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	if low-portBase < 1000 {
		t.Skipf("ephemeral range starts at %d: the kernel picks", low)
	}
	ports, err := freePorts(30)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p < portBase || p >= low || seen[p] {
			t.Errorf("port %d: want distinct ports in [%d, %d)", p, portBase, low)
		}
		seen[p] = true
		release, ok := hold(p)
		if !ok {
			t.Errorf("port %d is not free", p)
			continue
		}
		release()
	}
}

// A member that loses one of its ports to another process between the
// choice and its bind fails to start; the start is then tried again
// with new ports instead of failing the cluster size.
func TestStartRetriesWhenAPortWasTaken(t *testing.T) {
	thief, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer thief.Close()
	taken := thief.Addr().(*net.TCPAddr).Port
	calls := 0
	pickPorts = func(n int) ([]int, error) {
		calls++
		ports, err := freePorts(n)
		if calls == 1 && err == nil {
			ports[len(ports)-1] = taken // member 1's gossip port
		}
		return ports, err
	}
	defer func() { pickPorts = freePorts }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := startCustom(t, ctx, 1)
	if err != nil {
		t.Fatalf("start with port %d taken: %v", taken, err)
	}
	if calls != 2 {
		t.Errorf("ports chosen %d times, want 2 (the first choice lost port %d)", calls, taken)
	}
	if api := c.Nodes()[0].API; strings.Contains(api, ":"+strconv.Itoa(taken)) {
		t.Errorf("member API %s on the taken port", api)
	}
}

func TestPortTaken(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errString("member n1 exited ...: listen tcp 127.0.0.1:40771: bind: address already in use"), true},
		{errString("member n1 exited: no leader"), false},
	} {
		if got := portTaken(tc.err); got != tc.want {
			t.Errorf("portTaken(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
