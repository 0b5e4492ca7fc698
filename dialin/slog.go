package dialin

import (
	"context"
	"log/slog"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapHandler lets sipgo, which logs through log/slog, write to confd's zap
// logger. sipgo's Info is chatty protocol detail, so it is demoted to
// Debug; its warnings and errors stay what they are.
// Shutdown mutes it: sipgo's connection readers and transaction timers may
// still run for a moment, and nothing should reach a logger whose owner
// has moved on.
type zapHandler struct {
	log  *zap.Logger
	gate *logGate
}

// logGate mutes a handler. A write holds the read lock, so once mute
// returns no write is in flight or can start.
type logGate struct {
	mu    sync.RWMutex
	muted bool
}

func (g *logGate) mute() {
	g.mu.Lock()
	g.muted = true
	g.mu.Unlock()
}

func newSlog(log *zap.Logger, gate *logGate) *slog.Logger {
	return slog.New(zapHandler{log: log, gate: gate})
}

func zapLevel(l slog.Level) zapcore.Level {
	switch {
	case l >= slog.LevelError:
		return zapcore.ErrorLevel
	case l >= slog.LevelWarn:
		return zapcore.WarnLevel
	}
	return zapcore.DebugLevel
}

func (h zapHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.log.Core().Enabled(zapLevel(l))
}

func (h zapHandler) Handle(_ context.Context, r slog.Record) error {
	fields := make([]zap.Field, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		fields = append(fields, zap.Any(a.Key, a.Value.Any()))
		return true
	})
	h.gate.mu.RLock()
	defer h.gate.mu.RUnlock()
	if h.gate.muted {
		return nil
	}
	if ce := h.log.Check(zapLevel(r.Level), r.Message); ce != nil {
		ce.Write(fields...)
	}
	return nil
}

func (h zapHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	fields := make([]zap.Field, 0, len(attrs))
	for _, a := range attrs {
		fields = append(fields, zap.Any(a.Key, a.Value.Any()))
	}
	return zapHandler{log: h.log.With(fields...), gate: h.gate}
}

func (h zapHandler) WithGroup(name string) slog.Handler {
	return zapHandler{log: h.log.Named(name), gate: h.gate}
}
