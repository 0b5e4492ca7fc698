package dialin

import (
	"errors"
	"fmt"

	"github.com/emiago/sipgo/sip"
)

// Errors of SDP handling (RFC 4566, RFC 3264).
var (
	// ErrBadSDP means a session description confd cannot read.
	ErrBadSDP = errors.New("dialin: malformed SDP")
	// ErrNoAudio means a description with no audio m= line.
	ErrNoAudio = errors.New("dialin: no audio stream in SDP")
	// ErrNoCodec means no offered codec is one confd speaks.
	ErrNoCodec = errors.New("dialin: no common codec")
	// ErrNoPort means every RTP port of the configured range is in use.
	ErrNoPort = errors.New("dialin: no free RTP port")
	// ErrClosed means the server is shutting down.
	ErrClosed = errors.New("dialin: server closed")

	errRateLimited    = errors.New("too many INVITEs from this source")
	errNotAllowed     = errors.New("source is not a trunk and guests are not allowed")
	errNoCredentials  = errors.New("no credentials")
	errBadCredentials = errors.New("bad credentials")
)

// statusError is a failure that maps to a SIP final response (RFC 3261
// §21): the handler answers with code and reason.
type statusError struct {
	code    int
	reason  string
	err     error
	headers []sip.Header // e.g. WWW-Authenticate on a 401
}

func (e *statusError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%d %s: %v", e.code, e.reason, e.err)
	}
	return fmt.Sprintf("%d %s", e.code, e.reason)
}

func (e *statusError) Unwrap() error { return e.err }

func reject(code int, reason string, err error) error {
	return &statusError{code: code, reason: reason, err: err}
}

// isStatus reports whether err maps to SIP status code.
func isStatus(err error, code int) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == code
}
