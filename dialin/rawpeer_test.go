package dialin_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// rawPeer sends SIP messages as bytes, exactly as given, over one UDP
// socket or one TCP connection, and keeps every response that comes back
// (parsed with sipgo's parser, as a peer would). Its reader goroutine ends
// when close closes the socket.
type rawPeer struct {
	t      *testing.T
	udp    *net.UDPConn
	tcp    net.Conn
	server netip.AddrPort
	done   chan struct{}

	mu      sync.Mutex
	got     []rawResponse
	garbage int  // what came back and was not a SIP response
	eof     bool // the server closed the connection
	pongs   int  // CRLF keep-alive pongs between messages (RFC 5626 §3.5.1)
	changed chan struct{}
}

// rawResponse is one response as it came: its status line read by hand,
// and sipgo's reading of it (nil when sipgo cannot read it, as when it
// echoes a malformed header of the request).
type rawResponse struct {
	code int
	line string
	text string
	res  *sip.Response
	from netip.AddrPort // where it came from (UDP; zero over TCP)
}

// has reports whether the response carries a header field name (long form).
func (r rawResponse) has(name string) bool {
	for _, l := range strings.Split(r.text, "\r\n")[1:] {
		if n, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(n), name) {
			return true
		}
	}
	return false
}

// dialRaw opens a peer to server over transport ("udp" or "tcp") from
// local (zero: 127.0.0.1, any port).
func dialRaw(t *testing.T, transport string, server netip.AddrPort, local netip.Addr) *rawPeer {
	t.Helper()
	if !local.IsValid() {
		local = netip.MustParseAddr("127.0.0.1")
	}
	p := &rawPeer{t: t, server: server, done: make(chan struct{}), changed: make(chan struct{})}
	var err error
	switch transport {
	case "udp":
		p.udp, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0)))
		if err == nil {
			go p.readUDP()
		}
	default:
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, 0)), Timeout: 10 * time.Second}
		p.tcp, err = d.Dial("tcp", server.String())
		if err == nil {
			go p.readTCP()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return p
}

// local is the peer's own address.
func (p *rawPeer) local() netip.AddrPort {
	if p.udp != nil {
		return netip.MustParseAddrPort(p.udp.LocalAddr().String())
	}
	return netip.MustParseAddrPort(p.tcp.LocalAddr().String())
}

func (p *rawPeer) send(b []byte) {
	p.t.Helper()
	var err error
	if p.udp != nil {
		_, err = p.udp.WriteToUDPAddrPort(b, p.server)
	} else {
		_, err = p.tcp.Write(b)
	}
	if err != nil {
		p.t.Fatalf("send: %v", err)
	}
}

func (p *rawPeer) readUDP() {
	defer close(p.done)
	buf := make([]byte, 65536)
	for {
		n, from, err := p.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		p.record(string(buf[:n]), netip.AddrPortFrom(from.Addr().Unmap(), from.Port()))
	}
}

func (p *rawPeer) readTCP() {
	defer close(p.done)
	var stream []byte
	buf := make([]byte, 65536)
	for {
		n, err := p.tcp.Read(buf)
		stream = append(stream, buf[:n]...)
		for len(stream) >= 2 && stream[0] == '\r' && stream[1] == '\n' {
			stream = stream[2:]
			p.mu.Lock()
			p.pongs++
			p.mu.Unlock()
			p.notify()
		}
		for {
			msg, rest, ok := nextStreamMessage(stream)
			if !ok {
				break
			}
			p.record(msg, netip.AddrPort{})
			stream = rest
		}
		if err != nil {
			p.mu.Lock()
			p.eof = !errors.Is(err, net.ErrClosed)
			p.mu.Unlock()
			p.notify()
			return
		}
	}
}

