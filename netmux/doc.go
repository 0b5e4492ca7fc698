// Package netmux shares one TCP listener among the protocols confd speaks
// on its HTTPS port, so that a network that lets only TCP 443 out still
// reaches all of confd:
//
//   - a TLS client hello (a handshake record, RFC 8446 §5.1) is
//     terminated with confd's certificate; the first bytes inside then
//     say whether it is HTTP (the page, the websockets, the API: a method
//     token of capital letters) or STUN/TURN (RFC 8489 §5: the two top
//     bits of the first byte clear and the magic cookie at bytes 4–7,
//     the RFC 7983 first-byte rule), for TURN over TLS;
//   - a plain stream that starts with an RFC 4571 framed STUN binding
//     request is ICE over TCP (RFC 6544) for the media;
//   - anything else is closed and counted.
//
// [Sniff] and [SniffTLS] are the pure classifiers (fuzzed). A [Mux] owns
// the listener and hands each classified connection to the [net.Listener]
// of its protocol ([Mux.HTTP], [Mux.TURN], [Mux.ICE]), which the HTTP
// server, the TURN server and pion's ICE TCP mux accept from as from any
// listener. The bytes read to classify a connection are replayed to its
// consumer.
//
// Limits: a connection has Config.HandshakeTimeout for its first bytes,
// the TLS handshake and the first bytes inside TLS together; at most
// Config.MaxPending connections (Config.MaxPendingPerIP from one address)
// are being classified at once, and more are closed at once and counted.
// A classified connection belongs to its consumer, which sets its own
// limits (the HTTP server's timeouts, the TURN server's quotas).
//
// Goroutines:
//
//	goroutine   count                          owner  stops on
//	acceptLoop  1 per Mux                      Mux    Close (the listener closes)
//	classify    1 per connection being sorted  Mux    classified and handed on, refused, timed out, Close
//
// Close closes the listener and every protocol listener and waits for both
// kinds. No goroutine of this package touches a connection after it was
// handed on.
package netmux
