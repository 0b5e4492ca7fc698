package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/confd/confd/signalling/vertotest"
)

const testAPIKey = "test-key-0123456789"

// withAPI turns the API on with testAPIKey (named "ops").
func withAPI(c *Config) {
	c.API.Keys = []APIKeyConfig{{Name: "ops", Key: testAPIKey}}
}

// apiClient calls the API over loopback with a real HTTP client, and
// checks every answer against the API's own OpenAPI document: a status it
// does not list, or a body that does not fit its schema, fails the test.
type apiClient struct {
	t      *testing.T
	base   string // http://127.0.0.1:port/api/v1
	key    string
	router routers.Router
}

func newAPIClient(t *testing.T, a *app) *apiClient {
	t.Helper()
	base := "http://" + a.addrs["http"].String() + "/api/v1"
	c := &apiClient{t: t, base: base, key: testAPIKey}
	status, body := c.call(http.MethodGet, "/openapi.json", nil)
	if status != http.StatusOK {
		t.Fatalf("GET /openapi.json = %d %s", status, body)
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	if c.router, err = legacy.NewRouter(doc); err != nil {
		t.Fatal(err)
	}
	return c
}

// call sends body (nil: none; a string: as it is; else as JSON) and
// returns the status and the answer's body.
func (c *apiClient) call(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		raw, _ = json.Marshal(b)
	}
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(raw))
	if err != nil {
		c.t.Fatal(err)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 400 {
		var e struct{ Error, Message string }
		if json.Unmarshal(out, &e) != nil || e.Error == "" || e.Message == "" {
			c.t.Errorf("%s %s = %d with %q: not a JSON error", method, path, res.StatusCode, out)
		}
	}
	c.checkDocumented(req, res, out)
	return res.StatusCode, out
}

func (c *apiClient) checkDocumented(req *http.Request, res *http.Response, body []byte) {
	c.t.Helper()
	if c.router == nil {
		return
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return // an undocumented path: its 404 is checked as a JSON error
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		c.t.Errorf("%s %s = %d does not match the OpenAPI document: %v\n%s", req.Method, req.URL.Path, res.StatusCode, err, body)
	}
}

