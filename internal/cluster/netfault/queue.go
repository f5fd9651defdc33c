package netfault

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/odbench/odbench/internal/cluster"
)

// The kernel's netfilter queue protocol (linux/netfilter/nfnetlink_queue.h).
const (
	nfqnlMsgPacket  = 0
	nfqnlMsgVerdict = 1
	nfqnlMsgConfig  = 2

	nfqaPacketHdr  = 1
	nfqaVerdictHdr = 2
	nfqaMark       = 3
	nfqaCapLen     = 13

	nfqaCfgCmd      = 1
	nfqaCfgParams   = 2
	nfqaCfgQueueMax = 3
	nfqaCfgMask     = 4
	nfqaCfgFlags    = 5

	nfqnlCfgCmdBind = 1
	nfqnlCopyPacket = 2

	nfqaCfgFFailOpen = 1
	nfqaCfgFGSO      = 4

	nfDrop   = 0
	nfAccept = 1

	// copyBytes is how much of each packet the kernel copies to odbench:
	// its IPv4 header, whose total length the bandwidth cap counts when
	// the kernel does not say the length itself.
	copyBytes = 20
)

// link is the state of one shaped direction between two members.
type link struct {
	fault    cluster.LinkFault
	last     time.Time // when its latest packet is released: packets keep their order
	nextFree time.Time // when the bandwidth cap lets its next byte through
}

// held is a packet waiting for its verdict.
type held struct {
	id      uint32
	release time.Time
	verdict uint32
}

// queue holds the packets of shaped links in user space: each is
// released after the link's delay ± jitter, in order, no sooner than the
// link's bandwidth allows, or dropped with the link's loss probability.
// Packets of a link that is no longer shaped go at once.
type queue struct {
	num  uint16
	conn *netlink.Conn

	mu      sync.Mutex
	links   map[uint32]*link // by the mark the shaping rule set
	waiting []held           // by release time
	wake    chan struct{}
	rng     *rand.Rand
	done    chan struct{}
	wg      sync.WaitGroup
	seen    uint64 // packets queued, for tests and messages
	dropped uint64
	errors  uint64 // failed reads, and the last one's error
	lastErr error
}

// openQueue binds netfilter queue num and starts reading it.
func openQueue(num uint16) (*queue, error) {
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return nil, fmt.Errorf("netfilter queue: %v", err)
	}
	_ = conn.SetReadBuffer(8 << 20)
	q := &queue{num: num, conn: conn, links: map[uint32]*link{}, wake: make(chan struct{}, 1),
		rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(num))), done: make(chan struct{})}
	var flags [4]byte
	binary.BigEndian.PutUint32(flags[:], nfqaCfgFFailOpen|nfqaCfgFGSO)
	params := make([]byte, 5)
	binary.BigEndian.PutUint32(params, copyBytes)
	params[4] = nfqnlCopyPacket
	maxLen := make([]byte, 4)
	binary.BigEndian.PutUint32(maxLen, 1<<16)
	for _, attrs := range [][]netlink.Attribute{
		{{Type: nfqaCfgCmd, Data: []byte{nfqnlCfgCmdBind, 0, 0, unix.AF_INET}}},
		{{Type: nfqaCfgParams, Data: params}, {Type: nfqaCfgQueueMax, Data: maxLen},
			{Type: nfqaCfgFlags, Data: flags[:]}, {Type: nfqaCfgMask, Data: flags[:]}},
	} {
		if err := q.config(attrs); err != nil {
			conn.Close()
			return nil, fmt.Errorf("netfilter queue %d: %v", num, err)
		}
	}
	q.wg.Add(2)
	go q.read()
	go q.release()
	return q, nil
}

// header is the nfgenmsg every message starts with: family, version,
// queue number (big-endian).
func (q *queue) header(family byte) []byte {
	return []byte{family, unix.NFNETLINK_V0, byte(q.num >> 8), byte(q.num)}
}

func (q *queue) config(attrs []netlink.Attribute) error {
	data, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		return err
	}
	_, err = q.conn.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_QUEUE<<8 | nfqnlMsgConfig),
			Flags: netlink.Request | netlink.Acknowledge},
		Data: append(q.header(unix.AF_UNSPEC), data...),
	})
	return err
}

// shape sets (or, with nil, removes) the fault of the links by mark.
func (q *queue) shape(links map[uint32]cluster.LinkFault) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.links = map[uint32]*link{}
	for mark, f := range links {
		q.links[mark] = &link{fault: f}
	}
	if len(links) == 0 { // healed: what is held goes now
		for i := range q.waiting {
			q.waiting[i].release = time.Time{}
			q.waiting[i].verdict = nfAccept
		}
	}
	q.poke()
}

