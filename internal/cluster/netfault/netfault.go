// Package netfault cuts the network between the members of a cluster
// odbench starts, from outside them and without their cooperation, on
// 127.0.0.1 where they run, with their real addresses.
//
// What flows through it, in order:
//
//  1. New finds the cgroup v2 hierarchy (/sys/fs/cgroup, or
//     /sys/fs/cgroup/unified on a hybrid host) and checks that this
//     process may add nftables rules (root, or CAP_NET_ADMIN). Where
//     either is missing it says so; the fault scenarios are then skipped
//     with that reason. It also removes what a killed odbench left behind.
//  2. Prepare, for one cluster, makes a cgroup per member under
//     odbench-<pid>-<n>/ and an nftables table odbench_<pid>_<n>. The
//     cluster driver starts every member in its cgroup from its first
//     instruction (clone3's CLONE_INTO_CGROUP), so every socket it opens
//     belongs to it.
//  3. The table's output chain marks each packet a member sends with the
//     member's number (nftables' socket cgroupv2 match on the sending
//     socket). Partition adds, to its input chain, a drop for each cut
//     pair: a packet marked by one side arriving at a socket of the other
//     (the same match on the receiving socket). Both directions of every
//     connection between the sides are cut, whoever dialled it, and no
//     member's address changes: systems that hash or replicate peer
//     addresses (etcd's member IDs, hashicorp/raft's configuration) keep
//     working. Traffic from odbench's load is not marked and never cut.
//  4. Shape adds, for each shaped pair, a rule that marks the packet with
//     its link and hands it to a netfilter queue (xtables' NFQUEUE target
//     through nftables' compatibility layer, with the bypass flag: were
//     odbench gone, packets would pass). odbench reads the queue
//     (queue.go) and gives each packet its verdict after the link's delay
//     ± jitter, in order, no sooner than the link's bandwidth allows, or
//     drops it with the link's loss probability. This is netem's work
//     done in user space, so it works on kernels built without netem.
//  5. Heal flushes the cuts and the shaping rules and releases every held
//     packet; Close deletes the table and the cgroups.
package netfault

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"

	"github.com/odbench/odbench/internal/cluster"
)

// markBase is added to a member's number to mark its packets; the high
// bits keep clear of marks other software sets.
const markBase = 0x0db00000

// Kernel makes network faults with nftables rules matched by cgroup.
type Kernel struct {
	root string // the cgroup v2 mount
}

var _ cluster.NetworkFaults = (*Kernel)(nil)

// New checks that this host lets odbench cut its members' traffic, and
// removes the cgroups and tables a killed odbench left.
func New() (*Kernel, error) {
	root, err := cgroup2Root()
	if err != nil {
		return nil, err
	}
	conn, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %v", err)
	}
	probe := conn.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: fmt.Sprintf("odbench_probe_%d", os.Getpid())})
	if err := conn.Flush(); err != nil {
		return nil, fmt.Errorf("adding an nftables table needs root or CAP_NET_ADMIN: %v", err)
	}
	conn.DelTable(probe)
	if err := conn.Flush(); err != nil {
		return nil, fmt.Errorf("nftables: %v", err)
	}
	k := &Kernel{root: root}
	k.removeStale(conn)
	return k, nil
}

// cgroup2Root returns where the cgroup v2 hierarchy is mounted.
func cgroup2Root() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("cgroup v2: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID parent major:minor root mountpoint options ... - fstype source superoptions
		fields := strings.Fields(sc.Text())
		for i, fld := range fields {
			if fld == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" && len(fields) > 4 && fields[3] == "/" {
				return fields[4], nil
			}
		}
	}
	return "", errors.New("no cgroup v2 hierarchy is mounted (odbench starts each member in a cgroup of its own to tell its packets apart)")
}

var clusters atomic.Int64

// Prepare makes a cgroup per member and the cluster's nftables table.
func (k *Kernel) Prepare(_ string, ids []string) (cluster.NetworkCluster, error) {
	n := clusters.Add(1)
	name := fmt.Sprintf("odbench-%d-%d", os.Getpid(), n)
	dir := filepath.Join(k.root, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup %s: %v", dir, err)
	}
	c := &netCluster{dir: dir, table: strings.ReplaceAll(name, "-", "_"), members: map[string]*member{}}
	fail := func(err error) (cluster.NetworkCluster, error) {
		_ = c.Close()
		return nil, err
	}
	for i, id := range ids {
		d := filepath.Join(dir, id)
		if err := os.Mkdir(d, 0o755); err != nil {
			return fail(fmt.Errorf("cgroup %s: %v", d, err))
		}
		var st syscall.Stat_t
		if err := syscall.Stat(d, &st); err != nil {
			return fail(err)
		}
		c.members[id] = &member{number: uint32(i + 1), dir: d, cgroupID: st.Ino}
		c.order = append(c.order, id)
	}
	c.level = uint32(strings.Count(strings.TrimPrefix(dir, k.root), "/") + 1) // the members' depth below the root
	if err := c.install(); err != nil {
		return fail(err)
	}
	return c, nil
}

