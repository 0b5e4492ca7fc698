package signalling

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
	ErrTokenMalformed = errors.New("token is malformed")
	ErrTokenSignature = errors.New("token signature is invalid")
	ErrTokenExpired   = errors.New("token has expired")
	ErrTokenEarly     = errors.New("token is not valid yet")
	ErrTokenNoSecret  = errors.New("this server accepts no tokens")
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

// verifyToken checks an HS256 JWT (RFC 7519, RFC 7515) signed with secret
// and returns its grant. Only HS256 is accepted: the header's alg is never
// trusted to pick the algorithm.
func verifyToken(token, secret string, now time.Time) (Grant, error) {
	if secret == "" {
		return Grant{}, ErrTokenNoSecret
	}
	parts := strings.Split(token, ".")
	if len(token) > maxTokenBytes || len(parts) != 3 {
		return Grant{}, ErrTokenMalformed
	}
	if err := checkHeader(parts[0]); err != nil {
		return Grant{}, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return Grant{}, ErrTokenMalformed
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return Grant{}, ErrTokenSignature
	}
	return grantOf(parts[1], now)
}

func checkHeader(seg string) error {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return ErrTokenMalformed
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return ErrTokenMalformed
	}
	if h.Alg != "HS256" {
		return fmt.Errorf("%w: alg %q, want HS256", ErrTokenMalformed, h.Alg)
	}
	return nil
}

func grantOf(seg string, now time.Time) (Grant, error) {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return Grant{}, ErrTokenMalformed
	}
	var c tokenClaims
	if json.Unmarshal(raw, &c) != nil || c.Room == "" || c.Exp == 0 {
		return Grant{}, fmt.Errorf("%w: room and exp claims are required", ErrTokenMalformed)
	}
	switch {
	case now.Unix() >= c.Exp:
		return Grant{}, ErrTokenExpired
	case c.Nbf != 0 && now.Unix() < c.Nbf:
		return Grant{}, ErrTokenEarly
	}
	g := Grant{Room: c.Room, Name: c.Name, Role: room.RoleParticipant}
	if strings.EqualFold(c.Role, "moderator") {
		g.Role = room.RoleModerator
	}
	return g, nil
}

// SignToken makes a token for g valid until exp: what an embedding site's
// backend does (tests and the docs' example use it).
func SignToken(g Grant, secret string, exp time.Time) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(tokenClaims{Room: g.Room, Name: g.Name, Role: g.Role.String(), Exp: exp.Unix()})
	body := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return body + "." + enc.EncodeToString(mac.Sum(nil))
}
