package dialin

import (
	"encoding/binary"
	"strings"
)

// rtpHeader is what confd writes in an RTP fixed header (RFC 3550 §5.1);
// what it reads, rtpparse parses into a pion rtp.Header.
type rtpHeader struct {
	pt     uint8
	marker bool
	seq    uint16
	ts     uint32
	ssrc   uint32
}

// rtpHeaderLen is the fixed header without CSRCs.
const rtpHeaderLen = 12

// putRTP writes a fixed header (no CSRC, no extension) into b[:12].
func putRTP(b []byte, h *rtpHeader) int {
	b[0] = 2 << 6
	b[1] = h.pt & 0x7f
	if h.marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], h.seq)
	binary.BigEndian.PutUint32(b[4:], h.ts)
	binary.BigEndian.PutUint32(b[8:], h.ssrc)
	return rtpHeaderLen
}

// infoDigits reads the key of a SIP INFO body: application/dtmf-relay
// ("Signal=5\r\nDuration=160", the de-facto format of Cisco and most
// PBXs) or application/dtmf (the bare key). Each INFO carries one key;
// some devices send the RFC 4733 event codes 10 and 11 for '*' and '#'.
func infoDigits(contentType string, body []byte) string {
	ct := strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	var raw string
	switch ct {
	case "application/dtmf-relay":
		for line := range strings.Lines(string(body)) {
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				raw = strings.TrimSpace(v)
			}
		}
	case "application/dtmf":
		raw = strings.TrimSpace(string(body))
	}
	return infoKey(raw)
}

func infoKey(s string) string {
	switch s {
	case "10":
		return "*"
	case "11":
		return "#"
	}
	if len(s) != 1 {
		return ""
	}
	c := s[0]
	if c >= 'a' && c <= 'd' {
		c -= 'a' - 'A'
	}
	if strings.IndexByte("0123456789*#ABCD", c) < 0 {
		return ""
	}
	return string(c)
}