func (q *queue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// read takes every packet the kernel queues and schedules its verdict.
// It stops only when the queue closes: an error of one read (the kernel
// could not hand over some packets, or answered a verdict with an error)
// is counted and the next read goes on, since a reader that stopped would
// leave every later packet of a shaped link held until Close.
func (q *queue) read() {
	defer q.wg.Done()
	for {
		msgs, err := q.conn.Receive()
		if err != nil {
			select {
			case <-q.done:
				return
			default:
			}
			q.mu.Lock()
			q.errors++
			q.lastErr = err
			q.mu.Unlock()
			var oe *netlink.OpError
			if !errors.As(err, &oe) || !errors.Is(oe.Err, unix.ENOBUFS) {
				time.Sleep(time.Millisecond) // not a hot loop on a socket that keeps failing
			}
			continue
		}
		for _, m := range msgs {
			if m.Header.Type != netlink.HeaderType(unix.NFNL_SUBSYS_QUEUE<<8|nfqnlMsgPacket) || len(m.Data) < 4 {
				continue
			}
			q.take(m.Data[4:])
		}
	}
}

// take schedules one packet: its ID, mark and length from its attributes.
func (q *queue) take(data []byte) {
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return
	}
	ad.ByteOrder = binary.BigEndian
	var id, mark, length uint32
	var haveID bool
	for ad.Next() {
		switch ad.Type() {
		case nfqaPacketHdr:
			if b := ad.Bytes(); len(b) >= 4 {
				id, haveID = binary.BigEndian.Uint32(b), true
			}
		case nfqaMark:
			mark = ad.Uint32()
		case nfqaCapLen:
			length = ad.Uint32()
		case 10: // NFQA_PAYLOAD: the IPv4 header
			if b := ad.Bytes(); length == 0 && len(b) >= 4 {
				length = uint32(binary.BigEndian.Uint16(b[2:4]))
			}
		}
	}
	if !haveID {
		return
	}
	now := time.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seen++
	h := held{id: id, release: now, verdict: nfAccept}
	if l := q.links[mark]; l != nil {
		f := l.fault
		switch {
		case f.LossPercent > 0 && q.rng.Float64()*100 < f.LossPercent:
			h.verdict = nfDrop
			q.dropped++
		default:
			at := now.Add(f.Delay)
			if f.Jitter > 0 {
				at = at.Add(time.Duration((q.rng.Float64()*2 - 1) * float64(f.Jitter)))
			}
			if f.BandwidthKBPerSec > 0 {
				at = later(at, l.nextFree)
				l.nextFree = at.Add(time.Duration(float64(length) / (f.BandwidthKBPerSec * 1000) * float64(time.Second)))
			}
			at = later(at, l.last)
			l.last = at
			h.release = at
		}
	}
	i := len(q.waiting)
	for i > 0 && q.waiting[i-1].release.After(h.release) {
		i--
	}
	q.waiting = append(q.waiting, held{})
	copy(q.waiting[i+1:], q.waiting[i:])
	q.waiting[i] = h
	if i == 0 {
		q.poke()
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// release gives each held packet its verdict when its time comes.
func (q *queue) release() {
	defer q.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		q.mu.Lock()
		now := time.Now()
		var due []held
		for len(q.waiting) > 0 && !q.waiting[0].release.After(now) {
			due = append(due, q.waiting[0])
			q.waiting = q.waiting[1:]
		}
		wait := time.Hour
		if len(q.waiting) > 0 {
			wait = q.waiting[0].release.Sub(now)
		}
		q.mu.Unlock()
		for _, h := range due {
			q.verdict(h.id, h.verdict)
		}
		timer.Reset(wait)
		select {
		case <-q.done:
			return
		case <-q.wake:
		case <-timer.C:
		}
	}
}

func (q *queue) verdict(id, verdict uint32) {
	hdr := make([]byte, 8)
	binary.BigEndian.PutUint32(hdr, verdict)
	binary.BigEndian.PutUint32(hdr[4:], id)
	data, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: nfqaVerdictHdr, Data: hdr}})
	_, _ = q.conn.Send(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_QUEUE<<8 | nfqnlMsgVerdict), Flags: netlink.Request},
		Data:   append(q.header(unix.AF_UNSPEC), data...),
	})
}

// counts returns the packets queued and dropped so far.
func (q *queue) counts() (seen, dropped uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.seen, q.dropped
}

// readErrors returns how many reads failed, and the last one's error.
func (q *queue) readErrors() (uint64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.errors, q.lastErr
}

// close releases every held packet (waiting up to a second for the
// verdicts to go out), then closes the socket, which unbinds the queue.
func (q *queue) close() {
	q.shape(nil)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		q.mu.Lock()
		n := len(q.waiting)
		q.mu.Unlock()
		if n == 0 {
			break
		}
	}
	close(q.done)
	q.poke()
	q.conn.Close()
	q.wg.Wait()
}