// nextStreamMessage cuts the first whole message off a TCP stream by its
// Content-Length (0 when it has none).
func nextStreamMessage(b []byte) (string, []byte, bool) {
	end := strings.Index(string(b), "\r\n\r\n")
	if end < 0 {
		return "", b, false
	}
	length := 0
	for _, l := range strings.Split(string(b[:end]), "\r\n") {
		name, v, _ := strings.Cut(l, ":")
		if n := strings.ToLower(strings.TrimSpace(name)); n == "content-length" || n == "l" {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	total := end + 4 + length
	if len(b) < total {
		return "", b, false
	}
	return string(b[:total]), b[total:], true
}

func (p *rawPeer) record(text string, from netip.AddrPort) {
	line, _, _ := strings.Cut(text, "\r\n")
	f := strings.SplitN(line, " ", 3)
	code := 0
	if len(f) >= 2 && strings.HasPrefix(line, "SIP/") {
		code, _ = strconv.Atoi(f[1])
	}
	var res *sip.Response
	if m, err := sip.ParseMessage([]byte(text)); err == nil {
		res, _ = m.(*sip.Response)
	}
	p.mu.Lock()
	if code >= 100 {
		p.got = append(p.got, rawResponse{code: code, line: line, text: text, res: res, from: from})
	} else {
		p.garbage++
	}
	p.mu.Unlock()
	p.notify()
}

// notify wakes whoever waits in until.
func (p *rawPeer) notify() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// responses is what came back so far.
func (p *rawPeer) responses() []rawResponse {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]rawResponse(nil), p.got...)
}

// until waits for cond over the responses so far, or for ctx to end.
func (p *rawPeer) until(ctx context.Context, cond func(got []rawResponse, eof bool) bool) bool {
	for {
		p.mu.Lock()
		got, eof, changed := append([]rawResponse(nil), p.got...), p.eof, p.changed
		p.mu.Unlock()
		if cond(got, eof) {
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

// final waits for the first final response (sipgo-readable or not) and
// returns it; ok is false if none came before ctx ended.
func (p *rawPeer) final(ctx context.Context) (rawResponse, bool) {
	var res rawResponse
	ok := p.until(ctx, func(got []rawResponse, _ bool) bool {
		for _, r := range got {
			if r.code >= 200 {
				res = r
				return true
			}
		}
		return false
	})
	return res, ok
}

// ponged waits for a CRLF pong.
func (p *rawPeer) ponged(ctx context.Context) bool {
	return p.until(ctx, func([]rawResponse, bool) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.pongs > 0
	})
}

// closed waits until the server has closed the TCP connection.
func (p *rawPeer) closed(ctx context.Context) bool {
	return p.until(ctx, func(_ []rawResponse, eof bool) bool { return eof })
}

// close closes the socket and waits for the reader.
func (p *rawPeer) close() {
	if p.udp != nil {
		_ = p.udp.Close()
	} else {
		_ = p.tcp.Close()
	}
	<-p.done
}

// optionsTo is a well-formed OPTIONS from the peer, with a fresh Call-ID.
func optionsTo(p *rawPeer, transport, callID string) []byte {
	via := "SIP/2.0/UDP"
	if transport == "tcp" {
		via = "SIP/2.0/TCP"
	}
	return []byte("OPTIONS sip:3500@127.0.0.1 SIP/2.0\r\n" +
		"Via: " + via + " " + p.local().String() + ";branch=z9hG4bK-" + callID + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:probe@127.0.0.1>;tag=p" + callID + "\r\n" +
		"To: <sip:3500@127.0.0.1>\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 1 OPTIONS\r\n" +
		"Content-Length: 0\r\n\r\n")
}

// alive sends an OPTIONS over a new peer and reports whether it got 200.
func alive(ctx context.Context, t *testing.T, transport string, server netip.AddrPort, n int) bool {
	t.Helper()
	p := dialRaw(t, transport, server, netip.Addr{})
	defer p.close()
	p.send(optionsTo(p, transport, "alive-"+transport+"-"+strconv.Itoa(n)))
	res, ok := p.final(ctx)
	return ok && res.code == 200
}
