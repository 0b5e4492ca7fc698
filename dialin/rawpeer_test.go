package dialin_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
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
	got     []*sip.Response
	garbage int  // what came back and was not a SIP response
	eof     bool // the server closed the connection
	changed chan struct{}
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
		n, _, err := p.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		m, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
		p.record(m, err)
	}
}

func (p *rawPeer) readTCP() {
	defer close(p.done)
	stream := sip.NewParser().NewSIPStream()
	buf := make([]byte, 65536)
	for {
		n, err := p.tcp.Read(buf)
		if n > 0 {
			perr := stream.ParseSIPStream(buf[:n], func(m sip.Message) { p.record(m, nil) })
			if perr != nil && !errors.Is(perr, sip.ErrParseSipPartial) {
				p.record(nil, perr)
			}
		}
		if err != nil {
			p.mu.Lock()
			p.eof = errors.Is(err, io.EOF) || !errors.Is(err, net.ErrClosed)
			p.mu.Unlock()
			p.notify()
			return
		}
	}
}

func (p *rawPeer) record(m sip.Message, err error) {
	p.mu.Lock()
	if res, ok := m.(*sip.Response); ok && err == nil {
		p.got = append(p.got, res)
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
func (p *rawPeer) responses() []*sip.Response {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*sip.Response(nil), p.got...)
}

// until waits for cond over the responses so far, or for ctx to end.
func (p *rawPeer) until(ctx context.Context, cond func(got []*sip.Response, eof bool) bool) bool {
	for {
		p.mu.Lock()
		got, eof, changed := append([]*sip.Response(nil), p.got...), p.eof, p.changed
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

// final waits for the first final response and returns it (nil if none
// came before ctx ended).
func (p *rawPeer) final(ctx context.Context) *sip.Response {
	var res *sip.Response
	p.until(ctx, func(got []*sip.Response, _ bool) bool {
		for _, r := range got {
			if r.StatusCode >= 200 {
				res = r
				return true
			}
		}
		return false
	})
	return res
}

// closed waits until the server has closed the TCP connection.
func (p *rawPeer) closed(ctx context.Context) bool {
	return p.until(ctx, func(_ []*sip.Response, eof bool) bool { return eof })
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
	res := p.final(ctx)
	return res != nil && res.StatusCode == 200
}
