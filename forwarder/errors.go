package forwarder

import "errors"

var (
	// ErrNoCodec means the peer negotiated no codec this track can send.
	ErrNoCodec = errors.New("forwarder: no matching codec negotiated")
	// ErrClosed means the Receiver was closed.
	ErrClosed = errors.New("forwarder: receiver closed")
	// ErrLayerTaken means a simulcast layer index is out of range or
	// already being read.
	ErrLayerTaken = errors.New("forwarder: layer index taken or out of range")
)
