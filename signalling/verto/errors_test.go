package verto

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestErrorString(t *testing.T) {
	cases := []struct {
		name string
		err  *Error
		want string
	}{
		{"code and message", NewError(CodeAuthRequired, MsgAuthRequired), "verto: -32000 Authentication Required"},
		{"message only", &Error{Message: "INVALID MESSAGE"}, "verto: INVALID MESSAGE"},
		{"code only", &Error{Code: CodeSessionError}, "verto: error -32002"},
		{"fields only", SubscribeResult{AlreadySubscribedChannels: []string{"a"}}.AsError(), "verto: error with fields [alreadySubscribedChannels]"},
		{"empty", &Error{}, "verto: error with fields []"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantEqual(t, "Error()", tc.err.Error(), tc.want) })
	}
}

func TestErrorMarshal(t *testing.T) {
	cases := []struct {
		name string
		err  *Error
		want string
	}{
		{"code and message", NewError(CodeAuthFailed, MsgLoginIncorrect), `{"code":-32001,"message":"Login Incorrect"}`},
		{"fields sorted after code and message", NewError(CodeSessionError, "call is not bridged").
			WithField("callID", "c6f").WithField("action", "transfer"),
			`{"code":-32002,"message":"call is not bridged","action":"transfer","callID":"c6f"}`},
		{"invite error with cause", NewError(CodeSessionError, "CALL ERROR").
			WithField("causeCode", 41).WithField("cause", "NORMAL_TEMPORARY_FAILURE"),
			`{"code":-32002,"message":"CALL ERROR","cause":"NORMAL_TEMPORARY_FAILURE","causeCode":41}`},
		{"no code", &Error{Message: "INVALID MESSAGE to and body params required"},
			`{"message":"INVALID MESSAGE to and body params required"}`},
		{"no message", &Error{Code: CodeSessionError}, `{"code":-32002}`},
		{"fields only", UnsubscribeResult{NotSubscribedChannels: []string{"x"}}.AsError(), `{"notSubscribedChannels":["x"]}`},
		{"empty", &Error{}, `{}`},
		{"nil", nil, `null`},
		{"message escaped", NewError(1, `a"<b>`), `{"code":1,"message":"a\"\u003cb\u003e"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.err.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "json", string(got), tc.want)
		})
	}
}

// An *Error nested in another value marshals through MarshalJSON, and it
// satisfies the error interface for errors.As.
func TestErrorInterfaces(t *testing.T) {
	out, err := json.Marshal(map[string]any{"error": NewError(CodeMethodNotFound, MsgMethodNotFound)})
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "nested", string(out), `{"error":{"code":-32601,"message":"Invalid Method, Missing Method or Permission Denied"}}`)
	var wrapped error = NewError(CodeSessionError, MsgCallNotExist)
	var target *Error
	wantEqual(t, "errors.As", errors.As(wrapped, &target) && target.Code == CodeSessionError, true)
}

func TestAsErrorLists(t *testing.T) {
	r := SubscribeResult{
		SubscribedChannels:        []string{"a"},
		UnauthorizedChannels:      []string{"b"},
		AlreadySubscribedChannels: []string{"c"},
	}
	got, err := r.AsError().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"alreadySubscribedChannels":["c"],"subscribedChannels":["a"],"unauthorizedChannels":["b"]}`
	wantEqual(t, "json", string(got), want)
}
