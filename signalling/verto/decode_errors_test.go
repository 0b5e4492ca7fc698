package verto

import (
	"strconv"
	"testing"
)

// wantErrorFrame is the exact frame EncodeError must produce for an error
// with a code and a message, sent with the raw id (or null).
func wantErrorFrame(id string, code int, msg string) string {
	if id == "" {
		id = "null"
	}
	return `{"jsonrpc":"2.0","id":` + id + `,"error":{"code":` + strconv.Itoa(code) +
		`,"message":` + strconv.Quote(msg) + `}}`
}

// Every error path of Decode: the code, the message and the id the error
// reply echoes ("" means null).
var decodeErrorCases = []struct {
	name  string
	frame string
	code  int
	msg   string
	id    string
}{
	{"not JSON", `hello`, CodeParseError, MsgParseError, ""},
	{"empty frame", ``, CodeParseError, MsgParseError, ""},
	{"blank frame", " \r\n\t", CodeParseError, MsgParseError, ""},
	{"truncated object", `{"jsonrpc":"2.0","method":"login","id":1`, CodeParseError, MsgParseError, ""},
	{"trailing garbage", `{"jsonrpc":"2.0","method":"login","id":1} x`, CodeParseError, MsgParseError, ""},
	{"two objects", `{"jsonrpc":"2.0","method":"login","id":1}{}`, CodeParseError, MsgParseError, ""},
	{"speed test frame", `#SPU 262144`, CodeParseError, MsgParseError, ""},
	{"bad escape", `{"jsonrpc":"2.0","method":"lo\qgin","id":1}`, CodeParseError, MsgParseError, ""},
	{"batch", `[{"jsonrpc":"2.0","method":"login","id":1}]`, CodeInvalidRequest, MsgBatch, ""},
	{"empty batch", ` []`, CodeInvalidRequest, MsgBatch, ""},
	{"string", `"login"`, CodeInvalidRequest, MsgInvalidMessage, ""},
	{"number", `42`, CodeInvalidRequest, MsgInvalidMessage, ""},
	{"null", `null`, CodeInvalidRequest, MsgInvalidMessage, ""},
	{"boolean", `true`, CodeInvalidRequest, MsgInvalidMessage, ""},
	{"missing jsonrpc", `{"method":"login","params":{},"id":4}`, CodeInvalidRequest, MsgInvalidMessage, `4`},
	{"jsonrpc 1.0, string id", `{"jsonrpc":"1.0","method":"login","id":"abc"}`, CodeInvalidRequest, MsgInvalidMessage, `"abc"`},
	{"jsonrpc as a number", `{"jsonrpc":2.0,"method":"login","id":5}`, CodeInvalidRequest, MsgInvalidMessage, `5`},
	{"jsonrpc null", `{"jsonrpc":null,"method":"login","id":-1}`, CodeInvalidRequest, MsgInvalidMessage, `-1`},
	{"jsonrpc with space", `{"jsonrpc":"2.0 ","method":"login","id":6}`, CodeInvalidRequest, MsgInvalidMessage, `6`},
	{"empty object", `{}`, CodeInvalidRequest, MsgInvalidMessage, ""},
	{"id object", `{"jsonrpc":"2.0","method":"login","id":{"n":1}}`, CodeInvalidRequest, MsgInvalidID, ""},
	{"id array", `{"jsonrpc":"2.0","method":"login","id":[1]}`, CodeInvalidRequest, MsgInvalidID, ""},
	{"id boolean", `{"jsonrpc":"2.0","method":"login","id":true}`, CodeInvalidRequest, MsgInvalidID, ""},
	{"id invalid and jsonrpc missing", `{"method":"login","id":false}`, CodeInvalidRequest, MsgInvalidID, ""},
	{"method number", `{"jsonrpc":"2.0","method":5,"id":6}`, CodeInvalidRequest, MsgInvalidMethod, `6`},
	{"method null", `{"jsonrpc":"2.0","method":null,"id":7}`, CodeInvalidRequest, MsgInvalidMethod, `7`},
	{"method object", `{"jsonrpc":"2.0","method":{},"id":"m"}`, CodeInvalidRequest, MsgInvalidMethod, `"m"`},
	{"method empty", `{"jsonrpc":"2.0","method":"","id":8}`, CodeInvalidRequest, MsgInvalidMethod, `8`},
	{"neither method nor result", `{"jsonrpc":"2.0","id":9}`, CodeInvalidRequest, MsgNoMethod, `9`},
	{"only params", `{"jsonrpc":"2.0","params":{},"id":"p"}`, CodeInvalidRequest, MsgNoMethod, `"p"`},
	{"method and result", `{"jsonrpc":"2.0","method":"login","result":{},"id":10}`, CodeInvalidRequest, MsgMethodAndResult, `10`},
	{"method and error", `{"jsonrpc":"2.0","method":"login","error":{},"id":11}`, CodeInvalidRequest, MsgMethodAndResult, `11`},
	{"params array", `{"jsonrpc":"2.0","method":"login","params":[1],"id":12}`, CodeInvalidParams, MsgParamsNotObject, `12`},
	{"params string, string id", `{"jsonrpc":"2.0","method":"login","params":"x","id":"u-1"}`, CodeInvalidParams, MsgParamsNotObject, `"u-1"`},
	{"params number, no id", `{"jsonrpc":"2.0","method":"login","params":3}`, CodeInvalidParams, MsgParamsNotObject, ""},
	{"params boolean", `{"jsonrpc":"2.0","method":"login","params":false,"id":13}`, CodeInvalidParams, MsgParamsNotObject, `13`},
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range decodeErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			_, id, err := Decode([]byte(tc.frame))
			if err == nil {
				t.Fatal("Decode accepted the frame")
			}
			wantEqual(t, "code", err.Code, tc.code)
			wantEqual(t, "message", err.Message, tc.msg)
			wantEqual(t, "id", string(id), tc.id)
			frame, encErr := EncodeError(id, err)
			if encErr != nil {
				t.Fatalf("EncodeError: %v", encErr)
			}
			wantEqual(t, "reply", string(frame), wantErrorFrame(tc.id, tc.code, tc.msg))
		})
	}
}

