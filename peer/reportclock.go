package peer

import (
	"sync"
	"time"

	"github.com/pion/interceptor/pkg/report"
)

// reportInterval is how often every PeerConnection reports on its
// streams (RTCP sender and receiver reports, RFC 3550 §6.2).
const reportInterval = time.Second

// reportClock is one clock for the RTCP reports of every PeerConnection a
// Media makes. Each PeerConnection used to keep its own two tickers, so a
// server of idle members woke twice a second per member at scattered
// moments; on one clock they all report in the same instant, and the
// wake-ups of a thousand members are one.
//
// Its goroutine (run) is started by newReportClock and stopped, and waited
// for, by close (Media.Close).
type reportClock struct {
	mu   sync.Mutex
	subs map[*clockTicker]struct{}
	stop chan struct{}
	done chan struct{}
}

func newReportClock(interval time.Duration) *reportClock {
	c := &reportClock{subs: map[*clockTicker]struct{}{}, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run(interval)
	return c
}

func (c *reportClock) run(interval time.Duration) {
	defer close(c.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			c.mu.Lock()
			for s := range c.subs {
				select {
				case s.ch <- now:
				default: // its reporter has not taken the last tick yet
				}
			}
			c.mu.Unlock()
		}
	}
}

func (c *reportClock) close() error {
	close(c.stop)
	<-c.done
	return nil
}

// ticker subscribes to the clock; it is a report.TickerFactory (the
// interval asked for is the clock's own).
func (c *reportClock) ticker(time.Duration) report.Ticker {
	s := &clockTicker{c: c, ch: make(chan time.Time, 1)}
	c.mu.Lock()
	c.subs[s] = struct{}{}
	c.mu.Unlock()
	return s
}

// clockTicker is one reporter's subscription to a reportClock.
type clockTicker struct {
	c  *reportClock
	ch chan time.Time
}

func (s *clockTicker) Ch() <-chan time.Time { return s.ch }

func (s *clockTicker) Stop() {
	s.c.mu.Lock()
	delete(s.c.subs, s)
	s.c.mu.Unlock()
}
