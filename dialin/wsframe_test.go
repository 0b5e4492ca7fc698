package dialin

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/gobwas/ws"
)

// clientFrame is one frame as a client sends it: masked.
func clientFrame(fin bool, op ws.OpCode, payload string) []byte {
	f := ws.NewFrame(op, fin, []byte(payload))
	f = ws.MaskFrameInPlace(f)
	var b bytes.Buffer
	if err := ws.WriteFrame(&b, f); err != nil {
		panic(err)
	}
	return b.Bytes()
}

var errLongFrame = errors.New("a frame longer than the test reads")

// reassembled reads what the reassembler makes of input, frame by frame,
// with gobwas's reader (the one sipgo uses): the opcodes and unmasked
// payloads, and the error that ended it.
func reassembled(input []byte, max int) (ops []ws.OpCode, payloads []string, err error) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	r := newWSReassembler(a, io.MultiReader(bytes.NewReader(input[:min(len(input), 3)]), bytes.NewReader(input[min(len(input), 3):])), max)
	for {
		h, err := ws.ReadHeader(r)
		if err != nil {
			return ops, payloads, err
		}
		if h.Length > 1<<21 { // passed through; sipgo's reader bounds its frames
			return ops, payloads, errLongFrame
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(r, payload); err != nil {
			return ops, payloads, err
		}
		ws.Cipher(payload, h.Mask, 0)
		ops, payloads = append(ops, h.OpCode), append(payloads, string(payload))
	}
}

func TestWSReassembler(t *testing.T) {
	join := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	for _, tc := range []struct {
		name     string
		input    []byte
		ops      []ws.OpCode
		payloads []string
		err      error
	}{{
		name:     "whole text frames pass as they came",
		input:    join(clientFrame(true, ws.OpText, "OPTIONS a"), clientFrame(true, ws.OpText, "OPTIONS b")),
		ops:      []ws.OpCode{ws.OpText, ws.OpText},
		payloads: []string{"OPTIONS a", "OPTIONS b"},
		err:      io.EOF,
	}, {
		name: "a fragmented message becomes one text frame, a ping between its fragments passes first",
		input: join(clientFrame(false, ws.OpText, "INVITE sip:3500"), clientFrame(false, ws.OpContinuation, "@confd SIP/2.0"),
			clientFrame(true, ws.OpPing, "p"), clientFrame(false, ws.OpContinuation, ""), clientFrame(true, ws.OpContinuation, "\r\n\r\n")),
		ops:      []ws.OpCode{ws.OpPing, ws.OpText},
		payloads: []string{"p", "INVITE sip:3500@confd SIP/2.0\r\n\r\n"},
		err:      io.EOF,
	}, {
		name:     "a binary message is handed on as text",
		input:    clientFrame(true, ws.OpBinary, "REGISTER sip:confd SIP/2.0"),
		ops:      []ws.OpCode{ws.OpText},
		payloads: []string{"REGISTER sip:confd SIP/2.0"},
		err:      io.EOF,
	}, {
		name:     "a long fragmented message (16- and 64-bit lengths)",
		input:    join(clientFrame(false, ws.OpText, string(bytes.Repeat([]byte("a"), 200))), clientFrame(true, ws.OpContinuation, string(bytes.Repeat([]byte("b"), 70000)))),
		ops:      []ws.OpCode{ws.OpText},
		payloads: []string{string(bytes.Repeat([]byte("a"), 200)) + string(bytes.Repeat([]byte("b"), 70000))},
		err:      io.EOF,
	}, {
		name:  "a continuation with no message begun",
		input: clientFrame(true, ws.OpContinuation, "x"),
		err:   errWSFrame,
	}, {
		name:     "a new message inside a fragmented one",
		input:    join(clientFrame(true, ws.OpText, "ok"), clientFrame(false, ws.OpText, "a"), clientFrame(true, ws.OpText, "b")),
		ops:      []ws.OpCode{ws.OpText},
		payloads: []string{"ok"},
		err:      errWSFrame,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ops, payloads, err := reassembled(tc.input, 1<<20)
			if !errors.Is(err, tc.err) && !(tc.err == io.EOF && errors.Is(err, io.ErrUnexpectedEOF)) {
				t.Errorf("ended with %v, want %v", err, tc.err)
			}
			if len(ops) != len(tc.ops) || len(payloads) != len(tc.payloads) {
				t.Fatalf("frames %v %q, want %v %q", ops, payloads, tc.ops, tc.payloads)
			}
			for i := range ops {
				if ops[i] != tc.ops[i] || payloads[i] != tc.payloads[i] {
					t.Errorf("frame %d: %v %.40q, want %v %.40q", i, ops[i], payloads[i], tc.ops[i], tc.payloads[i])
				}
			}
		})
	}
}

// TestWSReassemblerLimit: fragments that add up to more than the largest
// message end the connection.
func TestWSReassemblerLimit(t *testing.T) {
	input := append(clientFrame(false, ws.OpText, "0123456789"), clientFrame(true, ws.OpContinuation, "0123456789")...)
	if _, _, err := reassembled(input, 15); !errors.Is(err, errWSFrame) {
		t.Fatalf("20 octets over a 15-octet limit: %v", err)
	}
	if _, payloads, _ := reassembled(input, 20); len(payloads) != 1 {
		t.Fatalf("20 octets at a 20-octet limit: %q", payloads)
	}
}

// FuzzWSReassembler: whatever a client sends, the reassembler neither
// panics nor hands on a frame gobwas cannot read (what the client framed
// wrongly and was passed through, sipgo's reader refuses as before).
func FuzzWSReassembler(f *testing.F) {
	f.Add(clientFrame(true, ws.OpText, "OPTIONS sip:confd SIP/2.0\r\n\r\n"))
	f.Add(append(clientFrame(false, ws.OpBinary, "IN"), clientFrame(true, ws.OpContinuation, "VITE")...))
	f.Add(append(clientFrame(false, ws.OpText, "a"), clientFrame(true, ws.OpPing, "")...))
	f.Fuzz(func(t *testing.T, input []byte) {
		_, _, err := reassembled(input, 4096)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, errWSFrame) && !errors.Is(err, errLongFrame) &&
			!errors.Is(err, ws.ErrHeaderLengthMSB) && !errors.Is(err, ws.ErrHeaderLengthUnexpected) {
			t.Fatalf("unexpected %v", err)
		}
	})
}
