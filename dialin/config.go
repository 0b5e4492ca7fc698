package dialin

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"time"

	"github.com/confd/confd/mixer"
	"github.com/confd/confd/peer"
	"github.com/confd/confd/room"
)

// Config configures the SIP server. Zero values take the defaults noted.
type Config struct {
	// UDP, TCP and TLS are listen addresses ("" leaves one off); TLS also
	// needs TLSConfig.
	UDP, TCP, TLS string
	TLSConfig     *tls.Config

	// RTPIP is the address media sockets bind to and SDP names (default:
	// the address the call's INVITE arrived on, so that a phone on a host
	// with several addresses sends its RTP where it sent its INVITE);
	// RTPPortMin..RTPPortMax the range (default 16384..32767, FreeSWITCH's).
	RTPIP                  netip.Addr
	RTPPortMin, RTPPortMax uint16
	// PublicIPs are announced in SDP and Contact instead of a local
	// address (1:1 NAT); the first of the right family is used. Contact
	// otherwise names the address and port the INVITE arrived on.
	PublicIPs []netip.Addr

	// Codecs in preference order (default PCMU, PCMA).
	Codecs []mixer.Codec

	// Trunks are the networks INVITEs are accepted from without
	// authentication. Users may authenticate with SIP digest from
	// anywhere, in Realm (default "confd"). AllowGuests accepts anyone else.
	Trunks      []netip.Prefix
	Users       []User
	Realm       string
	AllowGuests bool

	// InviteRate and InviteBurst limit INVITEs per source address (default
	// 2 per second, burst 10); trunks are exempt.
	InviteRate  float64
	InviteBurst int

	// PINAttempts wrong PINs (default 3) end the call, and within
	// PINLockout (default 5 minutes) lock the caller ID and, off a trunk,
	// the source address out of PIN entry for PINLockout. Through a trunk,
	// PINTrunkAttempts wrong PINs into one room (default 10, from any
	// caller ID or none) lock that room's PIN entry through that trunk
	// address (lockout.go).
	PINAttempts      int
	PINTrunkAttempts int
	PINLockout       time.Duration

	// ShowCallerID puts the whole calling number in the participant list;
	// by default only its last four digits show.
	ShowCallerID bool
	// Phonebook names callers by number; others are "Phone user".
	Phonebook map[string]string
	// DIDs maps dialled numbers to room numbers (a trunk's DID → room).
	DIDs map[string]string

	// RTPTimeout hangs up a call that sends no RTP this long (default 60 s;
	// a held call is exempt). Ring delays the answer: callers hear ringing
	// (180) this long first (default 0).
	RTPTimeout time.Duration
	Ring       time.Duration

	Limits Limits

	// WebSocket is SIP over WebSocket from browsers (ws.go, webcall.go).
	WebSocket WebSocket
}

// WebSocket configures SIP over WebSocket (RFC 7118): browsers running
// JsSIP or SIP.js register and call rooms with WebRTC media.
type WebSocket struct {
	// CheckOrigin admits a page's websocket by its Origin (Verto's rule);
	// nil admits pages of the same host only, and clients that send no
	// Origin.
	CheckOrigin func(*http.Request) bool
	// MessageRate and MessageBurst bound the messages one connection
	// sends (default 50 a second, bursts of 200, as for Verto): a request
	// past them gets 503, and 100 refused in a row close the connection.
	// Messages are bounded as on every transport (Limits).
	MessageRate  float64
	MessageBurst int
	// Media makes the browsers' PeerConnections; without it their calls
	// get 488.
	Media *peer.Media
	// AnswerTimeout bounds building an answer, ICE gathering included
	// (default 10 s).
	AnswerTimeout time.Duration
	// MaxExpires caps a registration's lifetime (default 3600 s); a
	// REGISTER asking for less than MinExpires (default 60 s) gets 423.
	MaxExpires, MinExpires time.Duration
}

func (w *WebSocket) defaults() {
	if w.MessageRate <= 0 {
		w.MessageRate = 50
	}
	w.MessageBurst = positive(w.MessageBurst, 200)
	w.AnswerTimeout = positive(w.AnswerTimeout, 10*time.Second)
	w.MaxExpires = positive(w.MaxExpires, time.Hour)
	w.MinExpires = positive(w.MinExpires, time.Minute)
}

