package netmux

import (
	"encoding/binary"
	"testing"
)

// framedBinding is an RFC 4571 frame holding a STUN binding request with
// attrs bytes of attributes.
func framedBinding(attrs int) []byte {
	msg := make([]byte, 2+stunHeaderLen+attrs)
	binary.BigEndian.PutUint16(msg[0:], uint16(stunHeaderLen+attrs))
	binary.BigEndian.PutUint16(msg[2:], stunBindingRequest)
	binary.BigEndian.PutUint16(msg[4:], uint16(attrs))
	copy(msg[6:], magicCookie[:])
	return msg
}

// stunAllocate is the start of a TURN Allocate request (RFC 8656 §7.1).
func stunAllocate() []byte {
	msg := make([]byte, stunHeaderLen)
	binary.BigEndian.PutUint16(msg[0:], 0x0003)
	copy(msg[4:], magicCookie[:])
	return msg
}

func TestSniff(t *testing.T) {
	badLen := framedBinding(8)
	badLen[1]++ // frame length no longer the message's
	odd := framedBinding(8)
	odd[5] = 6 // message length not a multiple of 4
	for _, tc := range []struct {
		name string
		in   []byte
		want Kind
	}{
		{"empty", nil, NeedMore},
		{"tls client hello", []byte{0x16, 0x03, 0x01, 0x02, 0x00}, TLS},
		{"tls type alone", []byte{0x16}, NeedMore},
		{"handshake type, not tls", []byte{0x16, 0x07}, Refuse},
		{"ice binding", framedBinding(80), ICE},
		{"ice binding, first 9 bytes", framedBinding(80)[:9], NeedMore},
		{"ice, frame length mismatch", badLen, Refuse},
		{"ice, odd message length", odd, Refuse},
		{"unframed stun", stunAllocate(), Refuse},
		{"plain http", []byte("GET / HTTP/1.1\r\n"), Refuse},
		{"tls alert record", []byte{0x15, 0x03, 0x03}, Refuse},
		{"zeros", make([]byte, 10), Refuse},
	} {
		if got := Sniff(tc.in); got != tc.want {
			t.Errorf("%s: Sniff(% x) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestSniffTLS(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want Kind
	}{
		{"empty", nil, NeedMore},
		{"get", []byte("G"), HTTP},
		{"http2 preface", []byte("PRI * HTTP/2.0"), HTTP},
		{"allocate", stunAllocate(), STUN},
		{"allocate, 7 bytes", stunAllocate()[:7], NeedMore},
		{"stun type, wrong cookie", []byte{0x00, 0x03, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x43}, Refuse},
		{"channel data", []byte{0x40, 0x00, 0x00, 0x04}, Refuse},
		{"lower case", []byte("get /"), Refuse},
		{"rtp", []byte{0x80, 0x60}, Refuse},
	} {
		if got := SniffTLS(tc.in); got != tc.want {
			t.Errorf("%s: SniffTLS(% x) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
}

// checkDecides: a classifier decides within SniffLen bytes, and once it
// has decided, more bytes never change its mind.
func checkDecides(t *testing.T, name string, sniff func([]byte) Kind, b []byte) {
	first := NeedMore
	for i := 0; i <= len(b); i++ {
		k := sniff(b[:i])
		switch {
		case first == NeedMore:
			first = k
			if k == NeedMore && i >= SniffLen {
				t.Fatalf("%s(% x): undecided after %d bytes", name, b[:i], i)
			}
		case k != first:
			t.Fatalf("%s: % x gave %v, a longer prefix % x gave %v", name, b[:i-1], first, b[:i], k)
		}
	}
}

func FuzzSniff(f *testing.F) {
	f.Add(framedBinding(8))
	f.Add(stunAllocate())
	f.Add([]byte{0x16, 0x03, 0x01})
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecides(t, "Sniff", Sniff, b)
		checkDecides(t, "SniffTLS", SniffTLS, b)
	})
}
