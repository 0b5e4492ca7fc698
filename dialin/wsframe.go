package dialin

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
)

// A SIP message may reach confd in more than one websocket frame: RFC 6455
// lets any client fragment a message (Go's gorilla/websocket does past its
// 4 KB write buffer, and an INVITE with a WebRTC offer is often longer),
// and RFC 7118 allows binary frames as well as text. sipgo's reader takes
// one text frame a message and throws continuation and binary frames away.
// wsReassembler sits under it: it passes whole messages and control frames
// through untouched, and gives sipgo each fragmented or binary message as
// one text frame.

// errWSFrame ends a connection whose framing is broken (RFC 6455 §5.4: a
// continuation with no message begun, or a new message inside one) or
// whose fragmented message grows past the size limit.
var errWSFrame = errors.New("dialin: websocket framing refused")

const (
	wsFin          = 0x80
	wsOpContinue   = 0x0
	wsOpText       = 0x1
	wsOpBinary     = 0x2
	wsOpFirstCtl   = 0x8
	wsMaxHeader    = 14 // 2, 8 octets of length, 4 of mask
	wsReadBufBytes = 32 << 10
)

// wsHeader is one frame's header (RFC 6455 §5.2).
type wsHeader struct {
	fin    bool
	op     byte
	masked bool
	mask   [4]byte
	length uint64
	size   int // octets of the header
}

// parseWSHeader reads a frame header off the front of b; ok is false
// while b holds less than the whole header.
func parseWSHeader(b []byte) (h wsHeader, ok bool) {
	if len(b) < 2 {
		return h, false
	}
	h.fin, h.op, h.masked = b[0]&wsFin != 0, b[0]&0x0f, b[1]&0x80 != 0
	h.length, h.size = uint64(b[1]&0x7f), 2
	switch h.length {
	case 126:
		if len(b) < 4 {
			return h, false
		}
		h.length, h.size = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return h, false
		}
		h.length, h.size = binary.BigEndian.Uint64(b[2:]), 10
	}
	if h.masked {
		if len(b) < h.size+4 {
			return h, false
		}
		copy(h.mask[:], b[h.size:])
		h.size += 4
	}
	return h, true
}

// appendWSText appends a masked text frame holding payload (the mask is
// all zeros: a client's frame must be masked, and a zero key leaves the
// payload as it is).
func appendWSText(dst, payload []byte) []byte {
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, wsFin|wsOpText, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, wsFin|wsOpText, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, wsFin|wsOpText, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, 0, 0, 0, 0)
	return append(dst, payload...)
}

// wsReassembler is a websocket's client side as sipgo reads it. Writes,
// deadlines and Close are the connection's.
type wsReassembler struct {
	net.Conn
	src io.Reader // what the client sent: the octets net/http had read ahead, then the connection
	max int       // the largest message (Limits.MaxMessageBytes)

	buf    [wsReadBufBytes]byte
	in     []byte // read, not yet handed on; a window of buf
	out    []byte // octets ready for sipgo; a window of outBuf
	outBuf []byte

	pass uint64 // payload octets of a frame passed through still to come

	// The message being reassembled: its payload so far, unmasked, and
	// what of the current fragment is still to come.
	joining bool
	msg     []byte
	take    uint64
	mask    [4]byte
	maskAt  int
	last    bool // the current fragment ends the message
}

func newWSReassembler(conn net.Conn, src io.Reader, max int) *wsReassembler {
	r := &wsReassembler{Conn: conn, src: src, max: max}
	r.in = r.buf[:0]
	return r
}

func (r *wsReassembler) Read(b []byte) (int, error) {
	for len(r.out) == 0 {
		if err := r.step(); err != nil {
			return 0, err
		}
	}
	n := copy(b, r.out)
	r.out = r.out[n:]
	return n, nil
}

// setOut makes the frame octets ready for sipgo, in outBuf's space.
func (r *wsReassembler) setOut(parts ...[]byte) {
	r.outBuf = r.outBuf[:0]
	for _, p := range parts {
		r.outBuf = append(r.outBuf, p...)
	}
	r.out = r.outBuf
}

// step moves what it can of the input on, reading more when it has to.
func (r *wsReassembler) step() error {
	switch {
	case r.pass > 0:
		if len(r.in) == 0 {
			return r.fill()
		}
		n := int(min(uint64(len(r.in)), r.pass))
		r.setOut(r.in[:n])
		r.consume(n)
		r.pass -= uint64(n)
		return nil
	case r.take > 0:
		if len(r.in) == 0 {
			return r.fill()
		}
		n := int(min(uint64(len(r.in)), r.take))
		start := len(r.msg)
		r.msg = append(r.msg, r.in[:n]...)
		for i := start; i < len(r.msg); i++ {
			r.msg[i] ^= r.mask[r.maskAt&3]
			r.maskAt++
		}
		r.consume(n)
		r.take -= uint64(n)
		if r.take == 0 && r.last {
			r.finish()
		}
		return nil
	}
	h, ok := parseWSHeader(r.in)
	if !ok {
		return r.fill()
	}
	switch {
	case h.op >= wsOpFirstCtl || (!r.joining && h.fin && h.op == wsOpText):
		// A control frame (between fragments, too) or a whole text
		// message: as it came.
		r.setOut(r.in[:h.size])
		r.pass = h.length
	case !r.joining && (h.op == wsOpText || h.op == wsOpBinary):
		// The first fragment of a message, or a whole binary one.
		r.joining, r.msg = true, r.msg[:0]
		r.fragment(h)
	case r.joining && h.op == wsOpContinue:
		r.fragment(h)
	default:
		return errWSFrame
	}
	if r.joining && h.op < wsOpFirstCtl && uint64(len(r.msg))+h.length > uint64(r.max) {
		return errWSFrame
	}
	r.consume(h.size)
	if r.joining && r.take == 0 && r.last {
		r.finish() // an empty last fragment
	}
	return nil
}

func (r *wsReassembler) fragment(h wsHeader) {
	r.take, r.last, r.maskAt = h.length, h.fin, 0
	r.mask = [4]byte{}
	if h.masked {
		r.mask = h.mask
	}
}

// finish hands on the reassembled message as one text frame.
func (r *wsReassembler) finish() {
	r.outBuf = appendWSText(r.outBuf[:0], r.msg)
	r.out = r.outBuf
	r.joining = false
}

func (r *wsReassembler) consume(n int) { r.in = r.in[n:] }

// fill reads more of the client's octets into the input, which it has
// moved to the front of buf.
func (r *wsReassembler) fill() error {
	n := copy(r.buf[:], r.in)
	for {
		got, err := r.src.Read(r.buf[n:])
		r.in = r.buf[:n+got]
		if got > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
