package turnserver

import "errors"

var (
	// ErrBadCredential is a username that is not one confd mints.
	ErrBadCredential = errors.New("turnserver: not a confd TURN credential")
	// ErrExpired is a credential past its expiry, for a new allocation.
	ErrExpired = errors.New("turnserver: credential expired")
	// ErrNoSecret is a config without a secret.
	ErrNoSecret = errors.New("turnserver: no secret")

	errTCPRelay   = errors.New("turnserver: TCP relays (RFC 6062) are not offered")
	errFamily     = errors.New("turnserver: no relay address of that family")
	errFrame      = errors.New("turnserver: malformed TURN frame over TCP")
	errFrameLarge = errors.New("turnserver: TURN frame over TCP larger than any confd relays")
)
