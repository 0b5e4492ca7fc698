package verto

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Limits bound what one client may put into the server's state and have
// repeated to others (the participant list, chat, logs). Display strings
// over their limit are cut short; identifiers and userVariables over theirs
// are refused with -32602, since a shortened one would be a different one.
type Limits struct {
	// NameChars bounds caller_id_name and caller_id_number (and their
	// remote_ counterparts), in characters.
	NameChars int
	// IDBytes bounds identifiers: callID, sessid and the login name.
	IDBytes int
	// UserVariablesBytes bounds dialogParams.userVariables, as JSON.
	UserVariablesBytes int
}

// Clip returns s cut to at most n characters (n <= 0: unchanged), at a
// character boundary.
func Clip(s string, n int) string {
	if n <= 0 || len(s) <= n {
		return s // n bytes hold at most n characters
	}
	i := 0
	for c := 0; i < len(s) && c < n; c++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}

// CheckID refuses an identifier longer than l.IDBytes; field names it in
// the error, e.g. "invalid params: dialogParams.callID is longer than 256
// bytes".
func (l Limits) CheckID(field, id string) *Error {
	if l.IDBytes > 0 && len(id) > l.IDBytes {
		return invalidParams(fmt.Sprintf("%s is longer than %d bytes", field, l.IDBytes))
	}
	return nil
}

// Limit applies l to the dialog of a call being created: an over-long
// callID or userVariables is refused, the names are clipped.
func (p *DialogParams) Limit(l Limits) *Error {
	if err := l.CheckID("dialogParams.callID", p.CallID); err != nil {
		return err
	}
	if l.UserVariablesBytes > 0 && len(p.UserVariables) > 0 {
		b, err := json.Marshal(p.UserVariables)
		if err != nil || len(b) > l.UserVariablesBytes {
			return invalidParams(fmt.Sprintf("dialogParams.userVariables is larger than %d bytes", l.UserVariablesBytes))
		}
	}
	p.CallerIDName = Clip(p.CallerIDName, l.NameChars)
	p.CallerIDNumber = Clip(p.CallerIDNumber, l.NameChars)
	p.RemoteCallerIDName = Clip(p.RemoteCallerIDName, l.NameChars)
	p.RemoteCallerIDNumber = Clip(p.RemoteCallerIDNumber, l.NameChars)
	return nil
}
