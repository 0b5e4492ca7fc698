package dialin

import (
	"context"
	"log/slog"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapHandler lets sipgo, which logs through log/slog, write to confd's zap
// logger. sipgo's Info is chatty protocol detail, so it is demoted to
// Debug; its warnings and errors stay what they are.
// After Shutdown it is muted: sipgo's transaction timers may still fire for
// a moment, and nothing should reach a logger whose owner has moved on.
type zapHandler struct {
	log   *zap.Logger
	muted *atomic.Bool
}

func newSlog(log *zap.Logger, muted *atomic.Bool) *slog.Logger {
	return slog.New(zapHandler{log: log, muted: muted})
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
	return !h.muted.Load() && h.log.Core().Enabled(zapLevel(l))
}

func (h zapHandler) Handle(_ context.Context, r slog.Record) error {
	fields := make([]zap.Field, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		fields = append(fields, zap.Any(a.Key, a.Value.Any()))
		return true
	})
	if h.muted.Load() {
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
	return zapHandler{log: h.log.With(fields...), muted: h.muted}
}

func (h zapHandler) WithGroup(name string) slog.Handler {
	return zapHandler{log: h.log.Named(name), muted: h.muted}
}
