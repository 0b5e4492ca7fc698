package recorder

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/confd/confd/room"
)

// stopWait bounds how long Stop waits for a recording's files to be
// closed; past it (a disk that hangs) Stop returns and the goroutine
// finishes on its own, waited for by Close.
const stopWait = 10 * time.Second

// requestQueue bounds the starts and stops rooms ask for (Request) that
// wait for the recorder's goroutine.
const requestQueue = 64

// Recorder records rooms: it is the rooms' room.Recorder and the API's
// control.Recorder.
type Recorder struct {
	cfg Config

	mu     sync.Mutex
	active map[*room.Room]*recording
	closed bool

	requests chan request
	quit     chan struct{}
	wg       sync.WaitGroup // run and every recording's goroutine
}

type request struct {
	r     *room.Room
	start bool
}

// New makes a recorder writing under cfg.Dir, which it creates (0700) if
// need be, and starts its goroutine.
func New(cfg Config) (*Recorder, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, dirMode); err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	rc := &Recorder{cfg: cfg, active: map[*room.Room]*recording{}, requests: make(chan request, requestQueue), quit: make(chan struct{})}
	rc.wg.Add(1)
	go rc.run()
	return rc, nil
}

// run carries out what rooms asked for under their locks.
func (rc *Recorder) run() {
	defer rc.wg.Done()
	for {
		select {
		case <-rc.quit:
			return
		case q := <-rc.requests:
			var err error
			if q.start {
				err = rc.Start(q.r)
			} else {
				err = rc.Stop(q.r)
			}
			if err != nil {
				rc.cfg.Log.Warn("recording request failed", zap.String("room", q.r.Number()), zap.Bool("start", q.start), zap.Error(err))
			}
		}
	}
}

// Request implements room.Recorder: it never blocks.
func (rc *Recorder) Request(r *room.Room, start bool) {
	select {
	case rc.requests <- request{r: r, start: start}:
	default:
		rc.cfg.Log.Error("recording request dropped: too many waiting", zap.String("room", r.Number()), zap.Bool("start", start))
	}
}

// Start starts recording r: a directory of its own, the mix's file, the
// taps, and the room marked recorded. It fails, changing nothing, when r
// is recorded already, is the echo test, too many recordings run, or the
// directory cannot be made.
func (rc *Recorder) Start(r *room.Room) error {
	if r.Echo() {
		return ErrEchoTest
	}
	rc.mu.Lock()
	switch {
	case rc.closed:
		rc.mu.Unlock()
		return ErrClosed
	case rc.active[r] != nil:
		rc.mu.Unlock()
		return ErrRecording
	case len(rc.active) >= rc.cfg.MaxRecordings:
		rc.mu.Unlock()
		return fmt.Errorf("%w (%d)", ErrTooMany, rc.cfg.MaxRecordings)
	}
	rc.active[r] = nil // reserved while the files are made
	rc.mu.Unlock()
	rec, err := rc.open(r)
	rc.mu.Lock()
	if err != nil || rc.closed {
		delete(rc.active, r)
		rc.mu.Unlock()
		if err == nil {
			rec.finish(nil)
			err = ErrClosed
		}
		return err
	}
	rc.active[r] = rec
	rc.wg.Add(1)
	rc.mu.Unlock()
	rec.attach()
	r.SetRecording(true)
	go func() {
		defer rc.wg.Done()
		rec.run()
	}()
	rc.cfg.Log.Info("recording started", zap.String("room", r.Number()), zap.String("dir", rec.dir))
	return nil
}

// open makes the recording's directory and first files.
func (rc *Recorder) open(r *room.Room) (*recording, error) {
	wall := time.Now()
	dir, err := makeDir(rc.cfg.Dir, r.Number(), wall)
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	rec, err := newRecording(rc, r, dir, wall)
	if err != nil {
		if rec != nil && rec.mixFile != nil {
			_ = rec.mixFile.close()
		}
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("recorder: %w", err)
	}
	return rec, nil
}

// Stop stops recording r: the taps come off, what they queued is written,
// the files are closed and the room is no longer marked recorded.
func (rc *Recorder) Stop(r *room.Room) error {
	rc.mu.Lock()
	rec := rc.active[r]
	if rec == nil {
		rc.mu.Unlock()
		return ErrNotRecording
	}
	delete(rc.active, r)
	rc.mu.Unlock()
	rc.stop(rec, stopWait)
	return nil
}

func (rc *Recorder) stop(rec *recording, wait time.Duration) {
	rec.detach()
	rec.end()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-rec.done:
	case <-t.C:
		rc.cfg.Log.Warn("recording: its files are still being closed", zap.String("room", rec.room.Number()))
	}
	rec.room.SetRecording(false)
}

// forget takes rec off the active recordings (it stopped on its own).
func (rc *Recorder) forget(rec *recording) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.active[rec.room] == rec {
		delete(rc.active, rec.room)
	}
}

// Close stops every recording and the recorder's goroutine, and waits for
// them until ctx ends.
func (rc *Recorder) Close(ctx context.Context) {
	rc.mu.Lock()
	if rc.closed {
		rc.mu.Unlock()
		return
	}
	rc.closed = true
	var recs []*recording
	for r, rec := range rc.active {
		if rec != nil {
			recs = append(recs, rec)
		}
		delete(rc.active, r)
	}
	rc.mu.Unlock()
	close(rc.quit)
	for _, rec := range recs {
		rc.stop(rec, time.Until(deadline(ctx)))
	}
	done := make(chan struct{})
	go func() { rc.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		rc.cfg.Log.Warn("recorder: recordings still closing at shutdown")
	}
}

func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(stopWait)
}

// Stats is one recording's counters.
type Stats struct {
	Room    string
	Dir     string
	Bytes   int64
	Dropped uint64 // packets and frames the taps dropped: the queue was full
}

// Stats lists the recordings running.
func (rc *Recorder) Stats() []Stats {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []Stats
	for r, rec := range rc.active {
		if rec != nil {
			out = append(out, Stats{Room: r.Number(), Dir: rec.dir, Bytes: rec.budget.used.Load(), Dropped: rec.dropped.Load()})
		}
	}
	return out
}

// Dir is the directory a running recording of r writes into, "" when r
// is not recorded.
func (rc *Recorder) Dir(r *room.Room) string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rec := rc.active[r]; rec != nil {
		return rec.dir
	}
	return ""
}
