package dialin

import (
	"context"
	"log/slog"

	"github.com/emiago/sipgo/sip"
)

// maxDatagram is the largest UDP payload over IPv4 (65535 less the IP and
// UDP headers).
const maxDatagram = 65507

// What confd sets of sipgo's package-wide state, once, before anything
// runs (sipgo offers no per-server option for either).
func init() {
	// RFC 3261 §18.1.1 sends a request that is within 200 bytes of the
	// path MTU (or over 1300 bytes when it is unknown) over a congestion-
	// controlled transport; it sets no limit for responses, which go back
	// over the transport the request came on (§18.2.2). sipgo applies its
	// 1300-byte request rule to every message it writes to UDP, so a 200
	// for an INVITE that crossed a few proxies (each adds a Via the
	// response must echo) was never sent. confd raises the limit to what
	// one datagram holds.
	sip.UDPMTUSize = maxDatagram + 200
	// sipgo's connections log their reference counting to this logger,
	// not the server's, including a warning on most TCP closes; that is
	// sipgo's bookkeeping, not news for confd's operator.
	sip.SetDefaultLogger(slog.New(discard{}))
}

// discard is a slog.Handler that drops everything.
type discard struct{}

func (discard) Enabled(context.Context, slog.Level) bool  { return false }
func (discard) Handle(context.Context, slog.Record) error { return nil }
func (d discard) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discard) WithGroup(string) slog.Handler           { return d }
