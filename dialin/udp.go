package dialin

import "github.com/emiago/sipgo/sip"

// maxDatagram is the largest UDP payload over IPv4 (65535 less the IP and
// UDP headers).
const maxDatagram = 65507

// RFC 3261 §18.1.1 sends a request that is within 200 bytes of the path
// MTU (or over 1300 bytes when it is unknown) over a congestion-controlled
// transport; it sets no limit for responses, which go back over the
// transport the request came on (§18.2.2). sipgo applies its 1300-byte
// request rule to every message it writes to UDP, so a 200 for an INVITE
// that crossed a few proxies (each adds a Via the response must echo) was
// never sent. sipgo reads the limit from this package variable alone, so
// confd raises it to what one datagram holds, once, before anything runs.
func init() {
	sip.UDPMTUSize = maxDatagram + 200
}
