package turnserver

import (
	"fmt"

	"github.com/pion/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// pionLog adapts pion's loggers to zap. pion/turn reports what clients do
// wrong (a request it refuses, a packet without permission) at Error and
// Warn; to confd those are a client's business, not the server's, so they
// come down a level or two: pion's Error and Warn are Info, the rest
// Debug. A level zap would drop is dropped before formatting.
type pionLog struct{ log *zap.Logger }

// NewLogger implements logging.LoggerFactory.
func (p pionLog) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{p.log.Named(scope)}
}

type pionLogger struct{ log *zap.Logger }

func (l pionLogger) at(level zapcore.Level, msg string) {
	if ce := l.log.Check(level, msg); ce != nil {
		ce.Write()
	}
}

func (l pionLogger) atf(level zapcore.Level, format string, args []any) {
	if ce := l.log.Check(level, "pion"); ce != nil {
		ce.Message = fmt.Sprintf(format, args...)
		ce.Write()
	}
}

func (l pionLogger) Trace(msg string)                  { l.at(zapcore.DebugLevel, msg) }
func (l pionLogger) Tracef(format string, args ...any) { l.atf(zapcore.DebugLevel, format, args) }
func (l pionLogger) Debug(msg string)                  { l.at(zapcore.DebugLevel, msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.atf(zapcore.DebugLevel, format, args) }
func (l pionLogger) Info(msg string)                   { l.at(zapcore.DebugLevel, msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.atf(zapcore.DebugLevel, format, args) }
func (l pionLogger) Warn(msg string)                   { l.at(zapcore.InfoLevel, msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.atf(zapcore.InfoLevel, format, args) }
func (l pionLogger) Error(msg string)                  { l.at(zapcore.InfoLevel, msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.atf(zapcore.InfoLevel, format, args) }
