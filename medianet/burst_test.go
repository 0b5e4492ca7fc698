package medianet

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// addrPortWriter is what pion writes media with.
type addrPortWriter interface {
	WriteToAddrPort([]byte, netip.AddrPort) (int, error)
}

// receiver is a plain socket on loopback that collects what reaches it.
type receiver struct {
	c    *net.UDPConn
	mu   sync.Mutex
	got  [][]byte
	from []netip.AddrPort
	done chan struct{}
}

func newReceiver(t *testing.T, network string, ip net.IP) *receiver {
	t.Helper()
	c, err := net.ListenUDP(network, &net.UDPAddr{IP: ip})
	if err != nil {
		t.Skipf("no %s loopback here: %v", network, err)
	}
	r := &receiver{c: c, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			r.mu.Lock()
			r.got = append(r.got, bytes.Clone(buf[:n]))
			r.from = append(r.from, from)
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-r.done })
	return r
}

func (r *receiver) addr() netip.AddrPort { return r.c.LocalAddr().(*net.UDPAddr).AddrPort() }

// snapshot is what has arrived so far.
func (r *receiver) snapshot() ([][]byte, []netip.AddrPort) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got), slices.Clone(r.from)
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// waitFor waits until the receiver has n datagrams, with a generous
// deadline for a loaded machine.
func (r *receiver) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%v received %d datagrams, want %d", r.addr(), r.count(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// mediaSocket opens a media socket of n, closed when the test ends.
func mediaSocket(t *testing.T, n *Net, network string, ip net.IP) (addrPortWriter, netip.AddrPort) {
	t.Helper()
	pc, err := n.ListenUDP(network, &net.UDPAddr{IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.(addrPortWriter), pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// datagram is the i-th test datagram, of a length of its own.
func datagram(i int) []byte {
	return bytes.Repeat([]byte{byte(i)}, 20+i%300)
}

// TestBurstSendsOnRelease: datagrams written while held go out, every one
// whole, in order and from the media socket, as one burst when the holder
// releases; nothing is sent before.
func TestBurstSendsOnRelease(t *testing.T) {
	for _, fam := range []struct {
		network string
		ip      net.IP
	}{{"udp4", net.IPv4(127, 0, 0, 1)}, {"udp6", net.IPv6loopback}} {
		t.Run(fam.network, func(t *testing.T) {
			n := newNet(t, Config{LoopbackOnly: true})
			a, b := newReceiver(t, fam.network, fam.ip), newReceiver(t, fam.network, fam.ip)
			w, local := mediaSocket(t, n, fam.network, fam.ip)
			const each = 10
			n.Hold()
			for i := range 2 * each {
				to := a.addr()
				if i%2 == 1 {
					to = b.addr()
				}
				if m, err := w.WriteToAddrPort(datagram(i), to); err != nil || m != len(datagram(i)) {
					t.Fatalf("write %d: %d, %v", i, m, err)
				}
			}
			if s := n.BurstStats(); s.Bursts != 0 {
				t.Fatalf("sent while held: %+v", s)
			}
			n.Release()
			if s := n.BurstStats(); s != (BurstStats{Bursts: 1, Datagrams: 2 * each}) {
				t.Fatalf("after release: %+v, want one burst of %d", s, 2*each)
			}
			a.waitFor(t, each)
			b.waitFor(t, each)
			for k, r := range []*receiver{a, b} {
				datagrams, from := r.snapshot()
				for j, got := range datagrams {
					if want := datagram(2*j + k); !bytes.Equal(got, want) {
						t.Errorf("receiver %d, datagram %d: %d bytes %x, want %d bytes %x", k, j, len(got), got[:1], len(want), want[:1])
					}
					if from := from[j]; from.Port() != local.Port() {
						t.Errorf("from %v, not the media socket", from)
					}
				}
			}
			// Unheld, a write goes out at once, outside any burst.
			if _, err := w.WriteToAddrPort(datagram(1), a.addr()); err != nil {
				t.Fatal(err)
			}
			a.waitFor(t, each+1)
			if s := n.BurstStats(); s.Bursts != 1 {
				t.Errorf("an unheld write made a burst: %+v", s)
			}
		})
	}
}

// TestBurstFullQueueSends: a queue that fills is sent by the write that
// filled it, while still held; the rest waits for the release.
func TestBurstFullQueueSends(t *testing.T) {
	n := newNet(t, Config{LoopbackOnly: true})
	r := newReceiver(t, "udp4", net.IPv4(127, 0, 0, 1))
	w, _ := mediaSocket(t, n, "udp4", net.IPv4(127, 0, 0, 1))
	total := burstSize + 6
	n.Hold()
	for i := range total {
		if _, err := w.WriteToAddrPort(datagram(i), r.addr()); err != nil {
			t.Fatal(err)
		}
	}
	if s := n.BurstStats(); s != (BurstStats{Bursts: 1, Datagrams: burstSize}) {
		t.Fatalf("held, %d written: %+v, want the full queue sent", total, s)
	}
	r.waitFor(t, burstSize)
	n.Release()
	if s := n.BurstStats(); s != (BurstStats{Bursts: 2, Datagrams: uint64(total)}) {
		t.Fatalf("after release: %+v", s)
	}
	r.waitFor(t, total)
	// Too large to queue: written at once even while held.
	n.Hold()
	big := make([]byte, maxDatagram+1)
	if _, err := w.WriteToAddrPort(big, r.addr()); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, total+1)
	n.Release()
}

// TestBurstConcurrentHolders: goroutines holding, writing and releasing at
// once (a mixer tick beside video fan-outs) lose nothing: every datagram
// arrives, whichever holder's release sends it. Each writer has a receiver
// of its own, whose socket buffer holds all it is sent.
func TestBurstConcurrentHolders(t *testing.T) {
	n := newNet(t, Config{LoopbackOnly: true})
	var socks []addrPortWriter
	for range 2 {
		w, _ := mediaSocket(t, n, "udp4", net.IPv4(127, 0, 0, 1))
		socks = append(socks, w)
	}
	const writers, rounds, per = 4, 20, 5
	var rs []*receiver
	for range writers {
		rs = append(rs, newReceiver(t, "udp4", net.IPv4(127, 0, 0, 1)))
	}
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range rounds {
				held := k%3 != 0 // some writes come while others hold
				if held {
					n.Hold()
				}
				for i := range per {
					if _, err := socks[(g+i)%2].WriteToAddrPort(datagram(i), rs[g].addr()); err != nil {
						panic(fmt.Sprint("write: ", err))
					}
				}
				if held {
					n.Release()
				}
			}
		}()
	}
	wg.Wait()
	for _, r := range rs {
		r.waitFor(t, rounds*per)
	}
	if s := n.BurstStats(); s.Errors != 0 {
		t.Errorf("errors: %+v", s)
	}
}

