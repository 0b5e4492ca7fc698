package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// joinTimeout bounds one peer's join: signalling, ICE and DTLS.
const joinTimeout = 30 * time.Second

// scene is the peers of one load on one server; it owns them, and close
// ends them all.
type scene struct {
	api      *webrtc.API
	media    *mediaSet
	t        target
	all      []*peer
	counted  []*peer // the peers the measurement reads
	failed   int     // counted peers that could not join
	firstErr error
}

// connect joins roles, parallel of them at a time, and starts their
// sources. A base peer that fails fails the scene; counted peers may fail
// up to a tenth (the load generator short of CPU), and the measurement
// says how many joined.
func (sc *scene) connect(ctx context.Context, roles []role, counted bool, parallel int) error {
	peers := make([]*peer, len(roles))
	errs := make([]error, len(roles))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, r := range roles {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			peers[i], errs[i] = sc.join(ctx, r)
		}()
	}
	wg.Wait()
	failed := 0
	for i, p := range peers {
		if errs[i] != nil {
			failed++
			if sc.firstErr == nil {
				sc.firstErr = errs[i]
			}
			continue
		}
		sc.all = append(sc.all, p)
		if counted {
			sc.counted = append(sc.counted, p)
		}
	}
	if failed == 0 {
		return nil
	}
	if !counted || failed*10 > len(roles) || ctx.Err() != nil {
		return fmt.Errorf("%d of %d peers did not join: %w", failed, len(roles), errors.Join(ctx.Err(), sc.firstErr))
	}
	sc.failed += failed
	return nil
}

// join makes one peer, joins it and starts its sources.
func (sc *scene) join(ctx context.Context, r role) (*peer, error) {
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	p, err := newPeer(sc.api, sc.media, r.name, r.sections)
	if err != nil {
		return nil, err
	}
	if err := sc.t.join(ctx, p, benchRoom, r); err != nil {
		p.close()
		return nil, err
	}
	if err := p.connected(ctx); err != nil {
		p.close()
		return nil, err
	}
	p.start()
	return p, nil
}

// waitMedia waits up to d for every counted peer to receive media, and
// returns how many have received none.
func (sc *scene) waitMedia(ctx context.Context, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		silent := 0
		for _, p := range sc.counted {
			if p.received().packets == 0 {
				silent++
			}
		}
		if silent == 0 || time.Now().After(deadline) || sleep(ctx, 100*time.Millisecond) != nil {
			return silent
		}
	}
}

// received is what each counted peer has received.
func (sc *scene) received() []tally {
	out := make([]tally, len(sc.counted))
	for i, p := range sc.counted {
		out[i] = p.received()
	}
	return out
}

// close ends every peer, a few at a time (closing is mostly waiting for
// pion's goroutines).
func (sc *scene) close() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, p := range sc.all {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			p.close()
		}()
	}
	wg.Wait()
	sc.all, sc.counted = nil, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
