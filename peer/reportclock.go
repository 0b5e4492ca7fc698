package peer

import (
	"sync"
	"time"

	"github.com/confd/confd/forwarder"
)

// reportInterval is how often every PeerConnection reports on its
// streams (RTCP sender and receiver reports, RFC 3550 §6.2).
const reportInterval = time.Second

// roundBurst is how many PeerConnections' reports one burst holds: on a
// shared socket (udp_mux) they leave in one sendmmsg, and the media
// written meanwhile waits behind no more than that many reports.
const roundBurst = 32

// reportClock is one clock for the RTCP reports of every PeerConnection a
// Media makes. On each tick its goroutine calls every reporter in turn
// (a round), inside bursts of roundBurst, so that a server of idle
// members wakes once a second for all their reports, not once per member
// at scattered moments.
//
// Its goroutine (run) is started by newReportClock and stopped, and waited
// for, by close (Media.Close).
type reportClock struct {
	burst forwarder.Burster

	mu   sync.Mutex
	subs map[*reporter]struct{}

	stop chan struct{}
	done chan struct{}
}

func newReportClock(interval time.Duration, burst forwarder.Burster) *reportClock {
	if burst == nil {
		burst = noBurst{}
	}
	c := &reportClock{burst: burst, subs: map[*reporter]struct{}{}, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run(interval)
	return c
}

func (c *reportClock) run(interval time.Duration) {
	defer close(c.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	var round []*reporter
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			round = c.round(round[:0])
			for i, r := range round {
				if i%roundBurst == 0 {
					c.burst.Hold()
				}
				r.report(time.Now())
				if i%roundBurst == roundBurst-1 || i == len(round)-1 {
					c.burst.Release()
				}
			}
			clear(round) // a closed PeerConnection's reporter is not kept until the next tick
		}
	}
}

// round appends the reporters of this tick to buf.
func (c *reportClock) round(buf []*reporter) []*reporter {
	c.mu.Lock()
	defer c.mu.Unlock()
	for r := range c.subs {
		buf = append(buf, r)
	}
	return buf
}

func (c *reportClock) add(r *reporter) {
	c.mu.Lock()
	c.subs[r] = struct{}{}
	c.mu.Unlock()
}

func (c *reportClock) remove(r *reporter) {
	c.mu.Lock()
	delete(c.subs, r)
	c.mu.Unlock()
}

func (c *reportClock) close() error {
	close(c.stop)
	<-c.done
	return nil
}

// noBurst is the Burster of a Net that offers none.
type noBurst struct{}

func (noBurst) Hold()    {}
func (noBurst) Release() {}
