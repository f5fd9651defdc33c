package cluster

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
)

// A member's ports are chosen before it starts and bound by it later, so
// another process can take one in between. Ports the kernel hands out
// for outgoing connections (its ephemeral range, 32768-60999 on Linux)
// are taken that way all the time on a busy machine: every connection a
// test or a load run opens takes one. freePorts therefore picks from
// below that range, where only programs that ask for a port by number
// bind, and checks each one free for TCP and for UDP (gossip listens on
// both). A start that still loses a port to another process is retried
// with new ports (startAttempts).

// startAttempts bounds how often a start whose member could not bind a
// port is tried again with new ports.
const startAttempts = 3

// pickPorts chooses a cluster's ports; tests replace it.
var pickPorts = freePorts

// portBase is the lowest port freePorts picks.
const portBase = 20000

// freePorts returns n distinct loopback ports free for TCP and UDP,
// below the kernel's ephemeral range where it has room for them, and
// from the kernel's own choice otherwise.
func freePorts(n int) ([]int, error) {
	low := ephemeralLow()
	if low-portBase < 1000 {
		return kernelPorts(n)
	}
	var out []int
	var held []func()
	defer func() {
		for _, release := range held {
			release()
		}
	}()
	for tries := 0; len(out) < n; tries++ {
		if tries > 100*n {
			return nil, fmt.Errorf("found %d free ports between %d and %d in %d tries, need %d", len(out), portBase, low, tries, n)
		}
		p := portBase + rand.IntN(low-portBase)
		if release, ok := hold(p); ok {
			held = append(held, release)
			out = append(out, p)
		}
	}
	return out, nil
}

// hold binds port p on loopback for TCP and UDP; release frees both.
func hold(p int) (release func(), ok bool) {
	addr := fmt.Sprintf("127.0.0.1:%d", p)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, false
	}
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		l.Close()
		return nil, false
	}
	return func() { l.Close(); u.Close() }, true
}

// ephemeralLow reads the bottom of the kernel's ephemeral port range;
// 0 when it cannot (then freePorts leaves the choice to the kernel).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	var low, high int
	if _, err := fmt.Sscan(string(b), &low, &high); err != nil {
		return 0
	}
	return low
}

// kernelPorts asks the kernel for n distinct free loopback ports.
func kernelPorts(n int) ([]int, error) {
	var out []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// portTaken tells whether a start failed because a member could not bind
// one of its ports: another process took it after it was chosen.
func portTaken(err error) bool {
	return err != nil && !errors.Is(err, ErrNotFormed) &&
		strings.Contains(strings.ToLower(err.Error()), "address already in use")
}
