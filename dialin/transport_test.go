package dialin_test

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/confd/confd/dialin"
	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/room"
)

// TestIntegrationManyVias: an INVITE that crossed nineteen proxies (twenty
// Via headers, its 200 well over 1300 bytes) over UDP gets its 200, and
// the call works: a phone in the room hears its tone. RFC 3261 §18.1.1's
// size limit is for requests; a response goes back the way it came.
func TestIntegrationManyVias(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, nil)
	ctx := timeout(t, 60*time.Second)
	listener := h.dial(ctx, dialintest.Options{Dest: "3500", Codecs: []string{"PCMU"}, From: "5550001111"})
	untilSilent(ctx, t, listener)

	peer := dialRaw(t, "udp", h.addr("udp"), netip.Addr{})
	rtp := listenRTP(t)
	invite := rawInvite(peer, rtp, "3500", "many-vias", 19)
	call := dialRawCall(ctx, t, peer, invite, rtp, "many-vias")
	if n := len(call.ok.GetHeaders("Via")); n != 20 {
		t.Errorf("the 200 carries %d Via headers, want the request's 20", n)
	}
	t.Logf("INVITE %d bytes, 200 %d bytes", len(invite), len(call.ok.String()))
	call.sendTone(440)
	untilHears(ctx, t, listener, 440)
	call.hangup()
	if !peer.until(ctx, func(got []rawResponse, _ bool) bool {
		return len(got) > 0 && got[len(got)-1].line == "SIP/2.0 200 OK" && strings.Contains(got[len(got)-1].text, "2 BYE")
	}) {
		t.Error("no 200 for the BYE")
	}
}

// short is the limit a timeout test waits out; the limits it does not
// test are an hour, so that only the one under test can close the
// connection. The tests wait for the close with a generous deadline, never
// for a set time.
const short = 300 * time.Millisecond

// only sets the stream timeouts: set(l) shortens the one under test.
func only(set func(l *dialin.Limits)) func(*dialin.Config) {
	return func(c *dialin.Config) {
		c.Limits.ReadTimeout, c.Limits.IdleTimeout, c.Limits.TLSHandshakeTimeout = time.Hour, time.Hour, time.Hour
		set(&c.Limits)
	}
}

func shortRead(l *dialin.Limits)      { l.ReadTimeout = short }
func shortHandshake(l *dialin.Limits) { l.TLSHandshakeTimeout = short }

// TestIntegrationHalfRequest: a TCP connection that sends half a request
// and stops is closed by the read timeout (the idle timeout is an hour).
func TestIntegrationHalfRequest(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, only(shortRead))
	p := dialRaw(t, "tcp", h.addr("tcp"), netip.Addr{})
	p.send([]byte("INVITE sip:3500@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bK-half\r\nFrom: <sip:a@127.0.0"))
	if !p.closed(timeout(t, 30*time.Second)) {
		t.Fatal("the connection is still open")
	}
	if got := p.responses(); len(got) != 0 {
		t.Errorf("an unfinished request was answered: %q", got[0].line)
	}
}

// TestIntegrationSlowloris: a request that trickles in two octets at a
// time, each well within the read timeout, is still cut off: the read
// timeout bounds the whole message, not each read.
func TestIntegrationSlowloris(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, only(shortRead))
	p := dialRaw(t, "tcp", h.addr("tcp"), netip.Addr{})
	msg := []byte(strings.Repeat("OPTIONS sip:3500@127.0.0.1 SIP/2.0\r\nX-Pad: slow\r\n", 100))
	ctx := timeout(t, 60*time.Second)
	tick := time.NewTicker(20 * time.Millisecond) // the attacker's pace, not a wait
	defer tick.Stop()
	for i := 0; !p.until(doneCtx(), func(_ []rawResponse, eof bool) bool { return eof }); i += 2 {
		if i+2 > len(msg) {
			t.Fatal("the whole request trickled in and the connection is still open")
		}
		if _, err := p.tcp.Write(msg[i : i+2]); err != nil {
			break // closed by confd
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal("timed out")
		}
	}
	if !p.closed(ctx) {
		t.Fatal("the connection is still open")
	}
}

// doneCtx is a context that has already ended: until then only looks.
func doneCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestIntegrationIdleConnection: a TCP connection that sends nothing is
// closed by the idle timeout; a double-CRLF ping gets its CRLF pong
// (RFC 5626 §3.5.1).
func TestIntegrationIdleConnection(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, only(func(l *dialin.Limits) { l.IdleTimeout = 2 * time.Second }))
	ctx := timeout(t, 30*time.Second)
	ping := dialRaw(t, "tcp", h.addr("tcp"), netip.Addr{})
	ping.send([]byte("\r\n\r\n"))
	if !ping.ponged(ctx) {
		t.Fatal("no CRLF pong to a double-CRLF ping")
	}
	idle := dialRaw(t, "tcp", h.addr("tcp"), netip.Addr{})
	if !idle.closed(ctx) {
		t.Fatal("the idle connection is still open")
	}
}

