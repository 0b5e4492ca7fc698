// Package rtpparse reads an inbound RTP packet (RFC 3550 §5.1) in place:
// the one parser of browsers' video and audio (the forwarder, the peer)
// and phones' audio (dialin), and splits compound RTCP packets (rtcp.go).
// It allocates nothing, not even for a packet it refuses, and starts no
// goroutines.
package rtpparse

import (
	"encoding/binary"
	"errors"

	"github.com/pion/rtp"
)

// The packets Parse refuses. Each is a fixed value: a refusal allocates
// nothing, so garbage costs no more than a packet.
var (
	ErrShort     = errors.New("rtp: shorter than its header")
	ErrVersion   = errors.New("rtp: version is not 2")
	ErrPadding   = errors.New("rtp: padding count of 0 or past the header")
	ErrExtension = errors.New("rtp: malformed header extension")
)

// fixedLen is the fixed header, without CSRCs.
const fixedLen = 12

// Parse reads raw's header into h, reusing h's storage, and returns the
// payload: what lies between the header (its CSRC list and extension
// included) and the padding. It refuses what RFC 3550 §5.1 forbids: a
// version other than 2; CSRCs or an extension longer than the packet;
// padding (P set) whose count, the last octet, is 0 or reaches into the
// header. A packet of padding alone parses, with an empty payload.
func Parse(raw []byte, h *rtp.Header) ([]byte, error) {
	n, err := HeaderLen(raw)
	if err != nil {
		return nil, err
	}
	if _, err := h.Unmarshal(raw); err != nil {
		return nil, ErrExtension // element lengths past the extension's end
	}
	end := len(raw)
	if h.Padding {
		pad := int(raw[end-1])
		if pad == 0 || end-pad < n {
			return nil, ErrPadding
		}
		end -= pad
	}
	return raw[n:end], nil
}

// HeaderLen checks raw's fixed header, CSRC list and extension lengths
// and returns where the payload starts.
func HeaderLen(raw []byte) (int, error) {
	if len(raw) < fixedLen {
		return 0, ErrShort
	}
	if raw[0]>>6 != 2 {
		return 0, ErrVersion
	}
	n := fixedLen + 4*int(raw[0]&0x0f)
	if len(raw) < n {
		return 0, ErrShort
	}
	if raw[0]&0x10 != 0 {
		if len(raw) < n+4 {
			return 0, ErrExtension
		}
		n += 4 + 4*int(binary.BigEndian.Uint16(raw[n+2:]))
		if len(raw) < n {
			return 0, ErrExtension
		}
	}
	return n, nil
}
