package dialin_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confd/confd/dialin"
	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/room"
)

func noTrunks(c *dialin.Config) { c.Trunks = nil }

// TestIntegrationGuestsRefused: from outside the trunks, without an
// account, and with guests not allowed, an INVITE gets 403.
func TestIntegrationGuestsRefused(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, noTrunks)
	_, err := h.tryDial(timeout(t, 20*time.Second), dialintest.Options{Dest: "3500"})
	wantStatus(t, err, 403)
}

// TestIntegrationDigestAuth: with accounts configured, an INVITE without
// credentials is challenged (401, RFC 3261 §22.2); with the right ones the
// caller joins under the account's name and role; a wrong password stays
// refused.
func TestIntegrationDigestAuth(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, func(c *dialin.Config) {
		noTrunks(c)
		c.Users = []dialin.User{{Login: "1000", Password: "s3cret", Name: "Alice", Role: room.RoleModerator}}
	})
	ctx := timeout(t, 30*time.Second)
	_, err := h.tryDial(ctx, dialintest.Options{Dest: "3500"})
	wantStatus(t, err, 401)
	_, err = h.tryDial(ctx, dialintest.Options{Dest: "3500", Login: "1000", Password: "wrong"})
	wantStatus(t, err, 401)
	p := h.dial(ctx, dialintest.Options{Dest: "3500", Login: "1000", Password: "s3cret"})
	if m := memberOf(ctx, t, h.room("3500"), p); m.Info.Name != "Alice" || m.Info.Role != room.RoleModerator {
		t.Errorf("joined as %+v", m.Info)
	}
}

// TestIntegrationInviteRateLimit: a source that sends INVITEs faster than
// its budget gets 503.
func TestIntegrationInviteRateLimit(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, func(c *dialin.Config) {
		noTrunks(c)
		c.AllowGuests, c.InviteRate, c.InviteBurst = true, 0.001, 2
	})
	ctx := timeout(t, 30*time.Second)
	h.dial(ctx, dialintest.Options{Dest: "3500"})
	h.dial(ctx, dialintest.Options{Dest: "3500"})
	_, err := h.tryDial(ctx, dialintest.Options{Dest: "3500"})
	wantStatus(t, err, 503)
}

// rawSIP sends one datagram to the server and returns the first line of
// its answer, or "" if none came within a second (a dropped message).
func rawSIP(t *testing.T, to netip.AddrPort, msg string) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := c.LocalAddr().(*net.UDPAddr).Port
	msg = strings.ReplaceAll(msg, "PORT", itoa(port))
	if _, err := c.WriteToUDPAddrPort([]byte(strings.ReplaceAll(msg, "\n", "\r\n")), to); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	return line
}

func itoa(n int) string { return strconv.Itoa(n) }

func itoaN(n int) string { return strconv.Itoa(n) }

const inviteHead = `INVITE sip:3500@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bK-BRANCH
From: <sip:5550001234@127.0.0.1>;tag=abc
To: <sip:3500@127.0.0.1>
Call-ID: CALLID@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:5550001234@127.0.0.1:PORT>
Max-Forwards: 70
Content-Type: application/sdp
`