// TestIntegrationTLSNoHandshake: a connection to the TLS port that never
// starts its handshake is closed by the handshake timeout (the read and
// idle timeouts are an hour), and TLS calls work meanwhile.
func TestIntegrationTLSNoHandshake(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, func(c *dialin.Config) {
		only(shortHandshake)(c)
		c.TLS, c.TLSConfig = "127.0.0.1:0", selfSigned(t)
	})
	ctx := timeout(t, 30*time.Second)
	silent := dialRaw(t, "tcp", h.addr("tls"), netip.Addr{})
	if !silent.closed(ctx) {
		t.Fatal("the connection that never handshakes is still open")
	}
	p := h.dial(ctx, dialintest.Options{Dest: "3500", Transport: "tls"})
	memberOf(ctx, t, h.room("3500"), p)
}

// TestIntegrationConnectionsPerAddress: past the per-address limit a new
// connection is closed at once; another address still gets in.
func TestIntegrationConnectionsPerAddress(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, func(c *dialin.Config) { c.Limits.MaxConnsPerAddress = 3 })
	ctx := timeout(t, 30*time.Second)
	two := netip.MustParseAddr("127.0.0.2")
	for i := range 3 {
		if !alive(ctx, t, "tcp", h.addr("tcp"), i) {
			t.Fatal("a connection within the limit is refused")
		}
		held := dialRaw(t, "tcp", h.addr("tcp"), two)
		held.send(optionsTo(held, "tcp", "held-"+strconv.Itoa(i)))
		if r, ok := held.final(ctx); !ok || r.code != 200 {
			t.Fatalf("connection %d from 127.0.0.2: %q", i, r.line)
		}
	}
	over := dialRaw(t, "tcp", h.addr("tcp"), two)
	if !over.closed(ctx) {
		t.Fatal("the fourth connection from 127.0.0.2 is open")
	}
	if !alive(ctx, t, "tcp", h.addr("tcp"), 9) {
		t.Fatal("127.0.0.1 is refused too")
	}
}

// TestIntegrationIdleConnectionsDoNotStopCalls: 200 connections that
// send nothing (from eight loopback addresses, within the default limits)
// hold no one up: a call over TCP is answered and joins its room, and
// each idle connection is still open and still answered afterwards.
func TestIntegrationIdleConnectionsDoNotStopCalls(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, nil)
	ctx := timeout(t, 60*time.Second)
	idle := make([]*rawPeer, 200)
	for i := range idle {
		from := netip.AddrFrom4([4]byte{127, 0, 1, byte(1 + i%8)})
		idle[i] = dialRaw(t, "tcp", h.addr("tcp"), from)
	}
	p := h.dial(ctx, dialintest.Options{Dest: "3500", Transport: "tcp"})
	memberOf(ctx, t, h.room("3500"), p)
	for i, c := range idle {
		c.send(optionsTo(c, "tcp", "idle-"+strconv.Itoa(i)))
		if r, ok := c.final(ctx); !ok || r.code != 200 {
			t.Fatalf("idle connection %d: %q (closed: %v)", i, r.line, c.closed(doneCtx()))
		}
	}
}

// TestIntegrationShutdownClosesConnections: Shutdown closes every TCP and
// TLS connection, whatever state it is in (quiet, half a request, before
// its handshake, after an answered request), and leaves no goroutine of
// the server's or sipgo's behind.
func TestIntegrationShutdownClosesConnections(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	h := newHarness(t, []room.Config{{Number: "3500"}}, func(c *dialin.Config) {
		c.TLS, c.TLSConfig = "127.0.0.1:0", selfSigned(t)
	})
	ctx := timeout(t, 30*time.Second)
	quiet := dialRaw(t, "tcp", h.addr("tcp"), netip.Addr{})
	half := dialRaw(t, "tcp", h.addr("tcp"), netip.Addr{})
	half.send([]byte("OPTIONS sip:3500@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1"))
	answered := dialRaw(t, "tcp", h.addr("tcp"), netip.Addr{})
	answered.send(optionsTo(answered, "tcp", "before-shutdown"))
	if r, ok := answered.final(ctx); !ok || r.code != 200 {
		t.Fatalf("OPTIONS: %q", r.line)
	}
	tlsSilent := dialRaw(t, "tcp", h.addr("tls"), netip.Addr{})
	h.close()
	for name, p := range map[string]*rawPeer{"quiet": quiet, "half a request": half, "answered": answered, "TLS": tlsSilent} {
		if !p.closed(ctx) {
			t.Errorf("%s: still open after Shutdown", name)
		}
		p.close()
	}
	goleak.VerifyNone(t, ignore)
}
