package verto

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecode checks that Decode never panics, that every rejection is a
// sendable error reply, and that every accepted frame re-encodes to valid
// JSON that decodes back to the same message.
func FuzzDecode(f *testing.F) {
	for _, tc := range clientFrames {
		f.Add([]byte(tc.frame))
	}
	for _, tc := range decodeErrorCases {
		f.Add([]byte(tc.frame))
	}
	for _, tc := range paramsErrorCases {
		f.Add([]byte(tc.frame))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, id, err := Decode(frame)
		if err != nil {
			checkRejected(t, id, err)
			return
		}
		if !bytes.Equal(id, m.ID) {
			t.Fatalf("returned id %q differs from Message.ID %q", id, m.ID)
		}
		if m.IsRequest() == m.IsResponse() {
			t.Fatalf("IsRequest %v and IsResponse %v for %q", m.IsRequest(), m.IsResponse(), frame)
		}
		if m.IsRequest() {
			checkRequest(t, m)
			return
		}
		checkResponse(t, m)
	})
}

var rejectCodes = map[int]bool{CodeParseError: true, CodeInvalidRequest: true, CodeInvalidParams: true}

func checkRejected(t *testing.T, id json.RawMessage, err *Error) {
	t.Helper()
	if !rejectCodes[err.Code] || err.Message == "" || len(err.Fields) != 0 {
		t.Fatalf("unexpected rejection %#v", err)
	}
	out, encErr := EncodeError(id, err)
	if encErr != nil || !json.Valid(out) {
		t.Fatalf("error reply %q: %v", out, encErr)
	}
}

// checkRequest re-encodes a request as a server request and as an echo
// result, decodes both again and compares.
func checkRequest(t *testing.T, m Message) {
	t.Helper()
	out, err := EncodeRequest(1, m.Method, m.Params)
	again := mustRedecode(t, out, err)
	if again.Method != m.Method || !sameJSON(t, again.Params, paramsOrEmpty(m.Params)) {
		t.Fatalf("request changed: %q/%q became %q/%q", m.Method, m.Params, again.Method, again.Params)
	}
	out, err = EncodeResult(m.ID, m.Params, "S")
	again = mustRedecode(t, out, err)
	if !again.IsResponse() || !bytes.Equal(again.ID, m.ID) {
		t.Fatalf("echo result %q lost its id %q", out, m.ID)
	}
	decodeAllParams(m.Params)
}

// checkResponse re-encodes a client response (whatever its result or error
// value) wrapped in a result object.
func checkResponse(t *testing.T, m Message) {
	t.Helper()
	wrapped := struct {
		Result json.RawMessage `json:"result,omitempty"`
		Error  json.RawMessage `json:"error,omitempty"`
	}{m.Result, m.Error}
	out, err := EncodeResult(m.ID, wrapped, "S")
	again := mustRedecode(t, out, err)
	if !bytes.Equal(again.ID, m.ID) {
		t.Fatalf("id %q became %q", m.ID, again.ID)
	}
}

func mustRedecode(t *testing.T, out []byte, err error) Message {
	t.Helper()
	if err != nil || !json.Valid(out) {
		t.Fatalf("re-encoding gave %q, %v", out, err)
	}
	m, _, derr := Decode(out)
	if derr != nil {
		t.Fatalf("re-encoded frame %q rejected: %v", out, derr)
	}
	return m
}

func paramsOrEmpty(p json.RawMessage) json.RawMessage {
	if p == nil {
		return json.RawMessage("{}")
	}
	return p
}

// sameJSON compares two JSON texts by value (numbers by their text).
func sameJSON(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	va, errA := decodeAny(a)
	vb, errB := decodeAny(b)
	if errA != nil || errB != nil {
		t.Fatalf("cannot compare %q and %q: %v %v", a, b, errA, errB)
	}
	return reflect.DeepEqual(va, vb)
}

func decodeAny(raw json.RawMessage) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

// decodeAllParams runs DecodeParams with every params type; only panics
// matter here.
func decodeAllParams(raw json.RawMessage) {
	targets := []any{&LoginParams{}, &InviteParams{}, &ByeParams{}, &InfoParams{},
		&ModifyParams{}, &SubscribeParams{}, &BroadcastParams{}}
	for _, v := range targets {
		_ = DecodeParams(raw, v)
	}
	_ = ParamsSessid(raw)
}