// TestIntegrationMalformedSIP: garbage is dropped, a request missing
// CSeq and an INVITE with unreadable SDP get 400, and the server still
// answers OPTIONS afterwards (405 for methods it does not speak).
func TestIntegrationMalformedSIP(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, nil)
	to := h.addr("udp")
	if got := rawSIP(t, to, "\x00\x01garbage\xff\n\n"); got != "" {
		t.Errorf("garbage answered with %q", got)
	}
	noCSeq := strings.Replace(strings.Replace(inviteHead, "CSeq: 1 INVITE\n", "", 1), "BRANCH", "1", 1) + "Content-Length: 0\n\n"
	if got := rawSIP(t, to, noCSeq); !strings.Contains(got, " 400 ") {
		t.Errorf("INVITE without CSeq: %q, want 400", got)
	}
	sdp := "v=0\nc=IN IP4 nowhere\nm=audio x RTP/AVP 0\n"
	badSDP := strings.Replace(strings.Replace(inviteHead, "BRANCH", "2", 1), "CALLID", "bad-sdp", 1) + "Content-Length: " + itoaN(len(sdp)+3) + "\n\n" + sdp
	if got := rawSIP(t, to, badSDP); !strings.Contains(got, " 400 ") && !strings.Contains(got, " 488 ") {
		t.Errorf("INVITE with bad SDP: %q, want 400", got)
	}
	for name, msg := range map[string]string{
		"no Call-ID":       strings.Replace(inviteHead, "Call-ID: CALLID@127.0.0.1\n", "", 1),
		"no From":          strings.Replace(inviteHead, "From: <sip:5550001234@127.0.0.1>;tag=abc\n", "", 1),
		"no To":            strings.Replace(inviteHead, "To: <sip:3500@127.0.0.1>\n", "", 1),
		"no Contact":       strings.Replace(inviteHead, "Contact: <sip:5550001234@127.0.0.1:PORT>\n", "", 1),
		"bad CSeq":         strings.Replace(inviteHead, "CSeq: 1 INVITE", "CSeq: x INVITE", 1),
		"bad request line": strings.Replace(inviteHead, "SIP/2.0\nVia", "SIP/9.9\nVia", 1),
	} {
		msg = strings.NewReplacer("BRANCH", name, "CALLID", name).Replace(msg) + "Content-Length: 0\n\n"
		got := rawSIP(t, to, msg)
		t.Logf("%s: %q", name, got)
		if got != "" && !strings.Contains(got, " 400 ") && !strings.Contains(got, " 505 ") {
			t.Errorf("%s: %q, want 400 (505 for the version) or nothing", name, got)
		}
	}
	options := "OPTIONS sip:3500@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bK-3\nFrom: <sip:a@127.0.0.1>;tag=x\nTo: <sip:3500@127.0.0.1>\nCall-ID: opt@127.0.0.1\nCSeq: 1 OPTIONS\nMax-Forwards: 70\nContent-Length: 0\n\n"
	if got := rawSIP(t, to, options); !strings.Contains(got, " 200 ") {
		t.Errorf("OPTIONS: %q, want 200", got)
	}
	sub := strings.NewReplacer("OPTIONS", "SUBSCRIBE", "branch=z9hG4bK-3", "branch=z9hG4bK-4").Replace(options)
	if got := rawSIP(t, to, sub); !strings.Contains(got, " 405 ") {
		t.Errorf("SUBSCRIBE: %q, want 405", got)
	}
}

// selfSigned makes a throwaway certificate for 127.0.0.1.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}

// TestIntegrationTLS: with a certificate, SIP over TLS works end to end.
func TestIntegrationTLS(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, func(c *dialin.Config) {
		c.TLS, c.TLSConfig = "127.0.0.1:0", selfSigned(t)
	})
	ctx := timeout(t, 20*time.Second)
	p := h.dial(ctx, dialintest.Options{Dest: "3500", Transport: "tls"})
	memberOf(ctx, t, h.room("3500"), p)
	if err := p.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the phone to leave", func() bool { return !inRoom(h.room("3500"), p) })
}

// TestIntegrationPINLockoutThroughTrunk: every caller here comes through a
// trunk (127.0.0.0/8), where the From is whatever the calling side sends.
// Three wrong PINs lock that caller ID out; a caller who then changes its
// From is cut off once the room's budget through the trunk (four here) is
// spent, and after that neither a new From nor a From without a user part
// gets in. Another room is still open through the trunk.
func TestIntegrationPINLockoutThroughTrunk(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500", PIN: "1234"}, {Number: "4000", PIN: "4321"}}, func(c *dialin.Config) {
		c.PINAttempts, c.PINTrunkAttempts = 3, 4
	})
	ctx := timeout(t, 60*time.Second)

	first := h.dial(ctx, dialintest.Options{Dest: "3500", From: "5550000011"})
	first.SendDigits("1111#2222#3333#")
	waitBye(ctx, t, first)
	_, err := h.tryDial(ctx, dialintest.Options{Dest: "3500", From: "5550000011"})
	wantStatus(t, err, 403)

	// A new From: one more wrong PIN spends the room's budget, and the
	// call ends there rather than at its own third try.
	second := h.dial(ctx, dialintest.Options{Dest: "3500", From: "5550000012"})
	second.SendDigits("4444#")
	waitBye(ctx, t, second)

	for _, opts := range []dialintest.Options{
		{Dest: "3500", From: "5550000013"},
		{Dest: "3500", NoFromUser: true},
	} {
		_, err := h.tryDial(ctx, opts)
		wantStatus(t, err, 403)
	}
	other := h.dial(ctx, dialintest.Options{Dest: "4000", From: "5550000014"})
	other.SendDigits("4321#")
	memberOf(ctx, t, h.room("4000"), other)
}
