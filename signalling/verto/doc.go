// Package verto is the wire layer of confd's Verto signalling: the JSON-RPC
// 2.0 dialect that FreeSWITCH's verto.js, Verto Communicator and
// @signalwire/js 1.x speak over a websocket.
//
// The package is pure. It holds the message and parameter types, the error
// codes and the Q.850 cause table, and it turns websocket text frames into
// [Message] values ([Decode], [DecodeParams]) and server replies and requests
// back into frames ([EncodeResult], [EncodeError], [EncodeRequest]). It does
// no I/O, starts no goroutines and keeps no state; the session loop that owns
// a connection decides what to answer and when.
//
// Wire rules the encoders enforce:
//   - every frame carries "jsonrpc":"2.0";
//   - request params and result values are always JSON objects (verto.js
//     reads params.callID without a guard);
//   - results get the connection's "sessid" as their last member unless the
//     handler already set one; errors never get it;
//   - the client's id is echoed byte for byte (integers from verto.js, UUID
//     strings from @signalwire/js), or null when there was none.
//
// Decoding is lenient where real clients are inconsistent: [FlexBool],
// [FlexInt] and [StringList] accept both the JSON and the stringly forms the
// clients send, and unknown fields are ignored everywhere.
package verto
