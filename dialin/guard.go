package dialin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"golang.org/x/time/rate"
)

// caller is who an admitted INVITE comes from.
type caller struct {
	src   netip.Addr
	trunk bool  // from a configured trunk network
	user  *User // the account it authenticated as, nil for a guest or trunk
}

// guard decides which INVITEs confd accepts: trunk networks, digest-
// authenticated accounts, guests only when configured; INVITE rate per
// source; and the PIN lockout (lockout.go).
type guard struct {
	cfg    *Config
	secret [32]byte // keys the nonces, so they need no server-side state

	mu       sync.Mutex
	limiters map[netip.Addr]*limiter
	failures map[string]*pinFailures // lockout.go
	// pinSweepAt is the size of failures at which it is next swept.
	pinSweepAt int
}

type limiter struct {
	lim  *rate.Limiter
	seen time.Time
}

func newGuard(cfg *Config) *guard {
	g := &guard{cfg: cfg, limiters: map[netip.Addr]*limiter{}, failures: map[string]*pinFailures{}}
	_, _ = rand.Read(g.secret[:])
	return g
}

// nonceLifetime bounds how long a digest challenge may be answered.
const nonceLifetime = 5 * time.Minute

// admit checks an INVITE from src. Trunks pass; otherwise a configured
// account must authenticate (RFC 3261 §22.4, a 401 challenge first), or
// the caller is a guest, which the config must allow.
func (g *guard) admit(req *sip.Request, src netip.Addr, now time.Time) (caller, error) {
	c := caller{src: src, trunk: g.isTrunk(src)}
	if !c.trunk && !g.allow(src, now) {
		return c, reject(503, "Service Unavailable", errRateLimited)
	}
	if c.trunk {
		return c, nil
	}
	if h := req.GetHeader("Authorization"); h != nil {
		u, err := g.authenticate(h.Value(), string(req.Method), now)
		if err != nil {
			return c, g.challenge(now, err)
		}
		c.user = u
		return c, nil
	}
	if g.cfg.AllowGuests {
		return c, nil
	}
	if len(g.cfg.Users) > 0 {
		return c, g.challenge(now, errNoCredentials)
	}
	return c, reject(403, "Forbidden", errNotAllowed)
}

func (g *guard) isTrunk(a netip.Addr) bool {
	for _, p := range g.cfg.Trunks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// allow takes one INVITE from src's token bucket. Trunks are exempt: one
// trunk address carries every caller of a carrier.
func (g *guard) allow(src netip.Addr, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.limiters[src]
	if l == nil {
		g.pruneLocked(now)
		l = &limiter{lim: rate.NewLimiter(rate.Limit(g.cfg.InviteRate), g.cfg.InviteBurst)}
		g.limiters[src] = l
	}
	l.seen = now
	return l.lim.AllowN(now, 1)
}

// pruneLocked forgets sources idle for a minute, so a scan from many
// addresses cannot grow the table without bound.
func (g *guard) pruneLocked(now time.Time) {
	if len(g.limiters) < 1024 {
		return
	}
	for a, l := range g.limiters {
		if now.Sub(l.seen) > time.Minute {
			delete(g.limiters, a)
		}
	}
}

func (g *guard) challenge(now time.Time, err error) error {
	chal := digest.Challenge{Realm: g.cfg.Realm, Nonce: g.nonce(now), Algorithm: "MD5", QOP: []string{"auth"}}
	e := reject(401, "Unauthorized", err).(*statusError)
	e.headers = []sip.Header{sip.NewHeader("WWW-Authenticate", chal.String())}
	return e
}

// nonce is a timestamp and its HMAC: verifiable later without storing it.
func (g *guard) nonce(now time.Time) string {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(now.Unix()))
	m := hmac.New(sha256.New, g.secret[:])
	m.Write(ts[:])
	return hex.EncodeToString(ts[:]) + hex.EncodeToString(m.Sum(nil)[:16])
}

