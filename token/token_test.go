package token

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/confd/confd/room"
)

func TestVerifyToken(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	good := Sign(Grant{Room: "3500", Name: "Ann", Role: room.RoleModerator}, "s3cret", now.Add(time.Hour))
	g, err := Verify(good, "s3cret", now)
	if err != nil || g.Room != "3500" || g.Name != "Ann" || g.Role != room.RoleModerator {
		t.Fatalf("valid token: %+v, %v", g, err)
	}
	enc := base64.RawURLEncoding
	parts := strings.Split(good, ".")
	noneAlg := enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
	tests := []struct {
		name, token, secret string
		at                  time.Time
		want                error
	}{
		{"expired", good, "s3cret", now.Add(2 * time.Hour), ErrExpired},
		{"other secret", good, "guess", now, ErrSignature},
		{"payload changed", parts[0] + "." + enc.EncodeToString([]byte(`{"room":"3500","role":"moderator","exp":9999999999}`)) + "." + parts[2], "s3cret", now, ErrSignature},
		{"alg none", noneAlg, "s3cret", now, ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], "s3cret", now, ErrMalformed},
		{"garbage", "a.b.c", "s3cret", now, ErrMalformed},
		{"no secret configured", good, "", now, ErrNoSecret},
		{"too long", strings.Repeat("x", maxTokenBytes+1), "s3cret", now, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Verify(tt.token, tt.secret, tt.at); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}
