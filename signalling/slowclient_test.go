package signalling

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSlowClientDisconnected: a client that stops reading while the server
// has replies for it fills its outbound queue and is disconnected, its
// socket closed; the server goes on serving everyone else throughout.
func TestSlowClientDisconnected(t *testing.T) {
	// A write never times out here: only the full queue can disconnect.
	env := startServer(t, func(c *Config) { c.MessageRate = 1e6; c.MessageBurst = 1e6; c.WriteTimeout = time.Hour })
	ctx := testCtx(t, 60*time.Second)
	other := dialRaw(ctx, t, env.url, "sessid-other")
	other.login(ctx, modLogin, modPasswd)

	// The slow client logs in, then never reads again.
	const sessid = "sessid-slow"
	// A small receive buffer makes the server's writes block sooner.
	dialer := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(16 << 10)
		}
		return c, err
	}}
	conn, _, err := dialer.DialContext(ctx, env.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	write := func(id int, method string, params map[string]any) error {
		params["sessid"] = sessid
		frame, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
		if err != nil {
			t.Fatal(err)
		}
		return conn.WriteMessage(websocket.TextMessage, frame)
	}
	if err := write(1, "login", map[string]any{"login": userLogin, "passwd": userPasswd}); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Result struct {
			Message string `json:"message"`
		} `json:"result"`
	}
	if err := conn.ReadJSON(&res); err != nil || res.Result.Message != "logged in" {
		t.Fatalf("login: %+v, %v", res, err)
	}
	sess := sessionOf(env.srv, sessid)
	if sess == nil {
		t.Fatal("no session after login")
	}

	// Echo requests whose replies nobody reads: the socket buffers fill,
	// then the queue. Stop once the server has let go of the socket.
	pad := strings.Repeat("p", 2<<10)
	sent := 0
	for ; sent < 20000; sent++ {
		if sent%64 == 0 && sessionOf(env.srv, sessid) == nil {
			break
		}
		if write(sent+2, "echo", map[string]any{"pad": pad}) != nil {
			break
		}
	}
	waitUntil(ctx, t, "slow session gone", func() bool { return sessionOf(env.srv, sessid) == nil })
	if !sess.stalled.Load() {
		t.Fatalf("the session ended after %d requests, but not because its queue filled", sent)
	}
	if sent <= outQueue {
		t.Fatalf("only %d requests sent", sent)
	}
	other.echoOK(ctx)

	// The client reads again: what reached it ends without a close frame,
	// well short of the replies owed.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	got := 0
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			if websocket.IsCloseError(err) || strings.Contains(err.Error(), "timeout") {
				t.Fatalf("after %d replies: %v, want the connection cut", got, err)
			}
			break
		}
		got++
	}
	if got >= sent {
		t.Errorf("the slow client read %d replies of %d", got, sent)
	}
	t.Logf("sent %d requests, %d replies reached the client", sent, got)
	other.echoOK(ctx)
}
