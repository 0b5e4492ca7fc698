// Package dialintest is a SIP phone for tests: a sipgo user agent on
// loopback that calls confd, sends a tone as G.711 RTP, records and decodes
// what it receives, presses keys (RFC 4733 and SIP INFO), holds and hangs
// up. Tests of dialin and of the whole server use it. WSPhone is SIP over a
// websocket (RFC 7118) as browsers' SIP stacks speak it: requests written
// by hand, every message confd sends read back.
//
// Goroutines: one RTP reader and one tone sender per Phone, both stopped
// by Close; sipgo's own for the user agent, stopped by Close too; one
// reader per WSPhone, ending when its websocket closes (the test's
// cleanup closes it).
package dialintest
