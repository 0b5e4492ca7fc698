// Package forwardertest provides synthetic media sources for testing and
// benchmarking the forwarder: VP8Source produces RTP packets (RFC 3550) with
// a VP8 payload descriptor (RFC 7741 §4.2) whose frames carry a marker that
// FrameOf recovers, so a receiver can tell which source and frame a forwarded
// packet came from.
package forwardertest
