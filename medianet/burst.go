package medianet

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Bursts. confd writes media in bursts: a mixer tick writes a frame to
// every listener, a video packet goes to every viewer of its slot. Between
// [Net.Hold] and [Net.Release] the media sockets queue what is written to
// them (a copy of each datagram: pion reuses its buffer as soon as the
// write returns), and the last Release sends each socket's queue with
// sendmmsg, a burst in one system call instead of one call per packet.
//
// A datagram written while somebody else holds waits for that holder's
// Release: the length of one burst (a tick's mixing, one packet's
// fan-out), longer only if the holder is descheduled meanwhile. A queue
// that fills is sent by the writer that filled it. No lock is held across
// a send: a queue leaves its socket before it is sent. Errors of queued
// writes are counted ([Net.BurstStats]) instead of returned, as a write to
// UDP learns nothing that matters anyway.

// burstSize is the most datagrams one sendmmsg takes; maxDatagram the
// largest datagram queued (larger ones are written at once);
// maxSpareQueues the most empty queues a Net keeps for the next burst.
const (
	burstSize      = 64
	maxDatagram    = 1500
	maxSpareQueues = 1024
)

// queue is one socket's datagrams waiting for a Release, back to back in
// data. Its slices grow to the largest burst the socket has had and stay
// with the queue, so a warm queue allocates nothing, and a socket that is
// sent one packet a burst (a listener's mix, a viewer's copy: most
// sockets, when each call has its own) holds one packet's worth.
type queue struct {
	data  []byte
	offs  []int // where each datagram starts in data; it ends where the next starts
	addrs []netip.AddrPort
	// The system call's arguments, filled in by send.
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	name4 []unix.RawSockaddrInet4
	name6 []unix.RawSockaddrInet6
	// sent and failed count the datagrams of the send under way; write is
	// the sendmmsg loop handed to RawConn.Write, made once per queue so
	// that a send allocates nothing.
	sent, failed int
	write        func(fd uintptr) bool
}

func newQueue() *queue {
	q := new(queue)
	q.write = func(fd uintptr) bool {
		for n := len(q.offs); q.sent < n; {
			m, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&q.hdrs[q.sent])), uintptr(n-q.sent), 0, 0, 0)
			switch {
			case e == unix.EAGAIN:
				return false // wait until the socket has room
			case e == unix.EINTR:
			case e != 0:
				// The datagram at sent failed (an address the socket
				// cannot reach, say): count it and go on with the rest.
				q.failed++
				q.sent++
			default:
				q.sent += int(m)
			}
		}
		return true
	}
	return q
}

// add queues a copy of b for a and reports whether the queue is full.
func (q *queue) add(b []byte, a netip.AddrPort) bool {
	q.offs = append(q.offs, len(q.data))
	q.data = append(q.data, b...)
	q.addrs = append(q.addrs, a)
	return len(q.offs) == burstSize
}

// datagram is the i-th datagram queued.
func (q *queue) datagram(i int) []byte {
	end := len(q.data)
	if i+1 < len(q.offs) {
		end = q.offs[i+1]
	}
	return q.data[q.offs[i]:end]
}

// reset empties the queue, keeping what it grew.
func (q *queue) reset() {
	q.data, q.offs, q.addrs = q.data[:0], q.offs[:0], q.addrs[:0]
}

// mmsghdr is the kernel's struct mmsghdr.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// BurstStats counts the bursts sent and what went wrong in them.
type BurstStats struct {
	Bursts, Datagrams, Errors uint64
}

// bursts is a Net's state for them.
type bursts struct {
	holders atomic.Int32
	mu      sync.Mutex // guards dirty, spare and free
	dirty   []*conn    // sockets with a queue
	spare   []*conn    // dirty's other buffer, for flush
	free    []*queue   // empty queues, for the next sockets written
	stats   struct{ bursts, datagrams, errors atomic.Uint64 }
}

// Hold starts a burst: until the matching Release, writes to the media
// sockets are queued.
func (n *Net) Hold() { n.b.holders.Add(1) }

// Release ends a burst; the last holder's Release sends every queue.
func (n *Net) Release() {
	if n.b.holders.Add(-1) == 0 {
		n.flush()
	}
}

// BurstStats reports the bursts sent so far.
func (n *Net) BurstStats() BurstStats {
	return BurstStats{n.b.stats.bursts.Load(), n.b.stats.datagrams.Load(), n.b.stats.errors.Load()}
}

