package dialintest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gorilla/websocket"
	"github.com/icholy/digest"
)

// WSPhone is a SIP user agent on a websocket (RFC 7118), as JsSIP and
// SIP.js are: it writes requests as text messages and reads every message
// confd sends into a channel. Its one reader goroutine ends when the
// websocket closes (at the test's end, by t.Cleanup).
type WSPhone struct {
	t    *testing.T
	conn *websocket.Conn
	in   chan sip.Message

	// CallID and Tag are the dialog's Call-ID and From tag; a test sets
	// them afresh for a new call. CSeq is the last request's number.
	CallID, Tag string
	CSeq        int
}

// DialWS opens a websocket with subprotocol sip to url. writeBuffer is
// gorilla's write buffer: a message longer than it goes in fragments
// (1 KB puts an INVITE with its offer in several, which confd must
// reassemble); 0 is 64 KB, one message a frame.
func DialWS(t *testing.T, url string, hdr http.Header, writeBuffer int) *WSPhone {
	t.Helper()
	if writeBuffer == 0 {
		writeBuffer = 64 << 10
	}
	d := websocket.Dialer{Subprotocols: []string{"sip"}, WriteBufferSize: writeBuffer, HandshakeTimeout: 30 * time.Second}
	conn, res, err := d.Dial(url, hdr)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, res)
	}
	if res.Header.Get("Sec-WebSocket-Protocol") != "sip" {
		t.Fatalf("subprotocol %q, want sip", res.Header.Get("Sec-WebSocket-Protocol"))
	}
	p := &WSPhone{t: t, conn: conn, CallID: Token(), Tag: Token(), in: make(chan sip.Message, 16)}
	go func() {
		defer close(p.in)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if m, err := sip.ParseMessage(b); err == nil {
				p.in <- m
			}
		}
	}()
	t.Cleanup(func() { _ = conn.Close() })
	return p
}

// Token is a random hex token for Call-IDs, tags and branches.
func Token() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Send writes a request to uri (To: uri, with toTag), with extra header
// lines and an SDP body.
func (p *WSPhone) Send(method, uri, toTag string, extra []string, body string) {
	p.t.Helper()
	p.Raw(p.Message(method, uri, uri, toTag, extra, "application/sdp", body))
}

// SendTo is Send with a To other than the request URI (a REGISTER's).
func (p *WSPhone) SendTo(method, uri, to string, extra []string) {
	p.t.Helper()
	p.Raw(p.Message(method, uri, to, "", extra, "", ""))
}

// Info writes a SIP INFO with a dtmf-relay body.
func (p *WSPhone) Info(uri, toTag, body string) {
	p.t.Helper()
	p.Raw(p.Message("INFO", uri, uri, toTag, nil, "application/dtmf-relay", body))
}

// Message is the request Send writes, from "Alice Web" <sip:1000@confd>.
// ACK and CANCEL keep the INVITE's CSeq; every other request takes the
// next.
func (p *WSPhone) Message(method, uri, to, toTag string, extra []string, contentType, body string) string {
	if method != "ACK" && method != "CANCEL" {
		p.CSeq++
	}
	to = "<" + to + ">"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, uri)
	fmt.Fprintf(&b, "Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK%s\r\n", Token())
	fmt.Fprintf(&b, "Max-Forwards: 69\r\nTo: %s\r\nFrom: \"Alice Web\" <sip:1000@confd>;tag=%s\r\n", to, p.Tag)
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %d %s\r\n", p.CallID, p.CSeq, method)
	b.WriteString("Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>\r\n")
	for _, l := range extra {
		b.WriteString(l + "\r\n")
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", contentType)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

// Raw writes msg as one text message.
func (p *WSPhone) Raw(msg string) {
	p.t.Helper()
	if err := p.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		p.t.Fatal(err)
	}
}

// Final waits for the next final response (provisional ones skipped).
func (p *WSPhone) Final() *sip.Response {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if res, ok := p.next(deadline, "final response").(*sip.Response); ok && res.StatusCode >= 200 {
			return res
		}
	}
}

// Request waits for a request from confd.
func (p *WSPhone) Request() *sip.Request {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if req, ok := p.next(deadline, "request from confd").(*sip.Request); ok {
			return req
		}
	}
}

// Next waits for the next message of any kind.
func (p *WSPhone) Next() sip.Message {
	p.t.Helper()
	return p.next(time.Now().Add(30*time.Second), "message from confd")
}

// next is the next message to arrive, failing the test when the
// websocket closes or nothing comes before deadline.
func (p *WSPhone) next(deadline time.Time, what string) sip.Message {
	p.t.Helper()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case m, ok := <-p.in:
		if !ok {
			p.t.Fatal("the websocket closed")
		}
		return m
	case <-t.C:
		p.t.Fatal("no " + what)
	}
	return nil
}

// Closes reports whether the websocket closes within d; what arrives
// meanwhile is dropped.
func (p *WSPhone) Closes(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case _, ok := <-p.in:
			if !ok {
				return true
			}
		case <-t.C:
			return false
		}
	}
}

// Conn is the websocket itself, for a test that frames its own writes.
func (p *WSPhone) Conn() *websocket.Conn { return p.conn }

// Alive checks that the session still answers: OPTIONS gets 200.
func (p *WSPhone) Alive() {
	p.t.Helper()
	p.Send("OPTIONS", "sip:confd", "", nil, "")
	if res := p.Final(); res.StatusCode != 200 {
		p.t.Fatalf("OPTIONS: %d, want 200 (the session alive)", res.StatusCode)
	}
}

// Authorize answers res's digest challenge for login; the result is an
// Authorization header line for the request's extra lines.
func Authorize(t *testing.T, res *sip.Response, method, uri, login, password string) string {
	t.Helper()
	h := res.GetHeader("WWW-Authenticate")
	if h == nil {
		t.Fatalf("%d without a challenge", res.StatusCode)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: method, URI: uri, Username: login, Password: password, Cnonce: Token(), Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	return "Authorization: " + cred.String()
}