// Every error path of DecodeParams, reached from a real frame so that the
// reply's id is checked too.
var paramsErrorCases = []struct {
	name   string
	frame  string
	target func() any
	msg    string
	id     string
}{
	{"callID number", `{"jsonrpc":"2.0","method":"verto.invite","params":{"sdp":"v=0","dialogParams":{"callID":5}},"id":1}`,
		func() any { return &InviteParams{} }, "dialogParams.callID must be a string", `1`},
	{"dialogParams string", `{"jsonrpc":"2.0","method":"verto.invite","params":{"dialogParams":"c6f"},"id":"x-2"}`,
		func() any { return &InviteParams{} }, "dialogParams must be an object", `"x-2"`},
	{"sdp number", `{"jsonrpc":"2.0","method":"verto.answer","params":{"sdp":0},"id":3}`,
		func() any { return &AnswerParams{} }, "sdp must be a string", `3`},
	{"useVideo object", `{"jsonrpc":"2.0","method":"verto.invite","params":{"dialogParams":{"useVideo":{}}},"id":4}`,
		func() any { return &InviteParams{} }, "dialogParams.useVideo must be a boolean", `4`},
	{"recoverCall array", `{"jsonrpc":"2.0","method":"verto.attach","params":{"dialogParams":{"recoverCall":[]}},"id":5}`,
		func() any { return &AttachParams{} }, "dialogParams.recoverCall must be a boolean", `5`},
	{"dialog userVariables array", `{"jsonrpc":"2.0","method":"verto.invite","params":{"dialogParams":{"userVariables":[1]}},"id":6}`,
		func() any { return &InviteParams{} }, "dialogParams.userVariables must be an object", `6`},
	{"causeCode word", `{"jsonrpc":"2.0","method":"verto.bye","params":{"causeCode":"busy"}}`,
		func() any { return &ByeParams{} }, "causeCode must be an integer", ""},
	{"causeCode fraction", `{"jsonrpc":"2.0","method":"verto.bye","params":{"causeCode":16.5},"id":7}`,
		func() any { return &ByeParams{} }, "causeCode must be an integer", `7`},
	{"causeCode object", `{"jsonrpc":"2.0","method":"verto.bye","params":{"causeCode":{}},"id":8}`,
		func() any { return &ByeParams{} }, "causeCode must be an integer", `8`},
	{"eventChannel number", `{"jsonrpc":"2.0","method":"verto.subscribe","params":{"eventChannel":5},"id":"s"}`,
		func() any { return &SubscribeParams{} }, "eventChannel must be a string or an array of strings", `"s"`},
	{"eventChannel mixed array", `{"jsonrpc":"2.0","method":"verto.unsubscribe","params":{"eventChannel":["a",1]},"id":9}`,
		func() any { return &SubscribeParams{} }, "eventChannel must be a string or an array of strings", `9`},
	{"login number", `{"jsonrpc":"2.0","method":"login","params":{"login":1000,"passwd":"1234"},"id":10}`,
		func() any { return &LoginParams{} }, "login must be a string", `10`},
	{"loginParams array", `{"jsonrpc":"2.0","method":"login","params":{"loginParams":[]},"id":11}`,
		func() any { return &LoginParams{} }, "loginParams must be an object", `11`},
	{"msg string", `{"jsonrpc":"2.0","method":"verto.info","params":{"msg":"hi"},"id":12}`,
		func() any { return &InfoParams{} }, "msg must be an object", `12`},
	{"msg.to number", `{"jsonrpc":"2.0","method":"verto.info","params":{"msg":{"to":1}},"id":13}`,
		func() any { return &InfoParams{} }, "msg.to must be a string", `13`},
	{"dtmf number", `{"jsonrpc":"2.0","method":"verto.info","params":{"dtmf":1},"id":14}`,
		func() any { return &InfoParams{} }, "dtmf must be a string", `14`},
	{"action bool", `{"jsonrpc":"2.0","method":"verto.modify","params":{"action":true},"id":15}`,
		func() any { return &ModifyParams{} }, "action must be a string", `15`},
	{"localBroadcast object", `{"jsonrpc":"2.0","method":"verto.broadcast","params":{"localBroadcast":{}},"id":16}`,
		func() any { return &BroadcastParams{} }, "localBroadcast must be a boolean", `16`},
	{"eventChannel array for broadcast", `{"jsonrpc":"2.0","method":"verto.broadcast","params":{"eventChannel":["a"]},"id":17}`,
		func() any { return &BroadcastParams{} }, "eventChannel must be a string", `17`},
}

