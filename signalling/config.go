package signalling

import (
	"time"

	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/verto"
	"github.com/confd/confd/token"
)

// User is an account that may log in.
type User struct {
	Login    string // the part before @domain
	Password string
	Name     string // display name
	Role     room.Role
	// Grant is set for a session that logged in with a join token: it may
	// join only that room.
	Grant *token.Grant
}

// Config is the Verto endpoint's configuration.
type Config struct {
	// Domain is the Verto domain: channel names end in @Domain.
	Domain string
	Users  []User
	// AllowGuests lets any other login in, as a participant, with any password.
	AllowGuests bool
	// TokenSecret verifies embedding sites' join tokens (HS256 JWT with
	// room, name and role claims); empty accepts no tokens.
	TokenSecret string
	// AllowedOrigins are the browser origins that may open the websocket
	// (scheme://host[:port]; "*" allows all). Empty: same host as the request only.
	AllowedOrigins []string
	// PublicOrigins are the origins confd's own page is served under when
	// that is not the request's host (behind a reverse proxy that does not
	// forward Host); they are admitted like the same host.
	PublicOrigins []string
	// ICEServers, when set, gives the ICE servers (with fresh credentials)
	// of a session logging in over a websocket to host; the login result
	// carries them (iceServers).
	ICEServers func(host string) any
	// MaxMessageBytes is the largest frame accepted (default 1 MB).
	MaxMessageBytes int
	// MessageRate and MessageBurst limit frames per second per connection
	// (default 50/s, bursts of 200).
	MessageRate  float64
	MessageBurst int
	// AttachWindow is how long an answered call survives a lost websocket
	// waiting for the client to come back (default 120 s).
	AttachWindow time.Duration
	// PingInterval is the idle time after which the server sends verto.ping
	// (default 30 s).
	PingInterval time.Duration
	// AnswerTimeout bounds building an answer, ICE gathering included (default 10 s).
	AnswerTimeout time.Duration
	// MemoryRelease is how long the load (live calls and open websockets)
	// must stay at half its peak or less (none included) before the server
	// collects garbage and returns free memory to the system (default 10 s; negative: never, leaving it
	// to the Go runtime, which GOMEMLIMIT also steers).
	MemoryRelease time.Duration
	// WriteTimeout bounds one frame's write to the websocket: a client that
	// takes longer to accept it is disconnected (default 5 s).
	WriteTimeout time.Duration
	// MaxNameLength bounds a caller's display name and number
	// (caller_id_name, caller_id_number), in characters; longer ones are
	// cut short (default 64).
	MaxNameLength int
	// MaxIDBytes bounds identifiers a client chooses: callID, sessid and
	// the login name; longer ones are refused with -32602 (default 256).
	MaxIDBytes int
	// MaxUserVariablesBytes bounds dialogParams.userVariables, which every
	// participant-list subscriber receives, as JSON; larger ones are
	// refused with -32602 (default 4096).
	MaxUserVariablesBytes int
}

func (c *Config) defaults() {
	if c.Domain == "" {
		c.Domain = "localhost"
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 1 << 20
	}
	if c.MessageRate <= 0 {
		c.MessageRate = 50
	}
	if c.MessageBurst <= 0 {
		c.MessageBurst = 200
	}
	if c.AttachWindow <= 0 {
		c.AttachWindow = 120 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.AnswerTimeout <= 0 {
		c.AnswerTimeout = 10 * time.Second
	}
	if c.MemoryRelease == 0 {
		c.MemoryRelease = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 5 * time.Second
	}
	if c.MaxNameLength <= 0 {
		c.MaxNameLength = 64
	}
	if c.MaxIDBytes <= 0 {
		c.MaxIDBytes = 256
	}
	if c.MaxUserVariablesBytes <= 0 {
		c.MaxUserVariablesBytes = 4096
	}
}

// limits are the bounds on what a client stores in the server's state.
func (c *Config) limits() verto.Limits {
	return verto.Limits{NameChars: c.MaxNameLength, IDBytes: c.MaxIDBytes, UserVariablesBytes: c.MaxUserVariablesBytes}
}
