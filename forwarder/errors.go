package forwarder

import "errors"

var (
	// ErrNoCodec means the peer negotiated no codec this track can send.
	ErrNoCodec = errors.New("forwarder: no matching codec negotiated")
	// ErrClosed means the Receiver was closed.
	ErrClosed = errors.New("forwarder: receiver closed")
)
