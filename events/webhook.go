package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// WebhookConfig is one receiver of events.
type WebhookConfig struct {
	URL    string // http or https
	Secret string // signs every request (Confd-Signature); required
	// Events are the types sent; none named: every type but chat.
	Events []string
	// Queue bounds the events waiting for this receiver (default 1024);
	// when it is full, new events are dropped and counted.
	Queue int
	// RetryFor bounds how long one event is retried (default 5 minutes);
	// then it is dropped and counted.
	RetryFor time.Duration
	// Backoff is the wait before the first retry (default 1 s); each
	// further wait doubles, up to MaxBackoff.
	Backoff time.Duration
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
}

// Webhook defaults and limits.
const (
	DefaultQueue    = 1024
	DefaultRetryFor = 5 * time.Minute
	DefaultBackoff  = time.Second
	DefaultTimeout  = 10 * time.Second
	MaxBackoff      = time.Minute
	// maxResponseBytes is how much of a receiver's answer is read (and
	// thrown away) so that the connection can be reused.
	maxResponseBytes = 64 << 10
)

func (c *WebhookConfig) check() (Filter, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: url must be an http or https URL", ErrBadWebhook)
	}
	if c.Secret == "" {
		return nil, fmt.Errorf("%w: %s: a secret is required", ErrBadWebhook, u.Host)
	}
	if c.Queue < 0 || c.RetryFor < 0 || c.Backoff < 0 || c.Timeout < 0 {
		return nil, fmt.Errorf("%w: %s: negative limits", ErrBadWebhook, u.Host)
	}
	if c.Queue == 0 {
		c.Queue = DefaultQueue
	}
	if c.RetryFor == 0 {
		c.RetryFor = DefaultRetryFor
	}
	if c.Backoff == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	f, err := NewFilter(c.Events)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadWebhook, u.Host, err)
	}
	return f, nil
}

// doer sends a request: an *http.Client, or a test's fake.
type doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// hook delivers events to one receiver, one at a time and in order, from
// its bounded queue. Its sender goroutine is the only reader of the queue;
// Activity, under a room's lock, only ever tries to add to it.
type hook struct {
	cfg    WebhookConfig
	index  int
	host   string // for logs: the URL itself may carry a credential
	filter Filter
	queue  chan *Event
	client doer
	log    *zap.Logger

	delivered, failures, overflow, expired atomic.Uint64
	loggedOverflow                         uint64 // the sender's: overflow last logged
}

func newHook(i int, cfg WebhookConfig, f Filter, client doer, log *zap.Logger) *hook {
	u, _ := url.Parse(cfg.URL) // checked
	h := &hook{cfg: cfg, index: i, host: u.Host, filter: f, queue: make(chan *Event, cfg.Queue), client: client}
	h.log = log.With(zap.Int("webhook", i), zap.String("host", h.host))
	return h
}

// offer queues e without blocking; a full queue drops it.
func (h *hook) offer(e *Event) {
	if !h.filter.Passes(e.Type) {
		return
	}
	select {
	case h.queue <- e:
	default:
		h.overflow.Add(1) // logged by the sender, never under a room's lock
	}
}

// run is the sender goroutine: it delivers until closing is closed, then
// tries what is still queued once each, until ctx ends.
func (h *hook) run(ctx context.Context, closing <-chan struct{}) {
	for {
		select {
		case e := <-h.queue:
			h.deliver(ctx, closing, e)
		case <-closing:
			h.drain(ctx)
			return
		}
	}
}

func (h *hook) drain(ctx context.Context) {
	for {
		select {
		case e := <-h.queue:
			if err := h.post(ctx, e); err != nil {
				h.expired.Add(1)
				h.failures.Add(1)
				h.log.Warn("webhook event dropped at shutdown", zap.String("event", string(e.Type)), zap.Error(err))
				continue
			}
			h.delivered.Add(1)
		default:
			h.noteOverflow()
			return
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// deliver posts e until the receiver takes it (a 2xx answer), waiting
// Backoff, then twice as long each time up to MaxBackoff, and gives up
// when the next try would start past RetryFor since the first, or when
// the bus closes.
func (h *hook) deliver(ctx context.Context, closing <-chan struct{}, e *Event) {
	deadline := time.Now().Add(h.cfg.RetryFor)
	wait := h.cfg.Backoff
	for attempt := 1; ; attempt++ {
		err := h.post(ctx, e)
		h.noteOverflow()
		if err == nil {
			h.delivered.Add(1)
			return
		}
		h.failures.Add(1)
		if time.Now().Add(wait).After(deadline) {
			h.expired.Add(1)
			h.log.Warn("webhook event dropped after retries", zap.String("event", string(e.Type)), zap.Int("attempts", attempt), zap.Error(err))
			return
		}
		h.log.Debug("webhook attempt failed", zap.String("event", string(e.Type)), zap.Int("attempt", attempt), zap.Error(err))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-closing:
			t.Stop()
			h.expired.Add(1)
			h.log.Warn("webhook event dropped at shutdown", zap.String("event", string(e.Type)), zap.Int("attempts", attempt), zap.Error(err))
			return
		}
		wait = min(2*wait, MaxBackoff)
	}
}

// noteOverflow logs the events the queue had no room for since it last
// did.
func (h *hook) noteOverflow() {
	if n := h.overflow.Load(); n != h.loggedOverflow {
		h.log.Warn("webhook queue full: events dropped", zap.Uint64("dropped", n-h.loggedOverflow), zap.Uint64("dropped_total", n), zap.Int("queue", h.cfg.Queue))
		h.loggedOverflow = n
	}
}

// post makes one attempt, signed afresh (a receiver may refuse old
// timestamps).
func (h *hook) post(ctx context.Context, e *Event) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	body := e.JSON()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "confd-webhook/1")
	req.Header.Set("Confd-Event", string(e.Type))
	req.Header.Set("Confd-Event-Id", e.ID)
	req.Header.Set(SignatureHeader, Sign(h.cfg.Secret, time.Now(), body))
	resp, err := h.client.Do(req)
	if err != nil {
		return withoutURL(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %d", resp.StatusCode)
	}
	return nil
}

// withoutURL drops the URL from a client error: it may hold a credential,
// and logs must not.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// SignatureHeader carries a webhook request's signature.
const SignatureHeader = "Confd-Signature"

// Sign makes the Confd-Signature of body sent at t: "t=<unix seconds>,
// v1=<hex HMAC-SHA256 of "<unix seconds>.<body>" with the secret>".
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a Confd-Signature header against body, as a receiver
// does: the signature must match (compared in constant time) and its
// timestamp be within tolerance of now, so a captured request cannot be
// replayed later.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: want t=<unix>,v1=<hex>", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %s is outside the tolerance", ErrBadSignature, ts)
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no signature matches", ErrBadSignature)
}