func TestDecodeParamsErrors(t *testing.T) {
	for _, tc := range paramsErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			m, _, derr := Decode([]byte(tc.frame))
			if derr != nil {
				t.Fatalf("Decode: %v", derr)
			}
			err := DecodeParams(m.Params, tc.target())
			if err == nil {
				t.Fatal("DecodeParams accepted the params")
			}
			want := "invalid params: " + tc.msg
			wantEqual(t, "error", [2]any{err.Code, err.Message}, [2]any{CodeInvalidParams, want})
			frame, encErr := EncodeError(m.ID, err)
			if encErr != nil {
				t.Fatalf("EncodeError: %v", encErr)
			}
			wantEqual(t, "reply", string(frame), wantErrorFrame(tc.id, CodeInvalidParams, want))
		})
	}
}

// DecodeParams on raw params that did not come through Decode.
func TestDecodeParamsRaw(t *testing.T) {
	cases := []struct {
		name   string
		raw    []byte
		target any
		msg    string // "" means success
	}{
		{"absent", nil, &InviteParams{}, ""},
		{"null", []byte("null"), &InviteParams{}, ""},
		{"empty object", []byte("{}"), &InviteParams{}, ""},
		{"into a map", []byte(`{"a":1}`), &map[string]any{}, ""},
		{"array", []byte("[1]"), &InviteParams{}, "invalid params: " + MsgParamsNotObject},
		{"string", []byte(`"x"`), &InviteParams{}, "invalid params: " + MsgParamsNotObject},
		{"malformed", []byte(`{"sdp":`), &InviteParams{}, "invalid params: malformed JSON"},
		{"target not an object type", []byte(`{"a":1}`), &[]int{}, "invalid params: params must be an array"},
		{"target not a pointer", []byte(`{}`), InviteParams{}, "invalid params: Unmarshal(non-pointer verto.InviteParams)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkParamsError(t, DecodeParams(tc.raw, tc.target), tc.msg)
		})
	}
}

func checkParamsError(t *testing.T, err *Error, msg string) {
	t.Helper()
	switch {
	case msg == "" && err != nil:
		t.Fatalf("unexpected error %v", err)
	case msg != "" && err == nil:
		t.Fatalf("no error, want %q", msg)
	case msg != "":
		wantEqual(t, "error", [2]any{err.Code, err.Message}, [2]any{CodeInvalidParams, msg})
	}
}
