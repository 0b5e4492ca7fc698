package verto

import (
	"encoding/json"
	"reflect"
	"testing"
)

// decodeParamsOK decodes m.Params into a new T and fails the test on error.
func decodeParamsOK[T any](t *testing.T, m Message) T {
	t.Helper()
	var p T
	if err := DecodeParams(m.Params, &p); err != nil {
		t.Fatalf("DecodeParams: %v", err)
	}
	return p
}

func wantEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// Real client frames, as verto.js, Verto Communicator and @signalwire/js
// send them (verto-spec.md §3–§9).
var clientFrames = []struct {
	name     string
	frame    string
	wantID   string // raw id, "" for none
	method   string // "" for a response
	response bool
	check    func(t *testing.T, m Message)
}{
	{
		name:   "verto.js empty login, integer id",
		frame:  `{"jsonrpc":"2.0","method":"login","params":{"sessid":"S"},"id":2}`,
		wantID: `2`, method: MethodLogin,
		check: func(t *testing.T, m Message) {
			p := decodeParamsOK[LoginParams](t, m)
			wantEqual(t, "HasLogin", p.HasLogin(), false)
			wantEqual(t, "Sessid", p.Sessid, "S")
			wantEqual(t, "ParamsSessid", ParamsSessid(m.Params), "S")
		},
	},
	{
		name: "verto.js credential login",
		frame: `{"jsonrpc":"2.0","method":"login","params":{"login":"1000@example.com","passwd":"1234",
			"loginParams":{},"userVariables":{"avatar":"x"},"sessid":"S"},"id":3}`,
		wantID: `3`, method: MethodLogin,
		check: func(t *testing.T, m Message) {
			p := decodeParamsOK[LoginParams](t, m)
			want := LoginParams{Login: "1000@example.com", Passwd: "1234", Sessid: "S",
				LoginParams: map[string]any{}, UserVariables: map[string]any{"avatar": "x"}}
			wantEqual(t, "params", p, want)
		},
	},
	{
		name:   "@signalwire/js login, UUID string id, no sessid",
		frame:  `{"jsonrpc":"2.0","id":"5e0ad3a4-3c5e-4d0a-9a3b-6f1c2d3e4f50","method":"login","params":{"login":"1000@example.com","passwd":"1234"}}`,
		wantID: `"5e0ad3a4-3c5e-4d0a-9a3b-6f1c2d3e4f50"`, method: MethodLogin,
		check: func(t *testing.T, m Message) {
			wantEqual(t, "ParamsSessid", ParamsSessid(m.Params), "")
			wantEqual(t, "HasLogin", decodeParamsOK[LoginParams](t, m).HasLogin(), true)
		},
	},
	{
		name:   "@signalwire/js subscribe, eventChannel array",
		frame:  `{"jsonrpc":"2.0","id":"a1b2","method":"verto.subscribe","params":{"eventChannel":["conference-liveArray.3500@example.com"],"sessid":"S"}}`,
		wantID: `"a1b2"`, method: MethodSubscribe,
		check: func(t *testing.T, m Message) {
			p := decodeParamsOK[SubscribeParams](t, m)
			wantEqual(t, "EventChannel", p.EventChannel, StringList{"conference-liveArray.3500@example.com"})
		},
	},
	{
		name:   "verto.js subscribe, eventChannel string with subParams",
		frame:  `{"jsonrpc":"2.0","method":"verto.subscribe","params":{"eventChannel":"conference-chat.3500@example.com","subParams":{"callID":"c6f"},"sessid":"S"},"id":11}`,
		wantID: `11`, method: MethodSubscribe,
		check: func(t *testing.T, m Message) {
			p := decodeParamsOK[SubscribeParams](t, m)
			wantEqual(t, "EventChannel", p.EventChannel, StringList{"conference-chat.3500@example.com"})
			wantEqual(t, "SubParams", string(p.SubParams), `{"callID":"c6f"}`)
		},
	},
	{
		name: "verto.js invite with the full dialog copy",
		frame: `{"jsonrpc":"2.0","method":"verto.invite","id":5,"params":{"sdp":"v=0\r\n","sessid":"S",
			"dialogParams":{"callID":"c6f","destination_number":"3500","caller_id_name":"Alice",
			"caller_id_number":"1000","remote_caller_id_name":"Outbound Call","remote_caller_id_number":"3500",
			"useVideo":false,"useStereo":false,"screenShare":false,"userVariables":{"email":"a@x"},
			"localTag":null,"useStream":null,"tag":"webcam","login":"1000@example.com","useMic":"any",
			"useSpeak":"any","videoParams":{},"useCamera":"default","outgoingBandwidth":"default"}}}`,
		wantID: `5`, method: MethodInvite,
		check: func(t *testing.T, m Message) {
			p := decodeParamsOK[InviteParams](t, m)
			want := &DialogParams{CallID: "c6f", DestinationNumber: "3500", CallerIDName: "Alice",
				CallerIDNumber: "1000", RemoteCallerIDName: "Outbound Call", RemoteCallerIDNumber: "3500",
				UserVariables: map[string]any{"email": "a@x"}}
			wantEqual(t, "dialogParams", p.DialogParams, want)
			wantEqual(t, "SDP", p.SDP, "v=0\r\n")
			wantEqual(t, "Validate", p.Validate(), (*Error)(nil))
			wantEqual(t, "Recover", p.DialogParams.Recover(), true)
		},
	},
	{
		name: "@signalwire/js invite with stringly booleans and recoverCall false",
		frame: `{"jsonrpc":"2.0","id":"u-5","method":"verto.invite","params":{"sdp":"v=0",
			"dialogParams":{"callID":"c7a","destination_number":"3500","useVideo":"true","useStereo":1,
			"screenShare":null,"recoverCall":"false","audio":true,"video":false,"attach":false,
			"iceServers":true,"localElement":null,"remoteElement":null}}}`,
		wantID: `"u-5"`, method: MethodInvite,
		check: func(t *testing.T, m Message) {
			d := decodeParamsOK[InviteParams](t, m).DialogParams
			wantEqual(t, "flags", []FlexBool{d.UseVideo, d.UseStereo, d.ScreenShare}, []FlexBool{true, true, false})
			wantEqual(t, "Recover", d.Recover(), false)
		},
	},
	{
		name:   "verto.bye with causeCode as a string",
		frame:  `{"jsonrpc":"2.0","method":"verto.bye","params":{"dialogParams":{"callID":"c6f"},"cause":"","causeCode":"17","sessid":"S"},"id":9}`,
		wantID: `9`, method: MethodBye,
		check: func(t *testing.T, m Message) {
			p := decodeParamsOK[ByeParams](t, m)
			code, name := p.HangupCause()
			wantEqual(t, "cause", []any{p.CallID(), code, name}, []any{"c6f", 17, "USER_BUSY"})
		},
	},
	{
		name:   "2023 verto.bye with cause name and numeric causeCode",
		frame:  `{"jsonrpc":"2.0","method":"verto.bye","params":{"dialogParams":{"callID":"c6f"},"cause":"NORMAL_CLEARING","causeCode":16,"sessid":"S"},"id":10}`,
		wantID: `10`, method: MethodBye,
		check: func(t *testing.T, m Message) {
			code, name := decodeParamsOK[ByeParams](t, m).HangupCause()
			wantEqual(t, "cause", []any{code, name}, []any{16, "NORMAL_CLEARING"})
		},
	},
	{
		name:   "2020 verto.bye with dialogParams only",
		frame:  `{"jsonrpc":"2.0","method":"verto.bye","params":{"dialogParams":{"callID":"c6f"},"sessid":"S"},"id":12}`,
		wantID: `12`, method: MethodBye,
		check: func(t *testing.T, m Message) {
			code, name := decodeParamsOK[ByeParams](t, m).HangupCause()
			wantEqual(t, "cause", []any{code, name}, []any{16, "NORMAL_CLEARING"})
		},
	},
	{
		name:   "client result reply to a server verto.answer",
		frame:  `{"jsonrpc":"2.0","id":60,"result":{"method":"verto.answer"}}`,
		wantID: `60`, response: true,
		check: func(t *testing.T, m Message) {
			wantEqual(t, "Result", string(m.Result), `{"method":"verto.answer"}`)
		},
	},
	{
		name:   "2023 client answering verto.ping",
		frame:  `{"jsonrpc":"2.0","id":57,"result":{"method":"verto.ping"}}`,
		wantID: `57`, response: true,
	},
	{
		name:   "client error reply",
		frame:  `{"jsonrpc":"2.0","id":58,"error":{"code":-32601,"message":"INVALID METHOD"}}`,
		wantID: `58`, response: true,
	},
	{
		name:   "verto.info DTMF",
		frame:  `{"jsonrpc":"2.0","method":"verto.info","params":{"dtmf":"*0","dialogParams":{"callID":"c6f"},"sessid":"S"},"id":13}`,
		wantID: `13`, method: MethodInfo,
		check: func(t *testing.T, m Message) {
			p := decodeParamsOK[InfoParams](t, m)
			wantEqual(t, "dtmf", []any{p.DTMF, p.CallID(), p.Msg}, []any{"*0", "c6f", (*InfoMsg)(nil)})
		},
	},
	{
		name:   "verto.info text message",
		frame:  `{"jsonrpc":"2.0","method":"verto.info","params":{"msg":{"to":"1001@example.com","body":"hi","from_msg_name":"Alice"},"dialogParams":{"callID":"c6f"}},"id":14}`,
		wantID: `14`, method: MethodInfo,
		check: func(t *testing.T, m Message) {
			p := decodeParamsOK[InfoParams](t, m)
			wantEqual(t, "msg", p.Msg, &InfoMsg{To: "1001@example.com", Body: "hi", FromMsgName: "Alice"})
		},
	},
	{
		name:   "verto.modify hold",
		frame:  `{"jsonrpc":"2.0","method":"verto.modify","params":{"action":"hold","dialogParams":{"callID":"c6f"},"sessid":"S"},"id":15}`,
		wantID: `15`, method: MethodModify,
		check: func(t *testing.T, m Message) {
			p := decodeParamsOK[ModifyParams](t, m)
			wantEqual(t, "modify", []string{p.Action, p.CallID()}, []string{ActionHold, "c6f"})
		},
	},
	{
		name: "liveArray bootstrap broadcast",
		frame: `{"jsonrpc":"2.0","method":"verto.broadcast","id":16,"params":{"eventChannel":"conference-liveArray.3500@example.com",
			"data":{"liveArray":{"command":"bootstrap","context":"conference-liveArray.3500@example.com","name":"3500"}},"sessid":"S"}}`,
		wantID: `16`, method: MethodBroadcast,
		check: func(t *testing.T, m Message) {
			p := decodeParamsOK[BroadcastParams](t, m)
			wantEqual(t, "channel", p.EventChannel, "conference-liveArray.3500@example.com")
			wantEqual(t, "data valid", json.Valid(p.Data), true)
		},
	},
	{
		name:   "conf-control with localBroadcast as a string",
		frame:  `{"jsonrpc":"2.0","method":"verto.broadcast","params":{"eventChannel":"conference-mod.3500@example.com","data":{"application":"conf-control","command":"tmute","id":8,"value":null},"localBroadcast":"true"},"id":17}`,
		wantID: `17`, method: MethodBroadcast,
		check: func(t *testing.T, m Message) {
			wantEqual(t, "localBroadcast", decodeParamsOK[BroadcastParams](t, m).LocalBroadcast, FlexBool(true))
		},
	},
	{
		name:   "request without id",
		frame:  `{"jsonrpc":"2.0","method":"verto.ping","params":{}}`,
		method: MethodPing,
	},
	{
		name:   "null id and null params",
		frame:  ` {"jsonrpc":"2.0","method":"echo","params":null,"id":null} `,
		method: MethodEcho,
		check: func(t *testing.T, m Message) {
			wantEqual(t, "Params", m.Params, json.RawMessage(nil))
			wantEqual(t, "empty params", decodeParamsOK[LoginParams](t, m), LoginParams{})
		},
	},
	{
		name:   "escaped version string and float id",
		frame:  `{"jsonrpc":"2\u002e0","method":"login","id":1.5e3}`,
		wantID: `1.5e3`, method: MethodLogin,
	},
}

func TestDecodeClientFrames(t *testing.T) {
	for _, tc := range clientFrames {
		t.Run(tc.name, func(t *testing.T) {
			m, id, err := Decode([]byte(tc.frame))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			wantEqual(t, "ID", string(m.ID), tc.wantID)
			wantEqual(t, "returned id", string(id), tc.wantID)
			wantEqual(t, "Method", m.Method, tc.method)
			wantEqual(t, "IsRequest", m.IsRequest(), !tc.response)
			wantEqual(t, "IsResponse", m.IsResponse(), tc.response)
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

// TestDecodeDoesNotAlias checks that a decoded Message stays valid when the
// caller reuses its frame buffer (websocket libraries do).
func TestDecodeDoesNotAlias(t *testing.T) {
	frame := []byte(`{"jsonrpc":"2.0","method":"login","params":{"sessid":"S"},"id":2}`)
	m, _, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	for i := range frame {
		frame[i] = 'x'
	}
	wantEqual(t, "Params", string(m.Params), `{"sessid":"S"}`)
	wantEqual(t, "ID", string(m.ID), `2`)
}
