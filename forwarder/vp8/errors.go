package vp8

import "errors"

var (
	// ErrShortPacket is returned when a payload ends before the descriptor
	// (or, for the first packet of a frame, the payload header byte) does.
	ErrShortPacket = errors.New("vp8: payload too short for its descriptor")

	// ErrShortBuffer is returned when a destination slice cannot hold the
	// bytes that would be written to it.
	ErrShortBuffer = errors.New("vp8: destination buffer too small")
)
