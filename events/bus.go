package events

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/confd/confd/room"
)

// Config is what the bus sends where.
type Config struct {
	Webhooks []WebhookConfig
	// MaxStreams bounds the event streams open at once (default 16).
	MaxStreams int
	// StreamBuffer is how many events may wait for one stream's client
	// (default 256); a client that falls further behind is dropped.
	StreamBuffer int
	Log          *zap.Logger
}

// Stream defaults.
const (
	DefaultMaxStreams   = 16
	DefaultStreamBuffer = 256
)

// Bus turns the rooms' activities into events and hands each to the
// webhooks and streams that want it. It is the rooms' room.ActivitySink.
type Bus struct {
	cfg   Config
	log   *zap.Logger
	hooks []*hook

	ctx     context.Context // ends in-flight webhook requests at the end of Close
	cancel  context.CancelFunc
	closing chan struct{}
	wg      sync.WaitGroup // the webhook senders

	mu      sync.Mutex
	closed  bool
	streams map[*Stream]struct{}

	streamsDropped atomic.Uint64
}

// New checks the config and makes the bus; Start starts its senders.
func New(cfg Config) (*Bus, error) {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = DefaultMaxStreams
	}
	if cfg.StreamBuffer <= 0 {
		cfg.StreamBuffer = DefaultStreamBuffer
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bus{cfg: cfg, log: cfg.Log, ctx: ctx, cancel: cancel, closing: make(chan struct{}), streams: map[*Stream]struct{}{}}
	client := &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		// A redirect would turn the POST into a GET elsewhere: a 3xx is
		// a failed attempt.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for i := range cfg.Webhooks {
		wc := cfg.Webhooks[i]
		f, err := wc.check()
		if err != nil {
			cancel()
			return nil, err
		}
		b.hooks = append(b.hooks, newHook(i, wc, f, client, b.log))
	}
	return b, nil
}

// Check reports what New would refuse in cfg, building nothing.
func Check(cfg Config) error {
	for i := range cfg.Webhooks {
		wc := cfg.Webhooks[i]
		if _, err := wc.check(); err != nil {
			return err
		}
	}
	return nil
}

// Start starts one sender goroutine per webhook.
func (b *Bus) Start() {
	for _, h := range b.hooks {
		b.wg.Go(func() { h.run(b.ctx, b.closing) })
	}
}

// Activity implements room.ActivitySink: it makes the event and offers it
// to every webhook's queue and stream's buffer without waiting.
func (b *Bus) Activity(a room.Activity) {
	e, ok := eventOf(a)
	if !ok {
		return
	}
	for _, h := range b.hooks {
		h.offer(e)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.streams {
		if !s.offer(e) {
			delete(b.streams, s)
			b.streamsDropped.Add(1)
		}
	}
}

// Close ends every stream and stops the senders: each stops retrying and
// tries what it still has queued once, until ctx ends; then requests in
// flight are cancelled. It returns when the senders have stopped.
func (b *Bus) Close(ctx context.Context) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	for s := range b.streams {
		s.end()
		delete(b.streams, s)
	}
	b.mu.Unlock()
	close(b.closing)
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		b.log.Warn("webhooks still sending at shutdown: cancelling")
		b.cancel()
		<-done
	}
	b.cancel()
}

// Metrics are the bus's counters.
type Metrics struct {
	Webhooks       []WebhookMetrics
	Streams        int    // open now
	StreamsDropped uint64 // clients dropped for falling behind
}

// WebhookMetrics are one webhook's counters.
type WebhookMetrics struct {
	Index     int    // its place in the config, from 0
	Queued    int    // events waiting
	Delivered uint64 // events the receiver took
	Failures  uint64 // attempts that failed
	Overflow  uint64 // events dropped because the queue was full
	Expired   uint64 // events dropped after retrying for RetryFor (or at shutdown)
}

// Metrics reports the bus's counters.
func (b *Bus) Metrics() Metrics {
	m := Metrics{StreamsDropped: b.streamsDropped.Load()}
	for _, h := range b.hooks {
		m.Webhooks = append(m.Webhooks, WebhookMetrics{
			Index: h.index, Queued: len(h.queue), Delivered: h.delivered.Load(), Failures: h.failures.Load(),
			Overflow: h.overflow.Load(), Expired: h.expired.Load(),
		})
	}
	b.mu.Lock()
	m.Streams = len(b.streams)
	b.mu.Unlock()
	return m
}
