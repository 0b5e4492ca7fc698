package turnserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the TURN REST scheme is HMAC-SHA1 (coturn's use-auth-secret)
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Credentials mints and checks short-lived TURN credentials in the TURN
// REST scheme (draft-uberti-behave-turn-rest-00; coturn's
// use-auth-secret): the username is "<expiry, Unix seconds>:<user>" and
// the password is base64(HMAC-SHA1(secret, username)). Anyone holding the
// secret can mint them, so another confd (or a backend) sharing it can
// hand them out too; nothing is stored per credential.
type Credentials struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewCredentials mints credentials valid for ttl with secret.
func NewCredentials(secret string, ttl time.Duration) *Credentials {
	return &Credentials{secret: []byte(secret), ttl: ttl, now: time.Now}
}

// Credential is one minted credential.
type Credential struct {
	Username, Password string
	Expires            time.Time
}

// Mint makes a credential for user; with user "" it is a fresh random
// session name, which is what the per-user quota then counts. A ':' in
// user would end the name early and is replaced.
func (c *Credentials) Mint(user string) Credential {
	if user == "" {
		user = randomUser()
	}
	user = strings.ReplaceAll(user, ":", "_")
	exp := c.now().Add(c.ttl).Truncate(time.Second)
	name := strconv.FormatInt(exp.Unix(), 10) + ":" + user
	return Credential{Username: name, Password: c.password(name), Expires: exp}
}

func randomUser() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail on the platforms confd runs on
	return "s" + hex.EncodeToString(b[:])
}

func (c *Credentials) password(username string) string {
	mac := hmac.New(sha1.New, c.secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// check parses username and returns its user and password. An expired
// credential is refused unless allowExpired: a new allocation needs a
// valid one, but an allocation made in time may go on refreshing and
// adding permissions with it (see the package doc).
func (c *Credentials) check(username string, allowExpired bool) (user, password string, err error) {
	ts, user, ok := strings.Cut(username, ":")
	if !ok || user == "" {
		return "", "", fmt.Errorf("%w: not <expiry>:<user>", ErrBadCredential)
	}
	exp, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", "", fmt.Errorf("%w: expiry %q", ErrBadCredential, ts)
	}
	if !allowExpired && c.now().Unix() > exp {
		return "", "", ErrExpired
	}
	return user, c.password(username), nil
}
