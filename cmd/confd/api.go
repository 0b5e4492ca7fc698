package main

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/confd/confd/control"
	"github.com/confd/confd/events"
	"github.com/confd/confd/room"
	"github.com/confd/confd/token"
)

// APIConfig is the operators' control API under /api/v1; it is off (404)
// while no key is configured.
type APIConfig struct {
	Keys []APIKeyConfig `yaml:"keys"`
	// MaxBodyBytes bounds a request's body (default 64 KiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxRooms bounds the dynamic rooms at once (default 100).
	MaxRooms int `yaml:"max_rooms"`
	// MaxEventStreams bounds the open event streams (default 16).
	MaxEventStreams int `yaml:"max_event_streams"`
	// EventBuffer is how many events may wait for one stream's client
	// before it is dropped (default 256).
	EventBuffer int `yaml:"event_buffer"`
}

// APIKeyConfig is one API key; the audit log names it by name.
type APIKeyConfig struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

// WebhookConfig is a receiver of events.
type WebhookConfig struct {
	URL      string        `yaml:"url"`
	Secret   string        `yaml:"secret"`
	Events   []string      `yaml:"events"`    // default: every type but chat
	Queue    int           `yaml:"queue"`     // default 1024 events
	RetryFor time.Duration `yaml:"retry_for"` // default 5m
	Backoff  time.Duration `yaml:"backoff"`   // default 1s, doubling up to a minute
	Timeout  time.Duration `yaml:"timeout"`   // per attempt, default 10s
}

// validateOperators checks the api keys and the webhooks when the config
// is loaded; errors name neither keys nor secrets.
func (c *Config) validateOperators() error {
	if err := control.CheckKeys(c.controlConfig(nil, nil, nil).Keys); err != nil {
		return err
	}
	if err := events.Check(c.eventsConfig(nil)); err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	return nil
}

func (c *Config) eventsConfig(log *zap.Logger) events.Config {
	ec := events.Config{MaxStreams: c.API.MaxEventStreams, StreamBuffer: c.API.EventBuffer, Log: log}
	for _, w := range c.Webhooks {
		ec.Webhooks = append(ec.Webhooks, events.WebhookConfig{
			URL: w.URL, Secret: w.Secret, Events: w.Events, Queue: w.Queue,
			RetryFor: w.RetryFor, Backoff: w.Backoff, Timeout: w.Timeout,
		})
	}
	return ec
}

func (c *Config) controlConfig(rooms *room.Rooms, bus *events.Bus, log *zap.Logger) control.Config {
	cc := control.Config{Rooms: rooms, Streams: bus, MaxBodyBytes: c.API.MaxBodyBytes, MaxRooms: c.API.MaxRooms, Log: log}
	for _, k := range c.API.Keys {
		cc.Keys = append(cc.Keys, control.Key{Name: k.Name, Key: k.Key})
	}
	if secret := c.Verto.TokenSecret; secret != "" {
		cc.SignToken = func(rm, name string, role room.Role, exp time.Time) string {
			return token.Sign(token.Grant{Room: rm, Name: name, Role: role}, secret, exp)
		}
	}
	return cc
}

// newOperators makes the event bus, the rooms' activity sink, and the
// control API when a key is configured.
func (a *app) newOperators() error {
	bus, err := events.New(a.cfg.eventsConfig(a.log.Named("events")))
	if err != nil {
		return err
	}
	a.events = bus
	a.rooms.ReportTo(bus)
	if len(a.cfg.API.Keys) == 0 {
		return nil
	}
	cc := a.cfg.controlConfig(a.rooms, bus, a.log.Named("api"))
	if a.recorder != nil {
		cc.Recorder = a.recorder
	}
	a.api, err = control.New(cc)
	return err
}

// apiHandler serves /api/v1: the API, or 404 while it is off.
func (a *app) apiHandler() http.Handler {
	if a.api == nil {
		return control.Off()
	}
	return a.api.Handler()
}

// writeEventMetrics writes the webhooks' and event streams' counters.
func (a *app) writeEventMetrics(e *expo) {
	m := a.events.Metrics()
	label := func(w events.WebhookMetrics) string { return strconv.Itoa(w.Index) }
	e.family("confd_webhook_queued", "gauge", "Events waiting for a webhook (webhook: its place in the config, from 0).")
	for _, w := range m.Webhooks {
		e.sample("confd_webhook_queued", float64(w.Queued), "webhook", label(w))
	}
	e.family("confd_webhook_delivered_total", "counter", "Events a webhook's receiver took.")
	for _, w := range m.Webhooks {
		e.sample("confd_webhook_delivered_total", float64(w.Delivered), "webhook", label(w))
	}
	e.family("confd_webhook_attempt_failures_total", "counter", "Webhook requests that failed (network error, timeout or not 2xx).")
	for _, w := range m.Webhooks {
		e.sample("confd_webhook_attempt_failures_total", float64(w.Failures), "webhook", label(w))
	}
	e.family("confd_webhook_dropped_total", "counter", "Events dropped: the queue was full (overflow), or retries ran out (retries).")
	for _, w := range m.Webhooks {
		e.sample("confd_webhook_dropped_total", float64(w.Overflow), "webhook", label(w), "reason", "overflow")
		e.sample("confd_webhook_dropped_total", float64(w.Expired), "webhook", label(w), "reason", "retries")
	}
	e.family("confd_event_streams", "gauge", "Open event streams (GET /api/v1/events).")
	e.sample("confd_event_streams", float64(m.Streams))
	e.family("confd_event_streams_dropped_total", "counter", "Event stream clients dropped for falling behind.")
	e.sample("confd_event_streams_dropped_total", float64(m.StreamsDropped))
}