// TestBurstAllocatesNothing: queueing and sending a burst allocates
// nothing once the queues are warm. The datagrams go to a socket nobody
// reads (the kernel drops what its buffer cannot hold), so that the
// count is the sender's alone.
func TestBurstAllocatesNothing(t *testing.T) {
	n := newNet(t, Config{LoopbackOnly: true})
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	w, _ := mediaSocket(t, n, "udp4", net.IPv4(127, 0, 0, 1))
	p, to := datagram(7), sink.LocalAddr().(*net.UDPAddr).AddrPort()
	burst := func() {
		n.Hold()
		for range 10 {
			w.WriteToAddrPort(p, to)
		}
		n.Release()
	}
	burst()
	if a := testing.AllocsPerRun(100, burst); a > 0.1 {
		t.Errorf("%.2f allocations per burst", a)
	}
	if s := n.BurstStats(); s.Bursts != 102 || s.Datagrams != 1020 || s.Errors != 0 { // AllocsPerRun runs it once more to warm up
		t.Errorf("stats %+v, want 102 bursts of 10", s)
	}
}

// TestQueueHoldsWhatItQueued: a queue's copy grows with its burst, no
// larger, and each datagram comes back whole; emptied, it keeps what it
// grew.
func TestQueueHoldsWhatItQueued(t *testing.T) {
	q := newQueue()
	a := netip.MustParseAddrPort("127.0.0.1:9")
	dgs := make([][]byte, burstSize)
	for i := range dgs {
		dgs[i] = datagram(i)
	}
	q.add(dgs[0], a)
	if c := cap(q.data); c > maxDatagram {
		t.Errorf("one %d-byte datagram queued in %d bytes", len(dgs[0]), c)
	}
	q.reset()
	full := false
	for _, d := range dgs {
		full = q.add(d, a)
	}
	if !full {
		t.Error("a queue of burstSize datagrams is not full")
	}
	for i, d := range dgs {
		if !bytes.Equal(q.datagram(i), d) {
			t.Fatalf("datagram %d came back changed", i)
		}
	}
	q.reset()
	if allocs := testing.AllocsPerRun(10, func() {
		for _, d := range dgs {
			q.add(d, a)
		}
		q.reset()
	}); allocs > 0 {
		t.Errorf("refilling an emptied queue: %.1f allocations", allocs)
	}
}
