package verto

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestEncodeResultSessid(t *testing.T) {
	cases := []struct {
		name   string
		result any
		sessid string
		want   string
	}{
		{"nil result", nil, "S", `{"sessid":"S"}`},
		{"nil result, no sessid", nil, "", `{}`},
		{"empty struct", Punt{}, "S", `{"sessid":"S"}`},
		{"appended last", MessageResult{Message: MsgPong}, "S", `{"message":"PONG","sessid":"S"}`},
		{"kept when present", json.RawMessage(`{"sessid":"client","a":1}`), "S", `{"sessid":"client","a":1}`},
		{"present but empty is kept", map[string]string{"sessid": ""}, "S", `{"sessid":""}`},
		{"nested sessid does not count", json.RawMessage(`{"a":{"sessid":"x"}}`), "S", `{"a":{"sessid":"x"},"sessid":"S"}`},
		{"raw result is compacted", json.RawMessage(" { \"a\" : 1 } "), "S", `{"a":1,"sessid":"S"}`},
		{"sessid escaped", nil, `a"b`, `{"sessid":"a\"b"}`},
		{"typed nil pointer", (*ModifyResult)(nil), "S", `{"sessid":"S"}`},
		{"map keys sorted", map[string]int{"b": 1, "a": 2}, "S", `{"a":2,"b":1,"sessid":"S"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EncodeResult(json.RawMessage(`1`), tc.result, tc.sessid)
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "frame", string(got), `{"jsonrpc":"2.0","id":1,"result":`+tc.want+`}`)
		})
	}
}

func TestEncodeIDs(t *testing.T) {
	cases := []struct {
		name string
		id   json.RawMessage
		want string
	}{
		{"nil", nil, `null`},
		{"empty", json.RawMessage{}, `null`},
		{"null", json.RawMessage(`null`), `null`},
		{"integer", json.RawMessage(`42`), `42`},
		{"negative", json.RawMessage(`-3`), `-3`},
		{"float kept verbatim", json.RawMessage(`1.5e3`), `1.5e3`},
		{"big integer kept verbatim", json.RawMessage(`123456789012345678901234567890`), `123456789012345678901234567890`},
		{"UUID string", json.RawMessage(`"5e0ad3a4-3c5e"`), `"5e0ad3a4-3c5e"`},
		{"escaped string kept verbatim", json.RawMessage(`"a\u0041"`), `"a\u0041"`},
		{"surrounding space trimmed", json.RawMessage(" 7 "), `7`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EncodeError(tc.id, NewError(CodeAuthRequired, MsgAuthRequired))
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "frame", string(got), wantErrorFrame(tc.want, CodeAuthRequired, MsgAuthRequired))
		})
	}
}

func TestEncodeRequest(t *testing.T) {
	cases := []struct {
		name   string
		id     uint64
		method string
		params any
		want   string
	}{
		{"nil params", 1, MethodPunt, nil, `{"jsonrpc":"2.0","id":1,"method":"verto.punt","params":{}}`},
		{"null raw params", 2, MethodPunt, json.RawMessage(`null`), `{"jsonrpc":"2.0","id":2,"method":"verto.punt","params":{}}`},
		{"max id", 1<<64 - 1, MethodPing, Ping{Serno: 1}, `{"jsonrpc":"2.0","id":18446744073709551615,"method":"verto.ping","params":{"serno":1}}`},
		{"ping with auth-expires", 3, MethodPing, Ping{Serno: 5, AuthExpires: 9}, `{"jsonrpc":"2.0","id":3,"method":"verto.ping","params":{"serno":5,"auth-expires":9}}`},
		{"map params", 4, MethodEvent, map[string]any{"eventChannel": "S"}, `{"jsonrpc":"2.0","id":4,"method":"verto.event","params":{"eventChannel":"S"}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EncodeRequest(tc.id, tc.method, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "frame", string(got), tc.want)
		})
	}
}

// Every error the encoders return, with its sentinel.
func TestEncodeErrors(t *testing.T) {
	cases := []struct {
		name   string
		encode func() ([]byte, error)
		want   error // nil: any error
	}{
		{"result array", func() ([]byte, error) { return EncodeResult(nil, []string{"a"}, "S") }, ErrNotObject},
		{"result string", func() ([]byte, error) { return EncodeResult(nil, "x", "") }, ErrNotObject},
		{"result raw number", func() ([]byte, error) { return EncodeResult(nil, json.RawMessage(`5`), "") }, ErrNotObject},
		{"result unmarshalable", func() ([]byte, error) { return EncodeResult(nil, map[string]any{"c": make(chan int)}, "") }, nil},
		{"result invalid raw", func() ([]byte, error) { return EncodeResult(nil, json.RawMessage(`{"a"`), "") }, nil},
		{"result id object", func() ([]byte, error) { return EncodeResult(json.RawMessage(`{}`), nil, "") }, ErrInvalidID},
		{"result id bool", func() ([]byte, error) { return EncodeResult(json.RawMessage(`true`), nil, "") }, ErrInvalidID},
		{"result id unterminated", func() ([]byte, error) { return EncodeResult(json.RawMessage(`"abc`), nil, "") }, ErrInvalidID},
		{"result id garbage", func() ([]byte, error) { return EncodeResult(json.RawMessage(`1 2`), nil, "") }, ErrInvalidID},
		{"error nil", func() ([]byte, error) { return EncodeError(nil, nil) }, ErrNilError},
		{"error id array", func() ([]byte, error) { return EncodeError(json.RawMessage(`[1]`), NewError(1, "x")) }, ErrInvalidID},
		{"error reserved field", func() ([]byte, error) {
			return EncodeError(nil, NewError(CodeSessionError, "x").WithField("code", 1))
		}, ErrReservedField},
		{"error unmarshalable field", func() ([]byte, error) {
			return EncodeError(nil, NewError(CodeSessionError, "x").WithField("f", func() {}))
		}, nil},
		{"request empty method", func() ([]byte, error) { return EncodeRequest(1, "", nil) }, ErrEmptyMethod},
		{"request params array", func() ([]byte, error) { return EncodeRequest(1, MethodEvent, []int{1}) }, ErrNotObject},
		{"request params number", func() ([]byte, error) { return EncodeRequest(1, MethodEvent, 5) }, ErrNotObject},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.encode()
			if err == nil {
				t.Fatalf("no error, got %s", out)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}
