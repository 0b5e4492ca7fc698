package signalling

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// rpcCase is one frame sent on the shared connection and the exact frame
// the server must answer with ("$S" stands for the session's sessid). An
// empty want means no reply at all.
type rpcCase struct {
	name   string
	frame  string
	binary bool
	want   string
	login  bool // a successful login: verto.clientReady follows the reply
}

// TestJSONRPCErrors sends every JSON-RPC error path on one connection, in
// order, and checks the exact reply and that the session lives on.
func TestJSONRPCErrors(t *testing.T) {
	env := startServer(t, func(c *Config) { c.MaxMessageBytes = 4096 })
	ctx := testCtx(t, 30*time.Second)
	c := dialRaw(ctx, t, env.url, "sessid-jsonrpc")
	const S = "sessid-jsonrpc"
	huge := `{"jsonrpc":"2.0","method":"echo","id":77,"params":{"pad":"` + strings.Repeat("x", 5000) + `"}}`
	authRequired := func(id string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"error":{"code":-32000,"message":"Authentication Required"}}`
	}
	noMethod := func(id string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"error":{"code":-32601,"message":"Invalid Method, Missing Method or Permission Denied"}}`
	}
	const sdp = `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n`
	cases := []rpcCase{
		// Framing errors, before login: decoding comes before the auth gate.
		{name: "malformed JSON", frame: `{"jsonrpc":"2.0","method":"echo","id":1`, want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`},
		{name: "not JSON", frame: `hello`, want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`},
		{name: "empty text frame", frame: ``, want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`},
		{name: "batch", frame: `[{"jsonrpc":"2.0","method":"echo","params":{},"id":2}]`, want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Batch requests are not supported"}}`},
		{name: "scalar", frame: `42`, want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid message"}}`},
		{name: "missing jsonrpc", frame: `{"method":"echo","params":{},"id":3}`, want: `{"jsonrpc":"2.0","id":3,"error":{"code":-32600,"message":"Invalid message"}}`},
		{name: "jsonrpc 1.0", frame: `{"jsonrpc":"1.0","method":"echo","params":{},"id":"four"}`, want: `{"jsonrpc":"2.0","id":"four","error":{"code":-32600,"message":"Invalid message"}}`},
		{name: "jsonrpc a number", frame: `{"jsonrpc":2.0,"method":"echo","params":{},"id":5}`, want: `{"jsonrpc":"2.0","id":5,"error":{"code":-32600,"message":"Invalid message"}}`},
		{name: "id an object", frame: `{"jsonrpc":"2.0","method":"echo","params":{},"id":{"n":6}}`, want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid message: id must be a number, a string or null"}}`},
		{name: "id a boolean", frame: `{"jsonrpc":"2.0","method":"echo","params":{},"id":true}`, want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid message: id must be a number, a string or null"}}`},
		{name: "id an array", frame: `{"jsonrpc":"2.0","method":"echo","params":{},"id":[7]}`, want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid message: id must be a number, a string or null"}}`},
		{name: "method not a string", frame: `{"jsonrpc":"2.0","method":8,"id":8}`, want: `{"jsonrpc":"2.0","id":8,"error":{"code":-32600,"message":"Invalid message: method must be a non-empty string"}}`},
		{name: "no method", frame: `{"jsonrpc":"2.0","id":9}`, want: `{"jsonrpc":"2.0","id":9,"error":{"code":-32600,"message":"Invalid message: no method, result or error"}}`},
		{name: "method and result", frame: `{"jsonrpc":"2.0","method":"echo","result":{},"id":10}`, want: `{"jsonrpc":"2.0","id":10,"error":{"code":-32600,"message":"Invalid message: method together with result or error"}}`},
		{name: "params an array", frame: `{"jsonrpc":"2.0","method":"echo","params":[1,2],"id":11}`, want: `{"jsonrpc":"2.0","id":11,"error":{"code":-32602,"message":"params must be an object"}}`},
		{name: "params a string", frame: `{"jsonrpc":"2.0","method":"login","params":"1000","id":12}`, want: `{"jsonrpc":"2.0","id":12,"error":{"code":-32602,"message":"params must be an object"}}`},
		{name: "binary frame", binary: true, frame: `{"jsonrpc":"2.0","method":"echo","params":{},"id":13}`, want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`},
		{name: "frame too large", frame: huge, want: fmt.Sprintf(`{"jsonrpc":"2.0","id":null,"error":{"code":%d,"message":"Message too large"}}`, CodeTooLarge)},
		// Replies to server requests are ignored silently.
		{name: "client result", frame: `{"jsonrpc":"2.0","id":14,"result":{"method":"verto.ping"}}`},
		{name: "client error", frame: `{"jsonrpc":"2.0","id":15,"error":{"code":-32000,"message":"no"}}`},
		{name: "client result without id", frame: `{"jsonrpc":"2.0","result":{}}`},

		// The auth gate.
		{name: "echo before login", frame: `{"jsonrpc":"2.0","method":"echo","params":{"a":1},"id":16}`, want: authRequired("16")},
		{name: "invite before login", frame: `{"jsonrpc":"2.0","method":"verto.invite","params":{},"id":17}`, want: authRequired("17")},
		{name: "unknown method before login", frame: `{"jsonrpc":"2.0","method":"no.such","id":18}`, want: authRequired("18")},
		{name: "verto.login before login", frame: `{"jsonrpc":"2.0","method":"verto.login","params":{"login":"1000","passwd":"1234"},"id":19}`, want: authRequired("19")},
		{name: "jsapi before login", frame: `{"jsonrpc":"2.0","method":"jsapi","params":{},"id":20}`, want: authRequired("20")},
		{name: "notification before login", frame: `{"jsonrpc":"2.0","method":"echo","params":{}}`, want: authRequired("null")},
		{name: "login without params", frame: `{"jsonrpc":"2.0","method":"login","id":21}`, want: authRequired("21")},
		{name: "login with sessid only", frame: `{"jsonrpc":"2.0","method":"login","params":{"sessid":"` + S + `"},"id":"22"}`, want: authRequired(`"22"`)},
		{name: "login with passwd only", frame: `{"jsonrpc":"2.0","method":"login","params":{"passwd":"1234","sessid":"` + S + `"},"id":23}`, want: authRequired("23")},
		{name: "login params of wrong shape", frame: `{"jsonrpc":"2.0","method":"login","params":{"login":1000},"id":24}`, want: `{"jsonrpc":"2.0","id":24,"error":{"code":-32602,"message":"invalid params: login must be a string"}}`},
		{name: "missing passwd", frame: `{"jsonrpc":"2.0","method":"login","params":{"login":"1000@example.com","sessid":"` + S + `"},"id":25}`, want: `{"jsonrpc":"2.0","id":25,"error":{"code":-32001,"message":"Missing passwd"}}`},
		{name: "wrong password", frame: `{"jsonrpc":"2.0","method":"login","params":{"login":"1000@example.com","passwd":"nope","sessid":"` + S + `"},"id":26}`, want: `{"jsonrpc":"2.0","id":26,"error":{"code":-32001,"message":"Authentication Failure"}}`},
		{name: "unknown user", frame: `{"jsonrpc":"2.0","method":"login","params":{"login":"9999@example.com","passwd":"1234","sessid":"` + S + `"},"id":27}`, want: `{"jsonrpc":"2.0","id":27,"error":{"code":-32001,"message":"Login Incorrect"}}`},
		{name: "login", login: true, frame: `{"jsonrpc":"2.0","method":"login","params":{"login":"1001@example.com","passwd":"4321","loginParams":{},"userVariables":{},"sessid":"` + S + `"},"id":28}`, want: `{"jsonrpc":"2.0","id":28,"result":{"message":"logged in","sessid":"$S"}}`},

		// After login.
		{name: "unknown method", frame: `{"jsonrpc":"2.0","method":"verto.nosuch","params":{},"id":29}`, want: noMethod("29")},
		{name: "verto.login", frame: `{"jsonrpc":"2.0","method":"verto.login","params":{},"id":30}`, want: noMethod("30")},
		{name: "jsapi", frame: `{"jsonrpc":"2.0","method":"jsapi","params":{"command":"fsapi","data":{"cmd":"status"}},"id":31}`, want: noMethod("31")},
		{name: "fsapi", frame: `{"jsonrpc":"2.0","method":"fsapi","params":{"cmd":"status","arg":""},"id":"fs"}`, want: noMethod(`"fs"`)},
		{name: "params not an object after login", frame: `{"jsonrpc":"2.0","method":"verto.bye","params":true,"id":32}`, want: `{"jsonrpc":"2.0","id":32,"error":{"code":-32602,"message":"params must be an object"}}`},
		{name: "dialogParams a string", frame: `{"jsonrpc":"2.0","method":"verto.invite","params":{"sdp":"` + sdp + `","dialogParams":"3500"},"id":33}`, want: `{"jsonrpc":"2.0","id":33,"error":{"code":-32602,"message":"invalid params: dialogParams must be an object"}}`},
		{name: "callID a number", frame: `{"jsonrpc":"2.0","method":"verto.bye","params":{"dialogParams":{"callID":5}},"id":34}`, want: `{"jsonrpc":"2.0","id":34,"error":{"code":-32602,"message":"invalid params: dialogParams.callID must be a string"}}`},
		{name: "eventChannel an object", frame: `{"jsonrpc":"2.0","method":"verto.subscribe","params":{"eventChannel":{}},"id":35}`, want: `{"jsonrpc":"2.0","id":35,"error":{"code":-32602,"message":"invalid params: eventChannel must be a string or an array of strings"}}`},
		{name: "bye unknown call", frame: `{"jsonrpc":"2.0","method":"verto.bye","params":{"dialogParams":{"callID":"nope"},"cause":"NORMAL_CLEARING"},"id":36}`, want: `{"jsonrpc":"2.0","id":36,"error":{"code":-32002,"message":"CALL DOES NOT EXIST","callID":"nope"}}`},
		{name: "bye without dialogParams", frame: `{"jsonrpc":"2.0","method":"verto.bye","params":{},"id":37}`, want: `{"jsonrpc":"2.0","id":37,"error":{"code":-32002,"message":"CALL DOES NOT EXIST"}}`},
		{name: "invite without dialogParams", frame: `{"jsonrpc":"2.0","method":"verto.invite","params":{"sdp":"` + sdp + `"},"id":38}`, want: `{"jsonrpc":"2.0","id":38,"error":{"code":-32002,"message":"Dialog data missing"}}`},
		{name: "invite without params", frame: `{"jsonrpc":"2.0","method":"verto.invite","id":39}`, want: `{"jsonrpc":"2.0","id":39,"error":{"code":-32002,"message":"Dialog data missing"}}`},
		{name: "invite without callID", frame: `{"jsonrpc":"2.0","method":"verto.invite","params":{"sdp":"` + sdp + `","dialogParams":{"destination_number":"3500"}},"id":40}`, want: `{"jsonrpc":"2.0","id":40,"error":{"code":-32002,"message":"CallID missing"}}`},
		{name: "invite without sdp", frame: `{"jsonrpc":"2.0","method":"verto.invite","params":{"dialogParams":{"callID":"c1","destination_number":"3500"}},"id":41}`, want: `{"jsonrpc":"2.0","id":41,"error":{"code":-32002,"message":"SDP missing"}}`},
		{name: "invite to unknown room", frame: `{"jsonrpc":"2.0","method":"verto.invite","params":{"sdp":"` + sdp + `","dialogParams":{"callID":"c2","destination_number":"9999"}},"id":42}`, want: `{"jsonrpc":"2.0","id":42,"error":{"code":-32002,"message":"CALL ERROR","callID":"c2","cause":"NO_ROUTE_DESTINATION","causeCode":3,"reason":"no such room: \"9999\""}}`},
		{name: "modify unknown call", frame: `{"jsonrpc":"2.0","method":"verto.modify","params":{"action":"hold","dialogParams":{"callID":"c3"}},"id":43}`, want: `{"jsonrpc":"2.0","id":43,"error":{"code":-32002,"message":"CALL DOES NOT EXIST","callID":"c3"}}`},
		{name: "attach unknown call", frame: `{"jsonrpc":"2.0","method":"verto.attach","params":{"sdp":"` + sdp + `","dialogParams":{"callID":"c4"}},"id":44}`, want: `{"jsonrpc":"2.0","id":44,"error":{"code":-32002,"message":"CALL DOES NOT EXIST","callID":"c4"}}`},
		{name: "answer unknown call", frame: `{"jsonrpc":"2.0","method":"verto.answer","params":{"sdp":"` + sdp + `","dialogParams":{"callID":"c5"}},"id":45}`, want: `{"jsonrpc":"2.0","id":45,"error":{"code":-32002,"message":"CALL DOES NOT EXIST","callID":"c5"}}`},
		{name: "pin unknown call", frame: `{"jsonrpc":"2.0","method":"confd.pin","params":{"callID":"c6","slot":0,"memberID":1},"id":46}`, want: `{"jsonrpc":"2.0","id":46,"error":{"code":-32002,"message":"CALL DOES NOT EXIST","callID":"c6"}}`},
		{name: "echo without params", frame: `{"jsonrpc":"2.0","method":"echo","id":47}`, want: `{"jsonrpc":"2.0","id":47,"error":{"code":-32002,"message":"Params data missing"}}`},
		{name: "echo with null params", frame: `{"jsonrpc":"2.0","method":"echo","params":null,"id":48}`, want: `{"jsonrpc":"2.0","id":48,"error":{"code":-32002,"message":"Params data missing"}}`},
		{name: "info message without body", frame: `{"jsonrpc":"2.0","method":"verto.info","params":{"msg":{"to":"1000@example.com"}},"id":49}`, want: `{"jsonrpc":"2.0","id":49,"error":{"message":"INVALID MESSAGE to and body params required"}}`},
		{name: "subscribe without eventChannel", frame: `{"jsonrpc":"2.0","method":"verto.subscribe","params":{},"id":50}`, want: `{"jsonrpc":"2.0","id":50,"error":{}}`},
		{name: "unsubscribe not subscribed", frame: `{"jsonrpc":"2.0","method":"verto.unsubscribe","params":{"eventChannel":"x.y"},"id":51}`, want: `{"jsonrpc":"2.0","id":51,"error":{"notSubscribedChannels":["x.y"]}}`},
		{name: "broadcast without eventChannel", frame: `{"jsonrpc":"2.0","method":"verto.broadcast","params":{"data":{}},"id":52}`, want: `{"jsonrpc":"2.0","id":52,"result":{"message":"eventChannel not specified.","code":-32002,"sessid":"$S"}}`},
		{name: "broadcast not allowed", frame: `{"jsonrpc":"2.0","method":"verto.broadcast","params":{"eventChannel":"conference-chat.3500@example.com","data":{}},"id":53}`, want: `{"jsonrpc":"2.0","id":53,"result":{"message":"Permission Denied.","code":-32002,"sessid":"$S"}}`},
		{name: "ping", frame: `{"jsonrpc":"2.0","method":"verto.ping","params":{},"id":54}`, want: `{"jsonrpc":"2.0","id":54,"result":{"message":"PONG","sessid":"$S"}}`},
		{name: "malformed JSON after login", frame: `{"jsonrpc":`, want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`},
		{name: "binary frame after login", binary: true, frame: `{"jsonrpc":"2.0","method":"echo","params":{},"id":55}`, want: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`},
		{name: "frame too large after login", frame: huge, want: fmt.Sprintf(`{"jsonrpc":"2.0","id":null,"error":{"code":%d,"message":"Message too large"}}`, CodeTooLarge)},
		{name: "binary frame too large", binary: true, frame: huge, want: fmt.Sprintf(`{"jsonrpc":"2.0","id":null,"error":{"code":%d,"message":"Message too large"}}`, CodeTooLarge)},
		{name: "client result after login", frame: `{"jsonrpc":"2.0","id":56,"result":{"method":"verto.attach"}}`},
		{name: "client error after login", frame: `{"jsonrpc":"2.0","id":"57","error":{"code":-32002,"message":"CALL DOES NOT EXIST"}}`},
	}

	authed := false
	for i, tc := range cases {
		kind := websocket.TextMessage
		if tc.binary {
			kind = websocket.BinaryMessage
		}
		c.write(kind, []byte(tc.frame))
		if tc.want != "" {
			got := c.expect(ctx, tc.name+" reply", (*rpc).isResponse)
			want := strings.ReplaceAll(tc.want, "$S", S)
			jsonEq(t, tc.name, got.raw, want)
		}
		if tc.login {
			authed = true
			ready := c.request(ctx, "verto.clientReady")
			jsonEq(t, "verto.clientReady", ready.Params, `{"reattached_sessions":[]}`)
		}
		// The session lives on: the next reply answers this echo (so a
		// frame that needs no reply got none). The echo carries no sessid:
		// the one in its result is the server's.
		id := fmt.Sprintf(`"live-%d"`, i)
		c.writeText(`{"jsonrpc":"2.0","method":"echo","params":{"n":` + fmt.Sprint(i) + `},"id":` + id + `}`)
		got := c.expect(ctx, tc.name+": echo reply", (*rpc).isResponse)
		if authed {
			jsonEq(t, tc.name+": echo after", got.raw, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"n":%d,"sessid":%q}}`, id, i, S))
		} else {
			jsonEq(t, tc.name+": echo after", got.raw, authRequired(id))
		}
	}
	// Nothing else was sent: only server requests may be left over.
	for _, f := range c.backlog {
		if f.isResponse() {
			t.Errorf("unexpected reply %s", f)
		}
	}

	t.Run("login results", testLoginResults)
	t.Run("rate limit", testRateLimit)
}

// testLoginResults checks the login result of a moderator and that a
// credential-less login gets -32000 on a guest server too, while a guest's
// credential login succeeds.
func testLoginResults(t *testing.T) {
	env := startServer(t, func(c *Config) { c.AllowGuests = true })
	ctx := testCtx(t, 20*time.Second)

	c := dialRaw(ctx, t, env.url, "sessid-guest")
	for _, params := range []map[string]any{nil, {}, {"passwd": "x"}, {"loginParams": map[string]any{}, "userVariables": map[string]any{}}} {
		jsonEq(t, fmt.Sprint("credential-less login ", params), c.failure(ctx, "login", params), `{"code":-32000,"message":"Authentication Required"}`)
	}
	jsonEq(t, "guest without passwd", c.failure(ctx, "login", map[string]any{"login": "guest@example.com"}), `{"code":-32001,"message":"Missing passwd"}`)
	jsonEq(t, "configured user, wrong password", c.failure(ctx, "login", map[string]any{"login": "1000", "passwd": "x"}), `{"code":-32001,"message":"Authentication Failure"}`)
	res := c.result(ctx, "login", map[string]any{"login": "guest@example.com", "passwd": "anything"})
	jsonEq(t, "guest login", res, `{"message":"logged in","sessid":"sessid-guest"}`)
	jsonEq(t, "clientReady", c.request(ctx, "verto.clientReady").Params, `{"reattached_sessions":[]}`)

	m := dialRaw(ctx, t, env.url, "sessid-mod")
	jsonEq(t, "credential-less login", m.failure(ctx, "login", map[string]any{}), `{"code":-32000,"message":"Authentication Required"}`)
	res = m.result(ctx, "login", map[string]any{"login": "1000@example.com", "passwd": "1234"})
	jsonEq(t, "moderator login", res, `{"message":"logged in","moderator":true,"sessid":"sessid-mod"}`)

	// A login without any sessid gets one made up, returned in results.
	n := dialRaw(ctx, t, env.url, "")
	n.writeText(`{"jsonrpc":"2.0","method":"login","params":{"login":"1001","passwd":"4321"},"id":1}`)
	var got struct {
		Result struct {
			Message string `json:"message"`
			Sessid  string `json:"sessid"`
		} `json:"result"`
	}
	f := n.reply(ctx, []byte("1"))
	if err := json.Unmarshal(f.raw, &got); err != nil || got.Result.Message != "logged in" || len(got.Result.Sessid) < 32 {
		t.Fatalf("login without sessid: %s", f)
	}
	n.writeText(`{"jsonrpc":"2.0","method":"verto.ping","id":2}`)
	jsonEq(t, "ping", n.reply(ctx, []byte("2")).Result, fmt.Sprintf(`{"message":"PONG","sessid":%q}`, got.Result.Sessid))
}

// testRateLimit: frames over the burst are refused with CodeRateLimited
// without ending the session, oversized frames count against the limit
// like any other, a new connection has its own budget, and a client that
// keeps flooding gets its refusals and then a 1008 close frame.
func testRateLimit(t *testing.T) {
	// One token per 1000 s: nothing refills during the test.
	env := startServer(t, func(c *Config) { c.MessageRate = 0.001; c.MessageBurst = 5; c.MaxMessageBytes = 4096 })
	ctx := testCtx(t, 20*time.Second)
	oversized := `{"jsonrpc":"2.0","method":"echo","id":0,"params":{"pad":"` + strings.Repeat("y", 5000) + `"}}`

	c := dialRaw(ctx, t, env.url, "sessid-rate")
	// The burst: an oversized frame, login (-32000, then logged in), then
	// two echoes.
	c.writeText(oversized)
	jsonEq(t, "too large", c.reply(ctx, nil).raw, fmt.Sprintf(`{"jsonrpc":"2.0","id":null,"error":{"code":%d,"message":"Message too large"}}`, CodeTooLarge))
	c.login(ctx, userLogin, userPasswd)
	for range 2 {
		c.echoOK(ctx)
	}
	id := c.send("echo", map[string]any{"sixth": true})
	jsonEq(t, "sixth frame", c.reply(ctx, id).raw, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":%d,"message":"Too many requests"}}`, id, CodeRateLimited))
	// Refused frames do not end the session; a malformed one is refused too,
	// with id null, and so is an oversized one: over the limit, it is not
	// even answered as too large.
	c.writeText(`{"jsonrpc":`)
	jsonEq(t, "refused parse error", c.reply(ctx, nil).raw, fmt.Sprintf(`{"jsonrpc":"2.0","id":null,"error":{"code":%d,"message":"Too many requests"}}`, CodeRateLimited))
	c.writeText(oversized)
	jsonEq(t, "refused oversized frame", c.reply(ctx, nil).raw, fmt.Sprintf(`{"jsonrpc":"2.0","id":null,"error":{"code":%d,"message":"Too many requests"}}`, CodeRateLimited))

	// Normal service on a new connection (the budget is per connection).
	d := dialRaw(ctx, t, env.url, "sessid-rate-2")
	d.login(ctx, userLogin, userPasswd)
	d.echoOK(ctx)

	// Flooding past floodLimit refused frames in a row closes the socket.
	// Three frames were refused already, so the (floodLimit-2)th frame sent
	// now is the (floodLimit+1)th refusal in a row: the socket closes
	// without answering it, with a close frame after the refusals. The
	// frames sent after it are read and discarded while the socket closes.
	for range floodLimit + 20 {
		if !c.tryWrite(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","method":"echo","params":{},"id":1}`)) {
			break
		}
	}
	c.waitClosed(ctx)
	refusals := 0
	for len(c.frames) > 0 {
		f := <-c.frames
		if !f.isResponse() {
			continue
		}
		jsonEq(t, "flood refusal", f.Error, fmt.Sprintf(`{"code":%d,"message":"Too many requests"}`, CodeRateLimited))
		refusals++
	}
	if refusals != floodLimit-3 {
		t.Errorf("%d refusals before the socket closed, want %d", refusals, floodLimit-3)
	}
	c.wantClose(t, websocket.ClosePolicyViolation)
	d.echoOK(ctx)
}