// flush sends the queue of every socket that has one.
func (n *Net) flush() {
	n.b.mu.Lock()
	dirty := n.b.dirty
	n.b.dirty, n.b.spare = n.b.spare[:0], nil
	n.b.mu.Unlock()
	for _, c := range dirty {
		c.dirty.Store(false)
		c.flush()
	}
	clear(dirty)
	n.b.mu.Lock()
	if n.b.spare == nil {
		n.b.spare = dirty[:0]
	}
	n.b.mu.Unlock()
}

// queueWrite queues b for a, or reports false when it must be written at
// once (nobody holds, or it is too large).
func (c *conn) queueWrite(b []byte, a netip.AddrPort) bool {
	bs := &c.n.b
	if bs.holders.Load() == 0 || len(b) > maxDatagram || c.raw == nil {
		return false
	}
	if ip := a.Addr(); ip.Zone() != "" || !c.v6 && !ip.Unmap().Is4() {
		return false // a scoped or foreign-family address: the plain write says what it can
	}
	c.mu.Lock()
	q := c.q
	if q == nil {
		q = bs.get()
		c.q = q
	}
	full := q.add(b, a)
	if full {
		c.q = nil
	}
	c.mu.Unlock()
	switch {
	case full:
		c.send(q)
	case bs.holders.Load() == 0:
		// The last Release may have flushed before this datagram was
		// queued: nobody else will send it.
		c.flush()
	case c.dirty.CompareAndSwap(false, true):
		bs.mu.Lock()
		bs.dirty = append(bs.dirty, c)
		bs.mu.Unlock()
		if bs.holders.Load() == 0 {
			c.flush() // released while this socket was being listed
		}
	}
	return true
}

// flush sends the socket's queue, if it has one.
func (c *conn) flush() {
	c.mu.Lock()
	q := c.q
	c.q = nil
	c.mu.Unlock()
	if q != nil {
		c.send(q)
	}
}

// get is an empty queue, a spare one when there is one.
func (bs *bursts) get() *queue {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if n := len(bs.free); n > 0 {
		q := bs.free[n-1]
		bs.free[n-1] = nil
		bs.free = bs.free[:n-1]
		return q
	}
	return newQueue()
}

// put keeps a sent queue for the next burst, up to maxSpareQueues.
func (bs *bursts) put(q *queue) {
	q.reset()
	bs.mu.Lock()
	if len(bs.free) < maxSpareQueues {
		bs.free = append(bs.free, q)
	}
	bs.mu.Unlock()
}

// send writes q with sendmmsg and hands it back to the Net.
func (c *conn) send(q *queue) {
	n := len(q.offs)
	q.hdrs = slices.Grow(q.hdrs[:0], n)[:n]
	q.iovs = slices.Grow(q.iovs[:0], n)[:n]
	if c.v6 {
		q.name6 = slices.Grow(q.name6[:0], n)[:n]
	} else {
		q.name4 = slices.Grow(q.name4[:0], n)[:n]
	}
	for i := range n {
		h := &q.hdrs[i].hdr
		*h = unix.Msghdr{}
		b := q.datagram(i)
		q.iovs[i] = unix.Iovec{}
		if len(b) > 0 {
			q.iovs[i].Base = &b[0]
		}
		q.iovs[i].SetLen(len(b))
		h.Iov, h.Iovlen = &q.iovs[i], 1
		a := q.addrs[i]
		if c.v6 {
			q.name6[i] = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: htons(a.Port()), Addr: a.Addr().As16()}
			h.Name, h.Namelen = (*byte)(unsafe.Pointer(&q.name6[i])), unix.SizeofSockaddrInet6
		} else {
			q.name4[i] = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: htons(a.Port()), Addr: a.Addr().Unmap().As4()}
			h.Name, h.Namelen = (*byte)(unsafe.Pointer(&q.name4[i])), unix.SizeofSockaddrInet4
		}
	}
	q.sent, q.failed = 0, 0
	if err := c.raw.Write(q.write); err != nil {
		q.failed += n - q.sent // the socket is closed
	}
	stats := &c.n.b.stats
	stats.bursts.Add(1)
	stats.datagrams.Add(uint64(n))
	stats.errors.Add(uint64(q.failed))
	c.n.b.put(q)
}

func htons(p uint16) uint16 { return p>>8 | p<<8 }

// rawConn is the socket's descriptor for sendmmsg, and whether it is an
// IPv6 socket (SO_DOMAIN); nil when the socket offers none.
func rawConn(c *net.UDPConn) (syscall.RawConn, bool) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, false
	}
	domain, serr := 0, error(nil)
	err = raw.Control(func(fd uintptr) {
		domain, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
	})
	if err = errors.Join(err, serr); err != nil {
		return nil, false
	}
	return raw, domain == unix.AF_INET6
}
