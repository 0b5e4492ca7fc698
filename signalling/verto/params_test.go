package verto

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestValidate(t *testing.T) {
	dialog := &DialogParams{CallID: "c6f"}
	cases := []struct {
		name string
		err  *Error
		want *Error
	}{
		{"nil dialog", (*DialogParams)(nil).Validate(), NewError(CodeSessionError, MsgDialogMissing)},
		{"empty callID", (&DialogParams{}).Validate(), NewError(CodeSessionError, MsgCallIDMissing)},
		{"dialog ok", dialog.Validate(), nil},
		{"invite without dialog", InviteParams{SDP: "v=0"}.Validate(), NewError(CodeSessionError, MsgDialogMissing)},
		{"invite without callID", InviteParams{SDP: "v=0", DialogParams: &DialogParams{}}.Validate(), NewError(CodeSessionError, MsgCallIDMissing)},
		{"invite without sdp", InviteParams{DialogParams: dialog}.Validate(), NewError(CodeSessionError, MsgSDPMissing)},
		{"invite ok", InviteParams{SDP: "v=0", DialogParams: dialog}.Validate(), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantEqual(t, "error", tc.err, tc.want) })
	}
}

func TestCallIDHelpers(t *testing.T) {
	d := &DialogParams{CallID: "c6f"}
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"invite", InviteParams{DialogParams: d}.CallID(), "c6f"},
		{"invite without dialog", InviteParams{}.CallID(), ""},
		{"bye", ByeParams{DialogParams: d}.CallID(), "c6f"},
		{"bye without dialog", ByeParams{}.CallID(), ""},
		{"info", InfoParams{DialogParams: d}.CallID(), "c6f"},
		{"modify", ModifyParams{DialogParams: d}.CallID(), "c6f"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantEqual(t, "CallID", tc.got, tc.want) })
	}
}

func TestHangupCause(t *testing.T) {
	cases := []struct {
		name     string
		params   ByeParams
		wantCode int
		wantName string
	}{
		{"nothing", ByeParams{}, 16, "NORMAL_CLEARING"},
		{"name wins over code", ByeParams{Cause: "USER_BUSY", CauseCode: 21}, 17, "USER_BUSY"},
		{"lower-case name", ByeParams{Cause: "call_rejected"}, 21, "CALL_REJECTED"},
		{"unknown name falls back to code", ByeParams{Cause: "WHATEVER", CauseCode: 27}, 27, "DESTINATION_OUT_OF_ORDER"},
		{"NONE falls back to code", ByeParams{Cause: "NONE", CauseCode: 487}, 487, "ORIGINATOR_CANCEL"},
		{"unknown code", ByeParams{CauseCode: 999}, 999, CauseUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, name := tc.params.HangupCause()
			wantEqual(t, "cause", []any{code, name}, []any{tc.wantCode, tc.wantName})
		})
	}
}

func TestRecover(t *testing.T) {
	yes, no := FlexBool(true), FlexBool(false)
	cases := []struct {
		name   string
		dialog *DialogParams
		want   bool
	}{
		{"nil dialog", nil, true},
		{"absent", &DialogParams{}, true},
		{"true", &DialogParams{RecoverCall: &yes}, true},
		{"false", &DialogParams{RecoverCall: &no}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantEqual(t, "Recover", tc.dialog.Recover(), tc.want) })
	}
}

func TestParamsSessid(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		want string
	}{
		{"present", `{"sessid":"S","x":1}`, "S"},
		{"absent", `{"x":1}`, ""},
		{"nil params", ``, ""},
		{"not a string", `{"sessid":5}`, ""},
		{"null", `{"sessid":null}`, ""},
		{"params not an object", `[1]`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var raw json.RawMessage
			if tc.raw != "" {
				raw = json.RawMessage(tc.raw)
			}
			wantEqual(t, "sessid", ParamsSessid(raw), tc.want)
		})
	}
}

func TestDescribeType(t *testing.T) {
	cases := []struct {
		t    reflect.Type
		want string
	}{
		{reflect.TypeFor[string](), "a string"},
		{reflect.TypeFor[bool](), "a boolean"},
		{reflect.TypeFor[int](), "a number"},
		{reflect.TypeFor[float64](), "a number"},
		{reflect.TypeFor[uint8](), "a number"},
		{reflect.TypeFor[DialogParams](), "an object"},
		{reflect.TypeFor[map[string]any](), "an object"},
		{reflect.TypeFor[[]string](), "an array"},
		{reflect.TypeFor[[2]int](), "an array"},
		{reflect.TypeFor[FlexBool](), "a boolean"},
		{reflect.TypeFor[FlexInt](), "an integer"},
		{reflect.TypeFor[StringList](), "a string or an array of strings"},
		{reflect.TypeFor[any](), "valid"},
	}
	for _, tc := range cases {
		t.Run(tc.t.String(), func(t *testing.T) { wantEqual(t, "describeType", describeType(tc.t), tc.want) })
	}
}