// Limits bound what one peer may make confd hold. Zero values take the
// defaults noted.
type Limits struct {
	// MaxMessageBytes bounds a whole message (default and most 32768, what
	// sipgo reads at once), MaxHeaderBytes its header section (default
	// 16384) and MaxHeaders its header field lines (default 100). Larger
	// requests get 513 Message Too Large; over TCP and TLS the connection
	// is closed, since the message cannot be skipped.
	MaxMessageBytes, MaxHeaderBytes, MaxHeaders int

	// Over TCP and TLS: ReadTimeout bounds how long a message may take to
	// arrive once it began (default 30 s; one byte every few seconds does
	// not keep a connection), IdleTimeout how long a connection that
	// carries no call may send nothing (default 2 minutes; CRLF keep-alives
	// count), TLSHandshakeTimeout the TLS handshake (default 10 s) and
	// WriteTimeout a write to a peer that does not read (default 10 s).
	ReadTimeout, IdleTimeout, TLSHandshakeTimeout, WriteTimeout time.Duration

	// MaxConnsPerAddress bounds the TCP and TLS connections from one IP
	// address (default 32), MaxConns all of them (default 1024); further
	// connections are closed as they are accepted.
	MaxConnsPerAddress, MaxConns int
}

// MaxMessageBytes is the most Limits.MaxMessageBytes may be: what sipgo
// reads of one message, its transports' read buffer
// (sip.TransportBufferReadSize).
const MaxMessageBytes = 32768

// DefaultLimits are the limits a zero Limits takes.
func DefaultLimits() Limits {
	var l Limits
	l.defaults()
	return l
}

func (l *Limits) defaults() {
	if l.MaxMessageBytes <= 0 || l.MaxMessageBytes > MaxMessageBytes {
		l.MaxMessageBytes = MaxMessageBytes
	}
	l.MaxHeaderBytes = positive(l.MaxHeaderBytes, 16384)
	l.MaxHeaders = positive(l.MaxHeaders, 100)
	l.ReadTimeout = positive(l.ReadTimeout, 30*time.Second)
	l.IdleTimeout = positive(l.IdleTimeout, 2*time.Minute)
	l.TLSHandshakeTimeout = positive(l.TLSHandshakeTimeout, 10*time.Second)
	l.WriteTimeout = positive(l.WriteTimeout, 10*time.Second)
	l.MaxConnsPerAddress = positive(l.MaxConnsPerAddress, 32)
	l.MaxConns = positive(l.MaxConns, 1024)
}

func positive[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func (l *Limits) stream() streamLimits {
	return streamLimits{read: l.ReadTimeout, idle: l.IdleTimeout, handshake: l.TLSHandshakeTimeout, write: l.WriteTimeout}
}

func (l *Limits) wire() wireLimits {
	return wireLimits{maxMessage: l.MaxMessageBytes, maxHeader: l.MaxHeaderBytes, maxFields: l.MaxHeaders}
}

// User is an account that may authenticate with SIP digest.
type User struct {
	Login, Password, Name string
	Role                  room.Role
}

func (c *Config) defaults() {
	if c.RTPPortMin == 0 && c.RTPPortMax == 0 {
		c.RTPPortMin, c.RTPPortMax = 16384, 32767
	}
	if len(c.Codecs) == 0 {
		c.Codecs = []mixer.Codec{mixer.CodecPCMU, mixer.CodecPCMA}
	}
	if c.Realm == "" {
		c.Realm = "confd"
	}
	if c.InviteRate <= 0 {
		c.InviteRate = 2
	}
	if c.InviteBurst <= 0 {
		c.InviteBurst = 10
	}
	if c.PINAttempts <= 0 {
		c.PINAttempts = 3
	}
	if c.PINTrunkAttempts <= 0 {
		c.PINTrunkAttempts = 10
	}
	if c.PINLockout <= 0 {
		c.PINLockout = 5 * time.Minute
	}
	if c.RTPTimeout <= 0 {
		c.RTPTimeout = 60 * time.Second
	}
	c.Limits.defaults()
	c.WebSocket.defaults()
}
