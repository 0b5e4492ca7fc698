package room

import (
	"time"

	"github.com/confd/confd/mixer"
)

// Metrics is a room's state for the server's metrics.
type Metrics struct {
	Number string
	// Members counts the members by kind (KindBrowser, KindPhone,
	// KindScreen, KindStream), those waiting in the lobby included.
	Members [KindStream + 1]int
	// Viewers counts the audience (WHEP viewers), who are not members.
	Viewers    int
	Waiting    int // in the lobby
	Publishing int // sending video
	Talking    int
	Locked     bool
	Mixer      mixer.Stats
	// LatencyP50 and LatencyP99 are the time the mixer adds to a voice.
	LatencyP50, LatencyP99 time.Duration
}

// String names a kind in the metrics' labels.
func (k Kind) String() string {
	switch k {
	case KindPhone:
		return "phone"
	case KindScreen:
		return "screen"
	case KindStream:
		return "stream"
	}
	return "browser"
}

// Metrics reports the room's members and its mixer's counters.
func (r *Room) Metrics() Metrics {
	m := Metrics{Number: r.cfg.Number}
	r.mu.Lock()
	for _, p := range r.members {
		if p.Info.Kind >= 0 && int(p.Info.Kind) < len(m.Members) {
			m.Members[p.Info.Kind]++
		}
		if p.waiting {
			m.Waiting++
		}
		if p.camera != nil {
			m.Publishing++
		}
		if p.talking {
			m.Talking++
		}
	}
	m.Locked = r.locked
	m.Viewers = len(r.viewers)
	r.mu.Unlock()
	m.Mixer = r.mix.Stats()
	m.LatencyP50, m.LatencyP99 = r.mix.Latency()
	return m
}
