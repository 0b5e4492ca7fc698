package dialin

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// wireSeeds are RFC 4475's messages and the ACK cases of the torture test.
func wireSeeds(f *testing.F) {
	f.Helper()
	for _, dir := range []string{"rfc4475", "acks"} {
		files, _ := filepath.Glob(filepath.Join("..", "testdata", "sip", dir, "*.dat"))
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

var fuzzLimits = wireLimits{maxMessage: MaxMessageBytes, maxHeader: 16384, maxFields: 100}

// FuzzWireDatagram: the gate's judgement of a UDP datagram. Nothing
// panics; what passes is a message sipgo reads, stamped with its arrival
// once, and passes again unchanged in meaning; a reply is a SIP/2.0 final
// response, never to an ACK or a response.
func FuzzWireDatagram(f *testing.F) {
	wireSeeds(f)
	local := netip.MustParseAddrPort("127.0.0.2:5060")
	f.Fuzz(func(t *testing.T, b []byte) {
		v := inspectDatagram(b, fuzzLimits, local)
		if v.pass != nil && v.reply != nil {
			t.Fatal("passed and answered")
		}
		if v.pass != nil {
			checkPassed(t, v.pass)
			if again := inspectDatagram(v.pass, fuzzLimits, local); again.pass == nil {
				t.Fatalf("what passed once is refused (%s):\n%q", again.why, v.pass)
			}
		}
		if v.reply != nil {
			checkReply(t, b, v.reply)
		}
	})
}

// FuzzWireStream: the gate's framing of a TCP stream. Nothing panics, the
// reading ends, and every message sipgo gets is one it reads.
func FuzzWireStream(f *testing.F) {
	wireSeeds(f)
	f.Add([]byte("\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nContent-Length: 5\r\n\r\nhello\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		conn := &fakeStream{in: bytes.NewReader(b)}
		g := &gate{lim: fuzzLimits, stream: streamLimits{read: time.Second, idle: time.Second, handshake: time.Second, write: time.Second}, log: zap.NewNop()}
		sc := &streamConn{Conn: conn, raw: conn, gate: g, transport: "tcp", local: netip.MustParseAddrPort("127.0.0.1:5060"),
			release: func() {}, busy: func(string, netip.AddrPort) bool { return false }}
		out := make([]byte, sip.TransportBufferReadSize)
		for range len(b) + 2 {
			n, err := sc.Read(out)
			if err != nil {
				return
			}
			checkPassed(t, out[:n])
		}
		t.Fatal("the stream never ended")
	})
}

// checkPassed: sipgo reads msg, and a request carries one arrival stamp.
func checkPassed(t *testing.T, msg []byte) {
	t.Helper()
	m, err := sip.ParseMessage(msg)
	if err != nil {
		t.Fatalf("passed but sipgo cannot read it (%v):\n%q", err, msg)
	}
	if req, ok := m.(*sip.Request); ok && len(req.GetHeaders(arrivalHeader)) != 1 {
		t.Fatalf("a request with %d arrival stamps:\n%q", len(req.GetHeaders(arrivalHeader)), msg)
	}
}

// checkReply: a reply is a SIP/2.0 final response to a request other than
// ACK.
func checkReply(t *testing.T, in, reply []byte) {
	t.Helper()
	if !bytes.HasPrefix(reply, []byte("SIP/2.0 ")) || len(reply) < 11 || reply[8] < '4' || reply[8] > '6' {
		t.Fatalf("reply %q", reply)
	}
	start, _, _ := strings.Cut(strings.TrimLeft(string(in), "\r\n"), " ")
	if strings.EqualFold(start, "ACK") || strings.HasPrefix(strings.ToUpper(start), "SIP/") {
		t.Fatalf("answered an ACK or a response:\n%q", in)
	}
}

// fakeStream is a TCP connection that delivers in, in short reads, then
// EOF; what is written to it is discarded.
type fakeStream struct {
	in io.Reader
}

func (c *fakeStream) Read(b []byte) (int, error) {
	return c.in.Read(b[:min(len(b), 700)])
}
func (c *fakeStream) Write(b []byte) (int, error) { return len(b), nil }
func (c *fakeStream) Close() error                { return nil }
func (c *fakeStream) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}
}
func (c *fakeStream) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5099}
}
func (c *fakeStream) SetDeadline(time.Time) error      { return nil }
func (c *fakeStream) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeStream) SetWriteDeadline(time.Time) error { return nil }