// expect calls and checks the status, decoding a 2xx answer into out.
func (c *apiClient) expect(status int, method, path string, body, out any) {
	c.t.Helper()
	got, raw := c.call(method, path, body)
	if got != status {
		c.t.Fatalf("%s %s = %d %s, want %d", method, path, got, raw, status)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// apiMember and apiRoom are the API's views, as a client decodes them.
type apiMember struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Role        string `json:"role"`
	Muted       bool   `json:"muted"`
	MuteLocked  bool   `json:"mute_locked"`
	Deaf        bool   `json:"deaf"`
	Hand        bool   `json:"hand"`
	FloorLocked bool   `json:"floor_locked"`
	Banner      string `json:"banner"`
}

type apiRoom struct {
	Number        string         `json:"number"`
	Name          string         `json:"name"`
	Dynamic       bool           `json:"dynamic"`
	Locked        bool           `json:"locked"`
	Recording     bool           `json:"recording"`
	MemberCount   int            `json:"member_count"`
	MembersByKind map[string]int `json:"members_by_kind"`
	PIN           bool           `json:"pin"`
	MaxMembers    int            `json:"max_members"`
	Members       []apiMember    `json:"members"`
}

func (c *apiClient) room(number string) apiRoom {
	c.t.Helper()
	var r apiRoom
	c.expect(http.StatusOK, http.MethodGet, "/rooms/"+number, nil, &r)
	return r
}

func (c *apiClient) memberID(number, name string) int {
	c.t.Helper()
	for _, m := range c.room(number).Members {
		if m.Name == name {
			return m.ID
		}
	}
	c.t.Fatalf("no member %q in %s", name, number)
	return 0
}

// unchanged runs refusals and checks that the room reads the same after.
func (c *apiClient) unchanged(number string, refusals func()) {
	c.t.Helper()
	_, before := c.call(http.MethodGet, "/rooms/"+number, nil)
	refusals()
	if _, after := c.call(http.MethodGet, "/rooms/"+number, nil); !bytes.Equal(before, after) {
		c.t.Errorf("refused requests changed room %s:\n%s\n%s", number, before, after)
	}
}

// TestAPIOffWithoutKeys: with no key configured every path under /api/v1
// is 404, the document's too.
func TestAPIOffWithoutKeys(t *testing.T) {
	a := startTestApp(t, nil)
	c := &apiClient{t: t, base: "http://" + a.addrs["http"].String() + "/api/v1", key: testAPIKey}
	for _, path := range []string{"/rooms", "/openapi.json", "/events", "/rooms/3500/members/1/mute"} {
		if status, body := c.call(http.MethodGet, path, nil); status != http.StatusNotFound {
			t.Errorf("GET %s = %d %s, want 404", path, status, body)
		}
	}
}

// TestAPIRooms: listing, creating and closing rooms, with every refusal:
// no key, a wrong key, bad JSON, unknown and bad fields, a taken number, a
// configured room, too many rooms, a body too large, unknown rooms,
// recording without a recorder. Refusals change nothing.
func TestAPIRooms(t *testing.T) {
	a := startTestApp(t, func(c *Config) {
		withAPI(c)
		c.API.MaxRooms = 2
		c.API.MaxBodyBytes = 4096
		c.Rooms = []RoomConfig{{Number: "3500", Name: "Lobby"}, {Number: "3600"}}
		c.Echo.Number = "off" // the rooms are counted
	})
	c := newAPIClient(t, a)

	for _, key := range []string{"", "wrong-key-0123456789", testAPIKey + "x"} {
		anon := *c
		anon.key = key
		anon.expect(http.StatusUnauthorized, http.MethodGet, "/rooms", nil, nil)
		anon.expect(http.StatusUnauthorized, http.MethodPost, "/rooms", map[string]any{"number": "4000"}, nil)
	}

	var list struct{ Rooms []apiRoom }
	c.expect(http.StatusOK, http.MethodGet, "/rooms", nil, &list)
	if len(list.Rooms) != 2 || list.Rooms[0].Number != "3500" || list.Rooms[0].Name != "Lobby" || list.Rooms[0].Dynamic ||
		list.Rooms[0].MembersByKind["browser"] != 0 || list.Rooms[0].MaxMembers != 100 {
		t.Fatalf("rooms %+v", list.Rooms)
	}

	var made apiRoom
	c.expect(http.StatusCreated, http.MethodPost, "/rooms",
		map[string]any{"number": "4000", "name": "Board", "pin": "1234", "max_members": 5, "lobby": true}, &made)
	if !made.Dynamic || !made.PIN || made.MaxMembers != 5 || made.Members == nil || strings.Contains(string(mustJSON(made)), "1234") {
		t.Fatalf("created %+v", made)
	}
	if r := c.room("board"); r.Number != "4000" {
		t.Fatalf("by name: %+v", r)
	}
	c.unchanged("4000", func() {
		for _, body := range []any{
			`{"number":`, `[]`, `{"number":"4100"} {}`, map[string]any{"number": "4100", "colour": "red"},
			map[string]any{"number": ""}, map[string]any{"number": "a b"}, map[string]any{"number": "4100-screen"},
			map[string]any{"number": "4100", "pin": "12ab"}, map[string]any{"number": "4100", "max_members": 5000},
			map[string]any{"number": "4100", "speakers": -1}, map[string]any{"number": "4100", "present": "all"},
			map[string]any{"number": "4100", "tones": "loud"}, map[string]any{"number": "4100", "name": "bad\nname"},
			map[string]any{"number": "4100", "require_token": true}, // no token secret on this server
			map[string]any{"number": "4100", "pin": "11", "moderator_pin": "11"},
		} {
			c.expect(http.StatusBadRequest, http.MethodPost, "/rooms", body, nil)
		}
		c.expect(http.StatusRequestEntityTooLarge, http.MethodPost, "/rooms", map[string]any{"number": "4100", "name": strings.Repeat("x", 5000)}, nil)
		for _, body := range []any{map[string]any{"number": "3500"}, map[string]any{"number": "lobby"}, map[string]any{"number": "4100", "name": "BOARD"}} {
			c.expect(http.StatusConflict, http.MethodPost, "/rooms", body, nil)
		}
		c.expect(http.StatusConflict, http.MethodDelete, "/rooms/3500", nil, nil)
		c.expect(http.StatusNotFound, http.MethodDelete, "/rooms/9999", nil, nil)
		c.expect(http.StatusNotFound, http.MethodGet, "/rooms/9999", nil, nil)
		c.expect(http.StatusNotImplemented, http.MethodPost, "/rooms/4000/recording", nil, nil)
		c.expect(http.StatusNotImplemented, http.MethodDelete, "/rooms/4000/recording", nil, nil)
		c.expect(http.StatusNotFound, http.MethodPost, "/rooms/9999/recording", nil, nil)
		c.expect(http.StatusMethodNotAllowed, http.MethodPatch, "/rooms/4000", nil, nil)
		c.expect(http.StatusNotImplemented, http.MethodPost, "/tokens", map[string]any{"room": "4000"}, nil)
	})
	c.expect(http.StatusCreated, http.MethodPost, "/rooms", map[string]any{"number": "4100"}, nil)
	c.expect(http.StatusConflict, http.MethodPost, "/rooms", map[string]any{"number": "4200"}, nil) // api.max_rooms: 2
	c.expect(http.StatusOK, http.MethodGet, "/rooms", nil, &list)
	if len(list.Rooms) != 4 {
		t.Fatalf("%d rooms, want 4", len(list.Rooms))
	}

	// A member in a dynamic room: closing the room ends its call.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	vc, call, err := vertotest.Join(ctx, a.vertoURL(), "zoe", "guest", vertotest.CallOptions{Dest: "4100", Name: "zoe"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { call.Close(); _ = vc.Close() })
	if r := c.room("4100"); r.MemberCount != 1 || r.Members[0].Name != "zoe" || r.Members[0].Kind != "browser" {
		t.Fatalf("4100 %+v", r)
	}
	c.expect(http.StatusNoContent, http.MethodDelete, "/rooms/4100", nil, nil)
	c.expect(http.StatusNotFound, http.MethodGet, "/rooms/4100", nil, nil)
	if err := vertotest.WaitFor(ctx, call.GotBye); err != nil {
		t.Fatal("closing the room did not end its member's call")
	}
	c.expect(http.StatusCreated, http.MethodPost, "/rooms", map[string]any{"number": "4100"}, nil) // free again
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestAPIMembers: every per-member and per-room action on real Verto
// members, the refusals, chat, tokens; each refusal changes nothing.
func TestAPIMembers(t *testing.T) {
	a := startTestApp(t, func(c *Config) {
		withAPI(c)
		c.Verto.TokenSecret = "token-secret"
		c.Rooms = []RoomConfig{{Number: "3500"}, {Number: "3600"}}
	})
	c := newAPIClient(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	calls := map[string]*vertotest.Call{}
	for _, name := range []string{"ann", "bob"} {
		vc, call, err := vertotest.Join(ctx, a.vertoURL(), name, "guest", vertotest.CallOptions{Dest: "3500", Name: name})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { call.Close(); _ = vc.Close() })
		calls[name] = call
	}
	ann, bob := c.memberID("3500", "ann"), c.memberID("3500", "bob")
	m := func(id int, action string) string { return "/rooms/3500/members/" + strconv.Itoa(id) + action }

	var got apiMember
	c.expect(http.StatusOK, http.MethodGet, m(ann, ""), nil, &got)
	if got.Name != "ann" || got.Kind != "browser" || got.Role != "participant" || got.Muted {
		t.Fatalf("ann %+v", got)
	}
	step := func(method, action string, body any, check func(apiMember) bool) {
		t.Helper()
		var after apiMember
		c.expect(http.StatusOK, method, m(ann, action), body, &after)
		if !check(after) {
			t.Fatalf("%s %s: ann %+v", method, action, after)
		}
	}
	step(http.MethodPost, "/mute", nil, func(x apiMember) bool { return x.Muted && x.MuteLocked })
	step(http.MethodPost, "/unmute", "{}", func(x apiMember) bool { return !x.Muted })
	step(http.MethodPost, "/deaf", nil, func(x apiMember) bool { return x.Deaf })
	step(http.MethodPost, "/undeaf", nil, func(x apiMember) bool { return !x.Deaf })
	step(http.MethodPost, "/floor", nil, func(x apiMember) bool { return x.FloorLocked })
	step(http.MethodPost, "/floor", nil, func(x apiMember) bool { return x.FloorLocked }) // asking again changes nothing
	step(http.MethodDelete, "/floor", nil, func(x apiMember) bool { return !x.FloorLocked })
	step(http.MethodDelete, "/floor", nil, func(x apiMember) bool { return !x.FloorLocked })
	step(http.MethodPut, "/banner", map[string]any{"text": "100% clear"}, func(x apiMember) bool { return x.Banner == "100% clear" })
	step(http.MethodPut, "/banner", map[string]any{"text": "clear"}, func(x apiMember) bool { return x.Banner == "clear" })
	step(http.MethodDelete, "/banner", nil, func(x apiMember) bool { return x.Banner == "" })

	var r apiRoom
	c.expect(http.StatusOK, http.MethodPost, "/rooms/3500/lock", nil, &r)
	if !r.Locked {
		t.Fatal("lock did not lock")
	}
	c.expect(http.StatusOK, http.MethodPost, "/rooms/3500/unlock", nil, &r)
	if r.Locked {
		t.Fatal("unlock did not unlock")
	}
	c.expect(http.StatusOK, http.MethodPost, "/rooms/3500/mute-all", nil, &r)
	for _, x := range r.Members {
		if !x.Muted || !x.MuteLocked {
			t.Fatalf("mute-all left %+v", x)
		}
	}
	c.expect(http.StatusNoContent, http.MethodPost, "/rooms/3500/chat", map[string]any{"message": "the meeting ends in 5 minutes"}, nil)

	c.unchanged("3500", func() {
		for _, id := range []string{"999", "0", "-1", "abc"} {
			c.expect(http.StatusNotFound, http.MethodGet, "/rooms/3500/members/"+id, nil, nil)
			c.expect(http.StatusNotFound, http.MethodPost, "/rooms/3500/members/"+id+"/mute", nil, nil)
		}
		c.expect(http.StatusNotFound, http.MethodPost, "/rooms/9999/members/1/mute", nil, nil)
		c.expect(http.StatusBadRequest, http.MethodPost, m(ann, "/unmute"), map[string]any{"now": true}, nil)
		c.expect(http.StatusBadRequest, http.MethodPost, m(ann, "/unmute"), "not json", nil)
		c.expect(http.StatusBadRequest, http.MethodPut, m(ann, "/banner"), map[string]any{"text": ""}, nil)
		c.expect(http.StatusBadRequest, http.MethodPut, m(ann, "/banner"), map[string]any{"text": strings.Repeat("x", 201)}, nil)
		c.expect(http.StatusBadRequest, http.MethodPut, m(ann, "/banner"), map[string]any{"caption": "x"}, nil)
		c.expect(http.StatusBadRequest, http.MethodPost, m(ann, "/move"), map[string]any{}, nil)
		c.expect(http.StatusNotFound, http.MethodPost, m(ann, "/move"), map[string]any{"to": "9999"}, nil)
		c.expect(http.StatusConflict, http.MethodPost, m(ann, "/move"), map[string]any{"to": "3500"}, nil)
		c.expect(http.StatusBadRequest, http.MethodPost, "/rooms/3500/chat", map[string]any{"message": "  "}, nil)
		c.expect(http.StatusBadRequest, http.MethodPost, "/rooms/3500/chat", map[string]any{"message": strings.Repeat("x", 4097)}, nil)
		c.expect(http.StatusBadRequest, http.MethodPost, "/rooms/3500/chat", map[string]any{"message": "hi", "name": "a\x00b"}, nil)
		c.expect(http.StatusNotFound, http.MethodPost, "/rooms/9999/chat", map[string]any{"message": "hi"}, nil)
		c.expect(http.StatusBadRequest, http.MethodPost, "/rooms/3500/lock", `{"x":1}`, nil)
		for _, body := range []any{
			map[string]any{}, map[string]any{"room": "3500", "role": "boss"},
			map[string]any{"room": "3500", "ttl_seconds": 100000}, map[string]any{"room": "3500", "ttl_seconds": -5},
			map[string]any{"room": "3500", "admin": true},
		} {
			c.expect(http.StatusBadRequest, http.MethodPost, "/tokens", body, nil)
		}
		c.expect(http.StatusNotFound, http.MethodPost, "/tokens", map[string]any{"room": "9999"}, nil)
	})
	c.expect(http.StatusOK, http.MethodPost, "/rooms/3600/lock", nil, nil)
	c.expect(http.StatusConflict, http.MethodPost, m(ann, "/move"), map[string]any{"to": "3600"}, nil)
	c.expect(http.StatusOK, http.MethodPost, "/rooms/3600/unlock", nil, nil)

	// A minted token logs in to Verto.
	var tok struct {
		Token, Room, Name, Role string
		ExpiresAt               time.Time `json:"expires_at"`
	}
	c.expect(http.StatusCreated, http.MethodPost, "/tokens", map[string]any{"room": "3500", "name": "Zed", "role": "moderator", "ttl_seconds": 600}, &tok)
	if tok.Room != "3500" || tok.Role != "moderator" || time.Until(tok.ExpiresAt) > 10*time.Minute || time.Until(tok.ExpiresAt) < 5*time.Minute {
		t.Fatalf("token %+v", tok)
	}
	vc, err := vertotest.Dial(ctx, a.vertoURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	if err := vc.Login(ctx, "token", tok.Token); err != nil {
		t.Fatalf("the minted token does not log in: %v", err)
	}

	// Move and kick are carried out by the members' endpoints, after the answer.
	c.expect(http.StatusAccepted, http.MethodPost, m(ann, "/move"), map[string]any{"to": "3600"}, &got)
	if err := vertotest.WaitFor(ctx, func() bool { return len(c.room("3600").Members) == 1 }); err != nil {
		t.Fatal("ann never reached 3600")
	}
	if calls["ann"].GotBye() {
		t.Error("the move ended ann's call")
	}
	c.expect(http.StatusAccepted, http.MethodPost, m(bob, "/kick"), nil, &got)
	if err := vertotest.WaitFor(ctx, func() bool { return calls["bob"].GotBye() && len(c.room("3500").Members) == 0 }); err != nil {
		t.Fatal("the kick did not end bob's call")
	}
}
