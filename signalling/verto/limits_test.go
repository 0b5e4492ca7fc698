package verto

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"Alice", 64, "Alice"},
		{"Alice", 3, "Ali"},
		{"Zoë Ångström", 3, "Zoë"},
		{"日本語の名前", 2, "日本"},
		{"Alice", 0, "Alice"},
		{"", 3, ""},
		{"a\xffb", 2, "a\xff"}, // an invalid byte counts as one character
	} {
		if got := Clip(tc.in, tc.n); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestDialogLimit(t *testing.T) {
	l := Limits{NameChars: 4, IDBytes: 8, UserVariablesBytes: 20}
	p := DialogParams{CallID: "c1", CallerIDName: "Alexandra", CallerIDNumber: "1000200", RemoteCallerIDName: "Outbound", UserVariables: map[string]any{"a": "b"}}
	if err := p.Limit(l); err != nil {
		t.Fatal(err)
	}
	if p.CallerIDName != "Alex" || p.CallerIDNumber != "1000" || p.RemoteCallerIDName != "Outb" {
		t.Errorf("not clipped: %+v", p)
	}
	p = DialogParams{CallID: "123456789"}
	if err := p.Limit(l); err == nil || err.Code != CodeInvalidParams || err.Message != "invalid params: dialogParams.callID is longer than 8 bytes" {
		t.Errorf("long callID: %v", err)
	}
	var uv map[string]any
	_ = json.Unmarshal([]byte(`{"email":"`+strings.Repeat("x", 20)+`"}`), &uv)
	p = DialogParams{CallID: "c1", UserVariables: uv}
	if err := p.Limit(l); err == nil || err.Code != CodeInvalidParams || err.Message != "invalid params: dialogParams.userVariables is larger than 20 bytes" {
		t.Errorf("large userVariables: %v", err)
	}
	// Zero limits change nothing.
	p = DialogParams{CallID: strings.Repeat("c", 1000), CallerIDName: strings.Repeat("n", 1000), UserVariables: uv}
	if err := p.Limit(Limits{}); err != nil || len(p.CallerIDName) != 1000 {
		t.Errorf("zero limits: %v, name %d", err, len(p.CallerIDName))
	}
}
