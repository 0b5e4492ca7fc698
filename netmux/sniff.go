package netmux

import "encoding/binary"

// Kind is what the first bytes of a connection say it carries.
type Kind uint8

// The kinds [Sniff] and [SniffTLS] tell apart.
const (
	// NeedMore: the bytes so far still fit more than one answer.
	NeedMore Kind = iota
	// Refuse: no protocol confd serves here starts like this.
	Refuse
	// TLS: a TLS handshake record (plain stream).
	TLS
	// ICE: an RFC 4571 framed STUN binding request (plain stream).
	ICE
	// HTTP: a request line (inside TLS).
	HTTP
	// STUN: a STUN message, the start of TURN (inside TLS).
	STUN
)

func (k Kind) String() string {
	switch k {
	case NeedMore:
		return "need more"
	case Refuse:
		return "refuse"
	case TLS:
		return "tls"
	case ICE:
		return "ice"
	case HTTP:
		return "http"
	case STUN:
		return "stun"
	}
	return "unknown"
}

// SniffLen is the most bytes either classifier looks at: an RFC 4571
// length, the STUN message type and length, and the magic cookie.
const SniffLen = 10

// The STUN magic cookie (RFC 8489 §6), and the type of a binding request.
var magicCookie = [4]byte{0x21, 0x12, 0xA4, 0x42}

const (
	stunHeaderLen      = 20
	stunBindingRequest = 0x0001
	tlsHandshake       = 0x16 // ContentType handshake (RFC 8446 §5.1)
	tlsMajor           = 0x03 // every TLS and SSL 3 record version starts with 3
)

// Sniff classifies the first bytes of a plain TCP stream on the HTTPS
// port: a TLS record, or ICE over TCP (RFC 6544), whose first frame is an
// RFC 4571 length followed by a STUN binding request (RFC 8489 §5: type
// 0x0001, a message length that is a multiple of 4 and matches the frame,
// the magic cookie). It decides as soon as it can: a byte that rules out
// both gives Refuse at once.
func Sniff(b []byte) Kind {
	if len(b) == 0 {
		return NeedMore
	}
	if b[0] == tlsHandshake {
		if len(b) < 2 {
			return NeedMore
		}
		if b[1] == tlsMajor {
			return TLS
		}
		return Refuse
	}
	return sniffFramedBinding(b)
}

// sniffFramedBinding checks b against
// [len:2][type 0x0001:2][mlen:2][cookie:4] with len == mlen+20.
func sniffFramedBinding(b []byte) Kind {
	fixed := [SniffLen]int16{-1, -1, 0x00, 0x01, -1, -1, 0x21, 0x12, 0xA4, 0x42}
	for i := 0; i < len(b) && i < SniffLen; i++ {
		if fixed[i] >= 0 && int16(b[i]) != fixed[i] {
			return Refuse
		}
	}
	if len(b) >= 6 {
		frame := binary.BigEndian.Uint16(b[0:2])
		mlen := binary.BigEndian.Uint16(b[4:6])
		if mlen%4 != 0 || int(frame) != int(mlen)+stunHeaderLen {
			return Refuse
		}
	}
	if len(b) < SniffLen {
		return NeedMore
	}
	return ICE
}

// SniffTLS classifies the first bytes inside a TLS connection: an HTTP
// request starts with its method, a token of capital letters (RFC 9110
// §9; confd's server speaks HTTP/1.1, and a client that sends "PRI" for
// HTTP/2 gets its refusal from the HTTP server); STUN has the two top
// bits of its first byte clear (RFC 7983 §7: 0–3) and the magic cookie in
// bytes 4–7. A TURN client starts with a STUN request, never with
// ChannelData (RFC 8656 §12), so 64–79 needs no rule of its own here.
func SniffTLS(b []byte) Kind {
	if len(b) == 0 {
		return NeedMore
	}
	switch c := b[0]; {
	case c >= 'A' && c <= 'Z':
		return HTTP
	case c <= 3:
		for i := 4; i < len(b) && i < 8; i++ {
			if b[i] != magicCookie[i-4] {
				return Refuse
			}
		}
		if len(b) < 8 {
			return NeedMore
		}
		return STUN
	}
	return Refuse
}