func (g *guard) nonceValid(n string, now time.Time) bool {
	if len(n) != 48 {
		return false
	}
	raw, err := hex.DecodeString(n[:16])
	if err != nil || !hmac.Equal([]byte(g.nonce(time.Unix(int64(binary.BigEndian.Uint64(raw)), 0))), []byte(n)) {
		return false
	}
	age := now.Sub(time.Unix(int64(binary.BigEndian.Uint64(raw)), 0))
	return age >= 0 && age < nonceLifetime
}

// authenticate checks an Authorization header value against the accounts;
// the comparison is constant-time and no secret is logged.
func (g *guard) authenticate(h, method string, now time.Time) (*User, error) {
	cr, err := digest.ParseCredentials(h)
	if err != nil || !g.nonceValid(cr.Nonce, now) || cr.Realm != g.cfg.Realm {
		return nil, errBadCredentials
	}
	u := g.user(cr.Username)
	if u == nil {
		return nil, errBadCredentials
	}
	chal := &digest.Challenge{Realm: cr.Realm, Nonce: cr.Nonce, Algorithm: cr.Algorithm, Opaque: cr.Opaque}
	if cr.QOP != "" {
		chal.QOP = []string{cr.QOP}
	}
	want, err := digest.Digest(chal, digest.Options{Method: method, URI: cr.URI, Username: u.Login, Password: u.Password, Cnonce: cr.Cnonce, Count: cr.Nc})
	if err != nil || subtle.ConstantTimeCompare([]byte(want.Response), []byte(cr.Response)) != 1 {
		return nil, errBadCredentials
	}
	return u, nil
}

func (g *guard) user(login string) *User {
	login, _, _ = strings.Cut(login, "@")
	for i := range g.cfg.Users {
		if g.cfg.Users[i].Login == login {
			return &g.cfg.Users[i]
		}
	}
	return nil
}

// maskNumber hides all but the last four digits of a caller ID
// ("•••• 1234"), so the participant list does not publish phone numbers.
func maskNumber(n string) string {
	if len(n) <= 4 {
		return "••••"
	}
	return "•••• " + n[len(n)-4:]
}

// callerNumber is the user part of the From URI (the calling number).
func callerNumber(req *sip.Request) string {
	if f := req.From(); f != nil {
		return keypadSafe(f.Address.User)
	}
	return ""
}

// keypadSafe keeps digits, '+' and letters of a caller ID, at most 32, so
// that nothing odd reaches logs or the participant list.
func keypadSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 32 {
			break
		}
		if r == '+' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || r == '.' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// admitUser checks a request from one who is no trunk, whatever its
// source: a REGISTER, or anything over a websocket (a browser on this host
// is not a trunk). A configured account must authenticate: no credentials,
// or a stale nonce, get the 401 challenge; credentials answering a fresh
// challenge of confd's with the wrong password (or an unknown login) get
// 403. Otherwise the caller is a guest, which the config must allow.
func (g *guard) admitUser(req *sip.Request, src netip.Addr, now time.Time) (caller, error) {
	c := caller{src: src}
	if !g.allow(src, now) {
		return c, reject(503, "Service Unavailable", errRateLimited)
	}
	if h := req.GetHeader("Authorization"); h != nil {
		u, err := g.authenticate(h.Value(), string(req.Method), now)
		if err == nil {
			c.user = u
			return c, nil
		}
		if cr, perr := digest.ParseCredentials(h.Value()); perr == nil && cr.Realm == g.cfg.Realm && g.nonceValid(cr.Nonce, now) {
			return c, reject(403, "Forbidden", err)
		}
		return c, g.challenge(now, err)
	}
	if g.cfg.AllowGuests {
		return c, nil
	}
	if len(g.cfg.Users) > 0 {
		return c, g.challenge(now, errNoCredentials)
	}
	return c, reject(403, "Forbidden", errNotAllowed)
}