type member struct {
	number   uint32
	dir      string
	cgroupID uint64
	fd       int // open once asked for; -1 none
}

type netCluster struct {
	dir, table string
	level      uint32
	order      []string
	members    map[string]*member

	mu     sync.Mutex
	conn   *nftables.Conn
	t      *nftables.Table
	cuts   *nftables.Chain
	shapes *nftables.Chain
	q      *queue // opened at the first Shape
	closed bool
}

var _ cluster.NetworkCluster = (*netCluster)(nil)

func u32(v uint32) []byte { b := make([]byte, 4); binary.NativeEndian.PutUint32(b, v); return b }
func u64(v uint64) []byte { b := make([]byte, 8); binary.NativeEndian.PutUint64(b, v); return b }

// install adds the table: output marks each member's packets, input
// jumps to the cuts chain, which Partition fills.
func (c *netCluster) install() error {
	conn, err := nftables.New()
	if err != nil {
		return err
	}
	c.conn = conn
	accept := nftables.ChainPolicyAccept
	c.t = conn.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: c.table})
	out := conn.AddChain(&nftables.Chain{Name: "out", Table: c.t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityMangle, Policy: &accept})
	in := conn.AddChain(&nftables.Chain{Name: "in", Table: c.t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	c.cuts = conn.AddChain(&nftables.Chain{Name: "cuts", Table: c.t})
	c.shapes = conn.AddChain(&nftables.Chain{Name: "shapes", Table: c.t})
	for _, id := range c.order {
		m := c.members[id]
		conn.AddRule(&nftables.Rule{Table: c.t, Chain: out, Exprs: []expr.Any{
			&expr.Socket{Key: expr.SocketKeyCgroupv2, Level: c.level, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: u64(m.cgroupID)},
			&expr.Immediate{Register: 1, Data: u32(markBase + m.number)},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
		}})
	}
	for _, ch := range []*nftables.Chain{c.cuts, c.shapes} {
		conn.AddRule(&nftables.Rule{Table: c.t, Chain: in, Exprs: []expr.Any{
			&expr.Verdict{Kind: expr.VerdictJump, Chain: ch.Name},
		}})
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nftables table %s: %v", c.table, err)
	}
	return nil
}

// CgroupFD opens member id's cgroup directory, for the driver to start
// it in; the fd stays open until Close.
func (c *netCluster) CgroupFD(id string) (int, error) {
	m, ok := c.members[id]
	if !ok {
		return -1, fmt.Errorf("%w %q", cluster.ErrNoNode, id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.fd > 0 {
		return m.fd, nil
	}
	fd, err := syscall.Open(m.dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	m.fd = fd
	return fd, nil
}

// Partition drops, both ways, every packet between a member of minority
// and one of the others.
func (c *netCluster) Partition(minority []string) error {
	in := map[string]bool{}
	for _, id := range minority {
		if _, ok := c.members[id]; !ok {
			return fmt.Errorf("%w %q", cluster.ErrNoNode, id)
		}
		in[id] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn.FlushChain(c.cuts)
	for _, a := range c.order {
		for _, b := range c.order {
			if in[a] == in[b] {
				continue
			}
			c.conn.AddRule(&nftables.Rule{Table: c.t, Chain: c.cuts, Exprs: []expr.Any{
				&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: u32(markBase + c.members[a].number)},
				&expr.Socket{Key: expr.SocketKeyCgroupv2, Level: c.level, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: u64(c.members[b].cgroupID)},
				&expr.Counter{},
				&expr.Verdict{Kind: expr.VerdictDrop},
			}})
		}
	}
	return c.conn.Flush()
}

// linkMark marks the packets of the shaped link from member a to b.
func linkMark(a, b uint32) uint32 { return markBase + 0x10000 + a<<8 + b }

// Shape queues every packet between a member of ids and one of the
// others, both ways, to odbench (netfilter's NFQUEUE through nftables'
// xtables compatibility), which holds each for the link's delay ± jitter,
// in order and within its bandwidth, or drops it with its loss
// probability.
func (c *netCluster) Shape(ids []string, f cluster.LinkFault) error {
	in := map[string]bool{}
	for _, id := range ids {
		if _, ok := c.members[id]; !ok {
			return fmt.Errorf("%w %q", cluster.ErrNoNode, id)
		}
		in[id] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("the cluster's network faults are closed")
	}
	if c.q == nil {
		q, err := openFreeQueue()
		if err != nil {
			return err
		}
		c.q = q
	}
	links := map[uint32]cluster.LinkFault{}
	c.conn.FlushChain(c.shapes)
	for _, a := range c.order {
		for _, b := range c.order {
			if in[a] == in[b] {
				continue
			}
			ma, mb := c.members[a], c.members[b]
			mark := linkMark(ma.number, mb.number)
			links[mark] = f
			c.conn.AddRule(&nftables.Rule{Table: c.t, Chain: c.shapes, Exprs: []expr.Any{
				&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: u32(markBase + ma.number)},
				&expr.Socket{Key: expr.SocketKeyCgroupv2, Level: c.level, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: u64(mb.cgroupID)},
				&expr.Immediate{Register: 1, Data: u32(mark)},
				&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
				&expr.Counter{},
				nfqueueTarget(c.q.num),
			}})
		}
	}
	c.q.shape(links) // before the rules: no packet is queued unshaped
	if err := c.conn.Flush(); err != nil {
		c.q.shape(nil)
		return fmt.Errorf("nftables: queueing the shaped links: %v", err)
	}
	return nil
}

// nfqueueTarget is xtables' NFQUEUE target, revision 3, to queue num,
// with the bypass flag: were odbench gone, packets would pass.
func nfqueueTarget(num uint16) *expr.Target {
	info := xt.Unknown(make([]byte, 8)) // struct xt_NFQ_info_v3, aligned to 8
	binary.NativeEndian.PutUint16(info[0:], num)
	binary.NativeEndian.PutUint16(info[2:], 1) // queues_total
	binary.NativeEndian.PutUint16(info[4:], 1) // NFQ_FLAG_BYPASS
	return &expr.Target{Name: "NFQUEUE", Rev: 3, Info: &info}
}

var queues atomic.Uint32

// openFreeQueue binds the first free queue number of a range this
// process picks from its PID.
func openFreeQueue() (*queue, error) {
	base := uint32(os.Getpid()%500) * 100
	var last error
	for range 100 {
		num := uint16(1000 + (base+queues.Add(1))%60000)
		q, err := openQueue(num)
		if err == nil {
			return q, nil
		}
		last = err
	}
	return nil, fmt.Errorf("no free netfilter queue: %v", last)
}

// ShapeLacks is "": links can be shaped wherever partitions can be made.
func (c *netCluster) ShapeLacks() string { return "" }

// Heal removes every cut.
func (c *netCluster) Heal() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.conn.FlushChain(c.cuts)
	c.conn.FlushChain(c.shapes)
	err := c.conn.Flush()
	if c.q != nil {
		c.q.shape(nil) // what the queue holds goes now
	}
	return err
}

// Close deletes the table and the cgroups (the members must have exited).
func (c *netCluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	if c.q != nil {
		c.q.close()
	}
	if c.conn != nil && c.t != nil {
		c.conn.DelTable(c.t)
		if err := c.conn.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("deleting nftables table %s: %v", c.table, err))
		}
	}
	for _, m := range c.members {
		if m.fd > 0 {
			syscall.Close(m.fd)
		}
		if err := os.Remove(m.dir); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(c.dir); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeStale deletes the tables and cgroups of odbench processes that
// are gone (killed before they could clean up).
func (k *Kernel) removeStale(conn *nftables.Conn) {
	dead := func(name, sep string) bool {
		parts := strings.Split(name, sep)
		if len(parts) != 3 || parts[0] != "odbench" {
			return false
		}
		pid, err := strconv.Atoi(parts[1])
		return err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH
	}
	if tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet); err == nil {
		for _, t := range tables {
			if dead(t.Name, "_") {
				conn.DelTable(t)
			}
		}
		_ = conn.Flush()
	}
	entries, _ := os.ReadDir(k.root)
	for _, e := range entries {
		if e.IsDir() && dead(e.Name(), "-") {
			dir := filepath.Join(k.root, e.Name())
			subs, _ := os.ReadDir(dir)
			for _, s := range subs {
				if s.IsDir() {
					_ = os.Remove(filepath.Join(dir, s.Name()))
				}
			}
			_ = os.Remove(dir)
		}
	}
}
