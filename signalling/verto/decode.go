package verto

import (
	"bytes"
	"encoding/json"
)

// Message is one decoded JSON-RPC 2.0 frame: a request (Method set) or a
// response to a server request (Result or Error set).
type Message struct {
	// ID is the raw id as received (a JSON number or string); nil when the
	// frame had no id or "id":null.
	ID     json.RawMessage
	Method string
	// Params is the raw params object; nil when absent or null.
	Params json.RawMessage
	Result json.RawMessage
	Error  json.RawMessage
}

// IsRequest reports whether m is a client request.
func (m *Message) IsRequest() bool { return m.Method != "" }

// IsResponse reports whether m answers a server request. The server must
// accept and ignore these (spec §1).
func (m *Message) IsResponse() bool {
	return m.Method == "" && (m.Result != nil || m.Error != nil)
}

// Decode parses one websocket text frame. On failure it returns an *Error
// ready to send and the id to send it with (nil means "id":null):
//
//   - not JSON or truncated: -32700 "Parse error";
//   - a JSON array (batch): -32600 "Batch requests are not supported";
//   - not an object, or "jsonrpc" missing or other than "2.0": -32600
//     "Invalid message";
//   - an id that is not a number, string or null: -32600 (id null);
//   - a method that is not a non-empty string: -32600;
//   - neither method nor result/error, or method beside result/error: -32600;
//   - params present but not an object: -32602 "params must be an object".
//
// "params":null counts as absent. A response (result or error) is accepted
// whatever its result/error value is, and with or without an id.
func Decode(frame []byte) (Message, json.RawMessage, *Error) {
	obj, err := decodeObject(frame)
	if err != nil {
		return Message{}, nil, err
	}
	id, err := decodeID(obj["id"])
	if err != nil {
		return Message{}, nil, err
	}
	msg, err := decodeBody(obj)
	if err != nil {
		return Message{}, id, err
	}
	msg.ID = id
	return msg, id, nil
}

// decodeObject checks that frame is one JSON object and splits its members.
func decodeObject(frame []byte) (map[string]json.RawMessage, *Error) {
	if !json.Valid(frame) {
		return nil, NewError(CodeParseError, MsgParseError)
	}
	switch firstByte(frame) {
	case '{':
	case '[':
		return nil, NewError(CodeInvalidRequest, MsgBatch)
	default:
		return nil, NewError(CodeInvalidRequest, MsgInvalidMessage)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(frame, &obj); err != nil {
		return nil, NewError(CodeParseError, MsgParseError)
	}
	return obj, nil
}

// decodeID validates a raw id; absent and null both give nil.
func decodeID(raw json.RawMessage) (json.RawMessage, *Error) {
	if raw == nil || isNull(raw) {
		return nil, nil
	}
	if !isScalarID(raw) {
		return nil, NewError(CodeInvalidRequest, MsgInvalidID)
	}
	return raw, nil
}

// decodeBody checks jsonrpc, method, params and result/error.
func decodeBody(obj map[string]json.RawMessage) (Message, *Error) {
	if !isVersion20(obj["jsonrpc"]) {
		return Message{}, NewError(CodeInvalidRequest, MsgInvalidMessage)
	}
	m := Message{Result: obj["result"], Error: obj["error"]}
	rawMethod, hasMethod := obj["method"]
	if !hasMethod {
		return decodeResponse(m)
	}
	if m.Result != nil || m.Error != nil {
		return Message{}, NewError(CodeInvalidRequest, MsgMethodAndResult)
	}
	if err := json.Unmarshal(rawMethod, &m.Method); err != nil || m.Method == "" {
		return Message{}, NewError(CodeInvalidRequest, MsgInvalidMethod)
	}
	params, perr := decodeRequestParams(obj["params"])
	m.Params = params
	return m, perr
}

// decodeResponse accepts a frame without a method if it has result or error.
func decodeResponse(m Message) (Message, *Error) {
	if m.Result == nil && m.Error == nil {
		return Message{}, NewError(CodeInvalidRequest, MsgNoMethod)
	}
	return m, nil
}

// decodeRequestParams accepts an object, or nothing (absent or null).
func decodeRequestParams(raw json.RawMessage) (json.RawMessage, *Error) {
	if raw == nil || isNull(raw) {
		return nil, nil
	}
	if firstByte(raw) != '{' {
		return nil, NewError(CodeInvalidParams, MsgParamsNotObject)
	}
	return raw, nil
}

// isVersion20 reports whether raw is a JSON string equal to "2.0", however
// it is escaped (e.g. "2\u002e0").
func isVersion20(raw json.RawMessage) bool {
	var s string
	return firstByte(raw) == '"' && json.Unmarshal(raw, &s) == nil && s == "2.0"
}

// isScalarID reports whether raw is a valid JSON number or string.
func isScalarID(raw json.RawMessage) bool {
	switch c := firstByte(raw); {
	case c == '"', c == '-', c >= '0' && c <= '9':
		return json.Valid(raw)
	}
	return false
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// firstByte returns the first non-space byte of b, or 0.
func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}
