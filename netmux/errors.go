package netmux

import "errors"

var (
	// ErrClosed is what a protocol listener's Accept returns once the Mux
	// or that listener is closed.
	ErrClosed = errors.New("netmux: listener closed")

	errRefused = errors.New("not TLS and not ICE over TCP")
	errInner   = errors.New("neither HTTP nor STUN inside TLS")
	errOff     = errors.New("protocol not served on this port")
)
