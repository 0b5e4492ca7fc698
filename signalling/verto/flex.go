package verto

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// FlexBool is a boolean that also accepts the forms Verto clients send:
// true/false, "true"/"false" (and FreeSWITCH's other truthy words "yes",
// "on", "t", "enabled", "active", "allow"), numbers (non-zero is true),
// numeric strings, and null (false). Any other string is false, as in
// FreeSWITCH's switch_true. Objects and arrays are rejected. It marshals as a
// plain JSON boolean.
type FlexBool bool

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexBool) UnmarshalJSON(b []byte) error {
	switch c := firstByte(b); {
	case c == 't' || c == 'f' || c == 'n':
		*f = FlexBool(c == 't')
	case c == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FlexBool(truthy(s))
	case c == '-' || (c >= '0' && c <= '9'):
		*f = FlexBool(truthy(string(b)))
	default:
		return typeError(b, reflect.TypeFor[FlexBool]())
	}
	return nil
}

// truthy mirrors FreeSWITCH's switch_true for strings.
func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t", "yes", "on", "enabled", "active", "allow":
		return true
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return err == nil && n != 0
}

// FlexInt is an integer that also accepts a string of digits, as clients
// send for causeCode or member ids ("16", " 8 ", "-1"). A JSON number must be
// integral; null and "" decode as 0. It marshals as a plain JSON number.
type FlexInt int

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexInt) UnmarshalJSON(b []byte) error {
	switch c := firstByte(b); {
	case c == 'n':
		*f = 0
		return nil
	case c == '"':
		return f.fromString(b)
	case c == '-' || (c >= '0' && c <= '9'):
		return f.fromNumber(b, string(b))
	}
	return typeError(b, reflect.TypeFor[FlexInt]())
}

func (f *FlexInt) fromString(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		*f = 0
		return nil
	}
	return f.fromNumber(b, s)
}

// fromNumber parses text as an integer, allowing an integral float form
// such as 16.0 or 1e2; raw is the JSON value for error reports.
func (f *FlexInt) fromNumber(raw []byte, text string) error {
	if n, err := strconv.ParseInt(text, 10, 0); err == nil {
		*f = FlexInt(n)
		return nil
	}
	x, err := strconv.ParseFloat(text, 64)
	if err != nil || x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
		return typeError(raw, reflect.TypeFor[FlexInt]())
	}
	*f = FlexInt(x)
	return nil
}

// Int returns f as an int.
func (f FlexInt) Int() int { return int(f) }

// StringList is a list of strings that also accepts a single string, as in
// verto.subscribe's eventChannel (verto.js sends a string, @signalwire/js an
// array). null decodes as an empty (nil) list and a null element as "";
// elements of any other non-string kind are rejected.
type StringList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *StringList) UnmarshalJSON(b []byte) error {
	var list []string
	switch firstByte(b) {
	case 'n':
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		list = []string{s}
	case '[':
		if json.Unmarshal(b, &list) != nil {
			return typeError(b, reflect.TypeFor[StringList]())
		}
	default:
		return typeError(b, reflect.TypeFor[StringList]())
	}
	*l = list
	return nil
}

// typeError reports a JSON value that does not fit t, in the form
// encoding/json uses so that DecodeParams can name the field.
func typeError(b []byte, t reflect.Type) error {
	return &json.UnmarshalTypeError{Value: jsonKind(b), Type: t}
}

// jsonKind names the kind of a JSON value as encoding/json does.
func jsonKind(b []byte) string {
	switch c := firstByte(b); {
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == '"':
		return "string"
	case c == 't' || c == 'f':
		return "bool"
	case c == 'n':
		return "null"
	}
	return "number"
}
