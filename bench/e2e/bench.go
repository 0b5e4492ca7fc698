package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pion/webrtc/v4"
)

// options are a run's settings (main's flags).
type options struct {
	window, warmup time.Duration
	parallel       int
	profiles       string          // where confd's CPU profiles go; "" takes none
	profile        map[string]bool // the loads profiled
	dir            string          // scratch: binaries, configs, logs
	serverEnv      []string        // added to both servers' environment
}

// measurement is one measured window.
type measurement struct {
	wall   time.Duration
	server time.Duration // the server's CPU time
	// switches counts the server's context switches (processSwitches).
	switches uint64
	gen      time.Duration // the load generator's (this process's)
	busy     time.Duration // every core's busy time, whoever used it
	recv     tally         // what the counted peers received
	least    uint64        // the fewest media packets one of them received
	peers    int           // the counted peers
}

// measure reads the CPU times and the counted peers' receipts over the
// next window.
func measure(ctx context.Context, srv *server, sc *scene, window time.Duration) (measurement, error) {
	type snap struct {
		at                time.Time
		server, gen, busy time.Duration
		switches          uint64
		recv              []tally
	}
	take := func() (snap, error) {
		s := snap{at: time.Now(), recv: sc.received()}
		var err error
		if s.server, err = srv.cpu(); err != nil {
			return s, err
		}
		if s.switches, err = processSwitches(srv.pid()); err != nil {
			return s, err
		}
		if s.gen, err = processCPU(os.Getpid()); err != nil {
			return s, err
		}
		s.busy, _, err = machineCPU()
		return s, err
	}
	a, err := take()
	if err != nil {
		return measurement{}, err
	}
	if err := sleep(ctx, window); err != nil {
		return measurement{}, err
	}
	b, err := take()
	if err != nil {
		return measurement{}, err
	}
	m := measurement{wall: b.at.Sub(a.at), server: b.server - a.server, switches: b.switches - a.switches, gen: b.gen - a.gen, busy: b.busy - a.busy, peers: len(sc.counted)}
	for i := range b.recv {
		got := b.recv[i].minus(a.recv[i])
		m.recv = m.recv.plus(got)
		if i == 0 || got.packets < m.least {
			m.least = got.packets
		}
	}
	return m, nil
}

// result is one load on one server.
type result struct {
	load    load
	kind    serverKind
	base    measurement // the base peers alone; only for perViewerSecond
	main    measurement
	failed  int    // counted peers that did not join
	silent  int    // counted peers that had received nothing when the warm-up began
	skipped string // why the load did not run on this server
	profile string // confd's CPU profile, when taken
}

// measured is a load's results on both servers, and its floor when
// the load has one.
type measured struct {
	pair  [2]result
	floor *floorResult
}

// run measures load l on a fresh server of kind.
func run(ctx context.Context, o options, bins binaries, api *webrtc.API, media *mediaSet, l load, kind serverKind) (result, error) {
	res := result{load: l, kind: kind}
	if kind == kindStock && l.stockSkip != "" {
		res.skipped = l.stockSkip
		return res, nil
	}
	profile := kind == kindConfd && o.profiles != "" && o.profile[l.name]
	srv, err := startServer(ctx, kind, bins, o.dir, profile, o.serverEnv)
	if err != nil {
		return res, err
	}
	defer srv.stop()
	sc := &scene{api: api, media: media, t: srv.target()}
	defer sc.close()
	if err := sc.connect(ctx, l.base(kind), l.metric == perViewerSecond, o.parallel); err != nil {
		return res, fmt.Errorf("%s on %s: base: %w", l.name, kind, err)
	}
	if l.metric == perViewerSecond {
		if err := sleep(ctx, o.warmup); err != nil {
			return res, err
		}
		if res.base, err = measure(ctx, srv, sc, o.window); err != nil {
			return res, err
		}
		sc.counted = nil // the viewers follow
	}
	if err := sc.connect(ctx, l.counted(kind), true, o.parallel); err != nil {
		return res, fmt.Errorf("%s on %s: %w", l.name, kind, err)
	}
	res.failed = sc.failed
	if l.waitMedia {
		res.silent = sc.waitMedia(ctx, 20*time.Second)
	}
	if err := sleep(ctx, o.warmup); err != nil {
		return res, err
	}
	if res.main, err = measure(ctx, srv, sc, o.window); err != nil {
		return res, err
	}
	if profile {
		res.profile = filepath.Join(o.profiles, fmt.Sprintf("confd-%s.pprof", l.name))
		if err := srv.profile(ctx, o.window, res.profile); err != nil {
			return res, fmt.Errorf("profile: %w", err)
		}
	}
	return res, nil
}

// cost is the load's figure: µs per packet, or ms per member- or
// viewer-second.
func (r result) cost() (float64, bool) {
	c, ok := r.per(func(m measurement) float64 { return m.server.Seconds() })
	if r.load.metric == perPacket {
		return c * 1e6, ok
	}
	return c * 1e3, ok
}

// switches is the server's context switches per unit of the load's
// metric (packet, member-second, viewer-second): how often its threads
// slept and were woken, a count that a slower machine does not inflate.
func (r result) switches() (float64, bool) {
	return r.per(func(m measurement) float64 { return float64(m.switches) })
}

// per is q, an amount of what the server used in a window, per unit of
// the load's metric: per delivered packet, per member-second, or per
// viewer-second above what the base peers alone used.
func (r result) per(q func(measurement) float64) (float64, bool) {
	m := r.main
	switch r.load.metric {
	case perPacket:
		if m.recv.packets == 0 {
			return 0, false
		}
		return q(m) / float64(m.recv.packets), true
	case perMemberSecond:
		if m.peers == 0 {
			return 0, false
		}
		return q(m) / (float64(m.peers) * m.wall.Seconds()), true
	default:
		if m.peers == 0 || r.base.wall == 0 {
			return 0, false
		}
		added := q(m) - q(r.base)*m.wall.Seconds()/r.base.wall.Seconds()
		return added / (float64(m.peers) * m.wall.Seconds()), true
	}
}

// delivered is the share of what the counted peers would receive with
// nothing lost that they did receive; ok is false when the load has no
// such expectation.
func (r result) delivered() (float64, bool) {
	if r.load.expect == nil || r.main.peers == 0 {
		return 0, false
	}
	want := r.load.expect(r.kind) * r.main.wall.Seconds() * float64(r.main.peers)
	return float64(r.main.recv.packets) / want, want > 0
}

// short is the delivered share under which a figure is only a bound: the
// server (or the load generator) could not keep up.
const short = 0.9

// per names what the load's figures are counted per: a delivered
// packet, a member-second or a viewer-second.
func (l load) per() string {
	switch l.metric {
	case perPacket:
		return "packet"
	case perMemberSecond:
		return "member-s"
	}
	return "viewer-s"
}

// unit names cost's unit.
func (l load) unit() string {
	if l.metric == perPacket {
		return "µs/" + l.per()
	}
	return "ms/" + l.per()
}
