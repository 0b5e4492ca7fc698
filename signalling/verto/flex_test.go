package verto

import (
	"encoding/json"
	"testing"
)

func TestFlexBool(t *testing.T) {
	cases := []struct {
		in      string
		want    FlexBool
		wantErr bool
	}{
		{`true`, true, false}, {`false`, false, false}, {`null`, false, false},
		{`"true"`, true, false}, {`"false"`, false, false}, {`"TRUE"`, true, false},
		{`"yes"`, true, false}, {`"on"`, true, false}, {`"no"`, false, false},
		{`""`, false, false}, {`"1"`, true, false}, {`"0"`, false, false}, {`"maybe"`, false, false},
		{`1`, true, false}, {`0`, false, false}, {`-1`, true, false}, {`0.0`, false, false},
		{`0.0e10`, false, false}, {`2.5`, true, false},
		{`{}`, false, true}, {`[]`, false, true}, {`[true]`, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			var v struct {
				B FlexBool `json:"b"`
			}
			err := json.Unmarshal([]byte(`{"b":`+tc.in+`}`), &v)
			wantEqual(t, "error?", err != nil, tc.wantErr)
			wantEqual(t, "value", v.B, tc.want)
		})
	}
}

func TestFlexInt(t *testing.T) {
	cases := []struct {
		in      string
		want    FlexInt
		wantErr bool
	}{
		{`16`, 16, false}, {`"16"`, 16, false}, {`" 8 "`, 8, false}, {`"-1"`, -1, false},
		{`-7`, -7, false}, {`0`, 0, false}, {`null`, 0, false}, {`""`, 0, false},
		{`16.0`, 16, false}, {`1e2`, 100, false}, {`"0008"`, 8, false},
		{`16.5`, 0, true}, {`"abc"`, 0, true}, {`"16x"`, 0, true}, {`true`, 0, true},
		{`{}`, 0, true}, {`[16]`, 0, true}, {`1e300`, 0, true}, {`"NaN"`, 0, true}, {`"Inf"`, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			var v struct {
				N FlexInt `json:"n"`
			}
			err := json.Unmarshal([]byte(`{"n":`+tc.in+`}`), &v)
			wantEqual(t, "error?", err != nil, tc.wantErr)
			wantEqual(t, "value", v.N, tc.want)
		})
	}
}

func TestStringList(t *testing.T) {
	cases := []struct {
		in      string
		want    StringList
		wantErr bool
	}{
		{`"a"`, StringList{"a"}, false},
		{`["a","b"]`, StringList{"a", "b"}, false},
		{`[]`, StringList{}, false},
		{`null`, nil, false},
		{`5`, nil, true},
		{`{}`, nil, true},
		{`["a",1]`, nil, true},
		{`[null]`, StringList{""}, false},
		{`true`, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			var v struct {
				L StringList `json:"l"`
			}
			err := json.Unmarshal([]byte(`{"l":`+tc.in+`}`), &v)
			wantEqual(t, "error?", err != nil, tc.wantErr)
			wantEqual(t, "value", v.L, tc.want)
		})
	}
}

// The flexible types marshal in their plain JSON form.
func TestFlexMarshal(t *testing.T) {
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"bool", FlexBool(true), `true`},
		{"int", FlexInt(-16), `-16`},
		{"list", StringList{"a"}, `["a"]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "json", string(got), tc.want)
		})
	}
}
