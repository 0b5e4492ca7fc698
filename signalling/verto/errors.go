package verto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// JSON-RPC error codes used on the Verto wire.
const (
	CodeAuthRequired   = -32000 // "Authentication Required"
	CodeAuthFailed     = -32001 // "Authentication Failure", "Login Incorrect", …
	CodeSessionError   = -32002 // call and session errors ("CALL DOES NOT EXIST", …)
	CodeParseError     = -32700 // malformed JSON (confd uses the JSON-RPC standard code here)
	CodeInvalidRequest = -32600 // not a JSON-RPC 2.0 message
	CodeMethodNotFound = -32601 // unknown method, or not allowed
	CodeInvalidParams  = -32602 // params of the wrong shape
)

// Error messages confd sends with the codes above.
const (
	MsgAuthRequired    = "Authentication Required"
	MsgAuthFailure     = "Authentication Failure"
	MsgLoginIncorrect  = "Login Incorrect"
	MsgMissingPasswd   = "Missing passwd"
	MsgSessionInUse    = "Session in use"
	MsgParseError      = "Parse error"
	MsgBatch           = "Batch requests are not supported"
	MsgInvalidMessage  = "Invalid message"
	MsgInvalidID       = "Invalid message: id must be a number, a string or null"
	MsgInvalidMethod   = "Invalid message: method must be a non-empty string"
	MsgNoMethod        = "Invalid message: no method, result or error"
	MsgMethodAndResult = "Invalid message: method together with result or error"
	MsgParamsNotObject = "params must be an object"
	MsgMethodNotFound  = "Invalid Method, Missing Method or Permission Denied"
	MsgCallNotExist    = "CALL DOES NOT EXIST"
	MsgDialogMissing   = "Dialog data missing"
	MsgCallIDMissing   = "CallID missing"
	MsgSDPMissing      = "SDP missing"
)

// Sentinel errors returned by the encoders (wrapped with detail).
var (
	ErrInvalidID     = errors.New("verto: id must be a JSON number, string or null")
	ErrNotObject     = errors.New("verto: value must marshal to a JSON object")
	ErrEmptyMethod   = errors.New("verto: method name is empty")
	ErrNilError      = errors.New("verto: nil *Error")
	ErrReservedField = errors.New("verto: Fields must not hold code or message")
)

// Error is a JSON-RPC error object. Fields holds extra members written
// beside code and message (e.g. "callID"); Code 0 means the error object has
// no "code" member at all (Verto has such errors, e.g. verto.subscribe's
// {"alreadySubscribedChannels":[…]}), and Message "" omits "message".
type Error struct {
	Code    int
	Message string
	Fields  map[string]any
}

// NewError returns an error object with the given code and message.
func NewError(code int, msg string) *Error {
	return &Error{Code: code, Message: msg}
}

// WithField sets an extra member of the error object and returns e, so
// calls can be chained: NewError(…).WithField("callID", id).
func (e *Error) WithField(key string, value any) *Error {
	if e.Fields == nil {
		e.Fields = make(map[string]any)
	}
	e.Fields[key] = value
	return e
}

// Error implements the error interface.
func (e *Error) Error() string {
	switch {
	case e.Message != "" && e.Code != 0:
		return "verto: " + strconv.Itoa(e.Code) + " " + e.Message
	case e.Message != "":
		return "verto: " + e.Message
	case e.Code != 0:
		return "verto: error " + strconv.Itoa(e.Code)
	}
	return fmt.Sprintf("verto: error with fields %v", sortedKeys(e.Fields))
}

// MarshalJSON writes code first, then message, then Fields in sorted key
// order. Fields named "code" or "message" are refused (ErrReservedField):
// they would duplicate the members that Code and Message own.
func (e *Error) MarshalJSON() ([]byte, error) {
	if e == nil {
		return []byte("null"), nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	if e.Code != 0 {
		b.WriteString(`"code":` + strconv.Itoa(e.Code))
	}
	if e.Message != "" {
		writeMember(&b, "message", mustString(e.Message))
	}
	if err := e.writeFields(&b); err != nil {
		return nil, err
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (e *Error) writeFields(b *bytes.Buffer) error {
	for _, k := range sortedKeys(e.Fields) {
		if k == "code" || k == "message" {
			return fmt.Errorf("%w: %q", ErrReservedField, k)
		}
		v, err := json.Marshal(e.Fields[k])
		if err != nil {
			return fmt.Errorf("verto: error field %q: %w", k, err)
		}
		writeMember(b, k, v)
	}
	return nil
}

// writeMember appends "key":value to an object being built in b, adding the
// separating comma unless b holds only the opening brace.
func writeMember(b *bytes.Buffer, key string, value []byte) {
	if b.Len() > 1 {
		b.WriteByte(',')
	}
	b.Write(mustString(key))
	b.WriteByte(':')
	b.Write(value)
}

// mustString marshals s as a JSON string; marshalling a string cannot fail.
func mustString(s string) []byte {
	out, _ := json.Marshal(s)
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
