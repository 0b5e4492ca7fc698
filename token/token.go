// Package token is confd's join tokens: HS256 JWTs (RFC 7519, RFC 7515)
// that embedding sites, operators' backends and the control API mint with
// the shared secret, and that Verto logins, WHIP publishers and WHEP
// viewers present. A token grants one room, under a name, with a role.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/confd/confd/room"
)

// Token errors, each a clear reason for the client.
var (
	ErrMalformed = errors.New("token is malformed")
	ErrSignature = errors.New("token signature is invalid")
	ErrExpired   = errors.New("token has expired")
	ErrEarly     = errors.New("token is not valid yet")
	ErrNoSecret  = errors.New("this server accepts no tokens")
)

// Grant is what a valid join token allows: one room, under a name, with a
// role. Embedding sites mint tokens with the shared secret.
type Grant struct {
	Room string
	Name string
	Role room.Role
}

type tokenClaims struct {
	Room string `json:"room"`
	Name string `json:"name"`
	Role string `json:"role"`
	Exp  int64  `json:"exp"`
	Nbf  int64  `json:"nbf"`
}

// maxTokenBytes bounds what is decoded before the signature is checked.
const maxTokenBytes = 4096

// Verify checks an HS256 JWT (RFC 7519, RFC 7515) signed with secret
// and returns its grant. Only HS256 is accepted: the header's alg is never
// trusted to pick the algorithm.
func Verify(token, secret string, now time.Time) (Grant, error) {
	if secret == "" {
		return Grant{}, ErrNoSecret
	}
	parts := strings.Split(token, ".")
	if len(token) > maxTokenBytes || len(parts) != 3 {
		return Grant{}, ErrMalformed
	}
	if err := checkHeader(parts[0]); err != nil {
		return Grant{}, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return Grant{}, ErrMalformed
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return Grant{}, ErrSignature
	}
	return grantOf(parts[1], now)
}

func checkHeader(seg string) error {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return ErrMalformed
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return ErrMalformed
	}
	if h.Alg != "HS256" {
		return fmt.Errorf("%w: alg %q, want HS256", ErrMalformed, h.Alg)
	}
	return nil
}

func grantOf(seg string, now time.Time) (Grant, error) {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return Grant{}, ErrMalformed
	}
	var c tokenClaims
	if json.Unmarshal(raw, &c) != nil || c.Room == "" || c.Exp == 0 {
		return Grant{}, fmt.Errorf("%w: room and exp claims are required", ErrMalformed)
	}
	switch {
	case now.Unix() >= c.Exp:
		return Grant{}, ErrExpired
	case c.Nbf != 0 && now.Unix() < c.Nbf:
		return Grant{}, ErrEarly
	}
	g := Grant{Room: c.Room, Name: c.Name, Role: room.RoleParticipant}
	if strings.EqualFold(c.Role, "moderator") {
		g.Role = room.RoleModerator
	}
	return g, nil
}

// Sign makes a token for g valid until exp: what an embedding site's
// backend does (tests and the docs' example use it).
func Sign(g Grant, secret string, exp time.Time) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(tokenClaims{Room: g.Room, Name: g.Name, Role: g.Role.String(), Exp: exp.Unix()})
	body := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return body + "." + enc.EncodeToString(mac.Sum(nil))
}
