package signalling

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestVertoLimits: a 100,000-character caller_id_name joins under its
// first 64 characters, in the room and in every subscriber's participant
// list; so does a guest whose login is its name. Oversized userVariables,
// callIDs, logins and sessids are refused with -32602 naming the limit,
// nobody joins, and the session lives on.
func TestVertoLimits(t *testing.T) {
	env := startServer(t, func(c *Config) { c.AllowGuests = true })
	ctx := testCtx(t, 60*time.Second)
	r := env.room3500(t)
	w := newWatcher(ctx, t, env, "watcher")

	long := strings.Repeat("Ωmega ", 100000/6+1)[:100000]
	c := dialRaw(ctx, t, env.url, "sessid-limits")
	c.login(ctx, userLogin, userPasswd)
	vars := map[string]any{"email": "ada@example.com"}
	call := c.inviteWith(ctx, "3500", map[string]any{"caller_id_name": long, "caller_id_number": long, "userVariables": vars})
	wantName := string([]rune(long)[:64])
	_, last := roomState(env)
	w.catchUp(ctx, t, last)
	row := w.view.rows[call.id]
	if row == nil {
		t.Fatalf("no row for %s in %v", call.id, w.view.rows)
	}
	if row[1] != wantName || row[2] != wantName {
		t.Errorf("row number of %d bytes, name of %d bytes, want the first 64 characters (%d bytes) of each", len(fmt.Sprint(row[1])), len(fmt.Sprint(row[2])), len(wantName))
	}
	if !reflect.DeepEqual(row[5], vars) {
		t.Errorf("row userVariables %v, want %v", row[5], vars)
	}
	for _, m := range r.Members() {
		if len([]rune(m.Info.Name)) > 64 {
			t.Errorf("member %d has a %d-character name", m.ID, len([]rune(m.Info.Name)))
		}
	}

	members := len(r.Members())
	refusals := []struct {
		name   string
		method string
		params map[string]any
		want   string
	}{
		{"userVariables", "verto.invite", map[string]any{"sdp": "v=0\r\n", "dialogParams": map[string]any{
			"callID": "big-vars", "destination_number": "3500", "userVariables": map[string]any{"pad": strings.Repeat("x", 4096)}}},
			`{"code":-32602,"message":"invalid params: dialogParams.userVariables is larger than 4096 bytes"}`},
		{"callID", "verto.invite", map[string]any{"sdp": "v=0\r\n", "dialogParams": map[string]any{
			"callID": strings.Repeat("c", 257), "destination_number": "3500"}},
			`{"code":-32602,"message":"invalid params: dialogParams.callID is longer than 256 bytes"}`},
		{"login", "login", map[string]any{"login": strings.Repeat("l", 257), "passwd": "x"},
			`{"code":-32602,"message":"invalid params: login is longer than 256 bytes"}`},
		{"sessid", "login", map[string]any{"login": "1001", "passwd": userPasswd, "sessid": strings.Repeat("s", 257)},
			`{"code":-32602,"message":"invalid params: sessid is longer than 256 bytes"}`},
	}
	for _, tc := range refusals {
		var f *rpc
		if tc.name == "sessid" {
			// send adds the client's own sessid; this one is written by hand.
			f = c.reply(ctx, sendVerbatim(t, c, tc.method, tc.params))
		} else {
			f = c.reply(ctx, c.send(tc.method, tc.params))
		}
		if f.Error == nil {
			t.Fatalf("%s: want an error, got %s", tc.name, f)
		}
		jsonEq(t, tc.name, f.Error, tc.want)
		c.echoOK(ctx)
	}
	if n := len(r.Members()); n != members {
		t.Errorf("%d members after the refusals, want %d", n, members)
	}

	// A guest's login is its name when the call names none.
	g := dialRaw(ctx, t, env.url, "sessid-long-guest")
	guest := strings.Repeat("g", 200)
	g.login(ctx, guest, "x")
	gcall := g.inviteWith(ctx, "3500", map[string]any{"caller_id_name": ""})
	_, last = roomState(env)
	w.catchUp(ctx, t, last)
	if name := w.view.rows[gcall.id][2]; name != guest[:64] {
		t.Errorf("guest row name %q, want %q", name, guest[:64])
	}
}

// sendVerbatim sends a request with params as given (no sessid added) and
// returns its id.
func sendVerbatim(t *testing.T, c *wsClient, method string, params map[string]any) []byte {
	t.Helper()
	c.wmu.Lock()
	c.nextID++
	id := c.nextID
	c.wmu.Unlock()
	frame, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method, "id": id, "params": params})
	if err != nil {
		t.Fatal(err)
	}
	c.writeText(string(frame))
	return []byte(fmt.Sprint(id))
}
