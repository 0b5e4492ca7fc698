package verto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// EncodeResult writes {"jsonrpc":"2.0","id":<id>,"result":<result>}. The
// result must marshal to a JSON object; a nil result (or one that marshals to
// null) is written as {}. When sessid != "" and the object has no top-level
// "sessid" member, "sessid":"<sessid>" is added as its last member. A nil id
// is written as null.
func EncodeResult(id json.RawMessage, result any, sessid string) ([]byte, error) {
	idJSON, err := encodeID(id)
	if err != nil {
		return nil, err
	}
	obj, err := marshalObject(result)
	if err != nil {
		return nil, err
	}
	if obj, err = injectSessid(obj, sessid); err != nil {
		return nil, err
	}
	return envelope(idJSON, "result", obj), nil
}

// EncodeError writes {"jsonrpc":"2.0","id":<id or null>,"error":{…}}. Error
// objects never get a sessid.
func EncodeError(id json.RawMessage, e *Error) ([]byte, error) {
	if e == nil {
		return nil, ErrNilError
	}
	idJSON, err := encodeID(id)
	if err != nil {
		return nil, err
	}
	obj, err := e.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return envelope(idJSON, "error", obj), nil
}

// EncodeRequest writes a server-originated request
// {"jsonrpc":"2.0","id":<id>,"method":<method>,"params":{…}}. params must
// marshal to a JSON object; nil (or null) is written as {}.
func EncodeRequest(id uint64, method string, params any) ([]byte, error) {
	if method == "" {
		return nil, ErrEmptyMethod
	}
	obj, err := marshalObject(params)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(`{"jsonrpc":"2.0","id":` + strconv.FormatUint(id, 10) + `,"method":`)
	b.Write(mustString(method))
	b.WriteString(`,"params":`)
	b.Write(obj)
	b.WriteByte('}')
	return b.Bytes(), nil
}

// envelope assembles {"jsonrpc":"2.0","id":<id>,"<key>":<body>}.
func envelope(id []byte, key string, body []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(id) + len(body) + 40)
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	b.Write(id)
	b.WriteString(`,"` + key + `":`)
	b.Write(body)
	b.WriteByte('}')
	return b.Bytes()
}

// encodeID returns the JSON for a reply id: the id itself when it is a JSON
// number or string, null when it is empty or null.
func encodeID(id json.RawMessage) ([]byte, error) {
	id = bytes.TrimSpace(id)
	if len(id) == 0 || isNull(id) {
		return []byte("null"), nil
	}
	if !isScalarID(id) {
		return nil, fmt.Errorf("%w: %.40q", ErrInvalidID, id)
	}
	return id, nil
}

// marshalObject marshals v, which must give a JSON object; nil and null
// give {}.
func marshalObject(v any) ([]byte, error) {
	if v == nil {
		return []byte("{}"), nil
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("verto: marshal %T: %w", v, err)
	}
	switch out[0] {
	case '{':
		return out, nil
	case 'n':
		return []byte("{}"), nil
	}
	return nil, fmt.Errorf("%w: got %T", ErrNotObject, v)
}

// injectSessid appends "sessid":<sessid> to the compact object obj unless
// sessid is empty or obj already has a top-level sessid member.
func injectSessid(obj []byte, sessid string) ([]byte, error) {
	if sessid == "" {
		return obj, nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(obj, &members); err != nil {
		return nil, fmt.Errorf("verto: result: %w", err)
	}
	if _, ok := members["sessid"]; ok {
		return obj, nil
	}
	var b bytes.Buffer
	b.Write(obj[:len(obj)-1]) // drop the closing brace
	if len(members) > 0 {
		b.WriteByte(',')
	}
	b.WriteString(`"sessid":`)
	b.Write(mustString(sessid))
	b.WriteByte('}')
	return b.Bytes(), nil
}
