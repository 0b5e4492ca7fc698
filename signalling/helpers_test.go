package signalling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/confd/confd/peer"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/vertotest"
)

// Test users: a moderator and a participant.
const (
	testDomain = "example.com"
	modLogin   = "1000"
	modPasswd  = "1234"
	userLogin  = "1001"
	userPasswd = "4321"
)

// testEnv is a Server behind an httptest server on loopback.
type testEnv struct {
	srv   *Server
	rooms *room.Rooms
	ts    *httptest.Server
	url   string
}

// startServer runs a Server with room 3500, the two test users and
// loopback-only media; mutate adjusts the config. Everything is shut down
// when the test ends.
func startServer(t *testing.T, mutate func(*Config)) *testEnv {
	t.Helper()
	return startServerRooms(t, []room.Config{{Number: "3500"}}, mutate)
}

// startServerRooms is startServer with the given rooms.
func startServerRooms(t *testing.T, rcfg []room.Config, mutate func(*Config)) *testEnv {
	t.Helper()
	return startServerMedia(t, rcfg, peer.MediaConfig{LoopbackOnly: true}, mutate)
}

// startServerMedia is startServerRooms with the given media config.
func startServerMedia(t *testing.T, rcfg []room.Config, mcfg peer.MediaConfig, mutate func(*Config)) *testEnv {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	rooms, err := room.New(rcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	media, err := peer.NewMedia(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Domain: testDomain,
		Users: []User{
			{Login: modLogin, Password: modPasswd, Name: "Moderator", Role: room.RoleModerator},
			{Login: userLogin, Password: userPasswd, Name: "User", Role: room.RoleParticipant},
		},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv := NewServer(cfg, rooms, media, log)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rooms.Close()
		srv.Shutdown(ctx)
		ts.Close()
		media.Close()
	})
	return &testEnv{srv: srv, rooms: rooms, ts: ts, url: "ws" + strings.TrimPrefix(ts.URL, "http")}
}

// room3500 is the test room.
func (e *testEnv) room3500(t *testing.T) *room.Room {
	t.Helper()
	r, err := e.rooms.Lookup("3500")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rpc is one JSON-RPC frame as the client received it.
type rpc struct {
	raw     []byte
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
	Result  json.RawMessage `json:"result"`
	Error   json.RawMessage `json:"error"`
}

func (f *rpc) isResponse() bool { return f.Method == "" }

func (f *rpc) String() string { return string(f.raw) }

// wsClient is a raw Verto client: it sends hand-made frames and sees every
// frame the server sends, in order.
type wsClient struct {
	t      *testing.T
	conn   *websocket.Conn
	sessid string

	wmu    sync.Mutex
	nextID int

	frames   chan *rpc
	done     chan struct{} // the server closed the socket (or the read failed)
	closeErr error         // why the read ended; set before done is closed
	closed   chan struct{} // Close was called
	closeMu  sync.Once
	backlog  []*rpc // read but not yet consumed
}

func dialRaw(ctx context.Context, t *testing.T, url, sessid string) *wsClient {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	if sessid == "" {
		sessid = fmt.Sprintf("sess-%s-%d", t.Name(), time.Now().UnixNano())
	}
	c := &wsClient{t: t, conn: conn, sessid: sessid, frames: make(chan *rpc, 4096), done: make(chan struct{}), closed: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(c.Close)
	return c
}

func (c *wsClient) Close() {
	c.closeMu.Do(func() {
		close(c.closed)
		_ = c.conn.Close()
	})
}

func (c *wsClient) readLoop() {
	defer close(c.done)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.closeErr = err
			return
		}
		f := &rpc{raw: data}
		if err := json.Unmarshal(data, f); err != nil {
			f.Method = "<unparsable>"
		}
		select {
		case c.frames <- f:
		case <-c.closed:
			return
		}
	}
}

// write sends one frame of the given websocket message type.
func (c *wsClient) write(kind int, frame []byte) {
	c.t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.conn.WriteMessage(kind, frame); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// tryWrite sends one frame; false when the socket is no longer writable
// (the server closed it).
func (c *wsClient) tryWrite(kind int, frame []byte) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.WriteMessage(kind, frame) == nil
}

// wantClose checks, after done, that the server closed the socket with a
// close frame of the given code.
func (c *wsClient) wantClose(t *testing.T, code int) {
	t.Helper()
	<-c.done
	var ce *websocket.CloseError
	if !errors.As(c.closeErr, &ce) || ce.Code != code {
		t.Errorf("%s: socket ended with %v, want a close frame %d", c.sessid, c.closeErr, code)
	}
}

func (c *wsClient) writeText(frame string) {
	c.t.Helper()
	c.write(websocket.TextMessage, []byte(frame))
}

// send sends a request with the next integer id and returns the id. Like
// verto.js, it adds sessid to params unless params is nil.
func (c *wsClient) send(method string, params map[string]any) json.RawMessage {
	c.t.Helper()
	c.wmu.Lock()
	c.nextID++
	id := c.nextID
	c.wmu.Unlock()
	msg := map[string]any{"jsonrpc": "2.0", "method": method, "id": id}
	if params != nil {
		params["sessid"] = c.sessid
		msg["params"] = params
	}
	frame, err := json.Marshal(msg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.writeText(string(frame))
	return json.RawMessage(fmt.Sprint(id))
}

// next returns the next frame not yet consumed.
func (c *wsClient) next(ctx context.Context) *rpc {
	c.t.Helper()
	if len(c.backlog) > 0 {
		f := c.backlog[0]
		c.backlog = c.backlog[1:]
		return f
	}
	select {
	case f := <-c.frames:
		return f
	case <-c.done:
		// Frames read before the close are still queued.
		select {
		case f := <-c.frames:
			return f
		default:
		}
		c.t.Fatalf("%s: connection closed while waiting for a frame", c.sessid)
	case <-ctx.Done():
		c.t.Fatalf("%s: no frame: %v", c.sessid, ctx.Err())
	}
	return nil
}

// expect returns the first unconsumed frame that matches; the frames it
// skips stay unconsumed, in order.
func (c *wsClient) expect(ctx context.Context, what string, match func(*rpc) bool) *rpc {
	c.t.Helper()
	for i, f := range c.backlog {
		if match(f) {
			c.backlog = append(c.backlog[:i:i], c.backlog[i+1:]...)
			return f
		}
	}
	var skipped []*rpc
	defer func() { c.backlog = append(c.backlog, skipped...) }()
	for {
		select {
		case f := <-c.frames:
			if match(f) {
				return f
			}
			skipped = append(skipped, f)
		case <-c.done:
			// Frames read before the close are still queued.
			for len(c.frames) > 0 {
				f := <-c.frames
				if match(f) {
					return f
				}
				skipped = append(skipped, f)
			}
			c.t.Fatalf("%s: connection closed while waiting for %s; skipped %v", c.sessid, what, skipped)
		case <-ctx.Done():
			c.t.Fatalf("%s: no %s: %v; skipped %v", c.sessid, what, ctx.Err(), skipped)
		}
	}
}

// reply returns the next response and checks it answers id (nil: null).
// Server requests met on the way stay unconsumed.
func (c *wsClient) reply(ctx context.Context, id json.RawMessage) *rpc {
	c.t.Helper()
	f := c.expect(ctx, "reply "+string(id), (*rpc).isResponse)
	want := id
	if want == nil {
		want = json.RawMessage("null")
	}
	if !bytes.Equal(f.ID, want) {
		c.t.Fatalf("next reply has id %s, want %s: %s", f.ID, want, f)
	}
	return f
}

// request waits for the next server request of method.
func (c *wsClient) request(ctx context.Context, method string) *rpc {
	c.t.Helper()
	return c.expect(ctx, method, func(f *rpc) bool { return f.Method == method })
}

// result sends a request and returns its result; an error reply fails.
func (c *wsClient) result(ctx context.Context, method string, params map[string]any) json.RawMessage {
	c.t.Helper()
	f := c.reply(ctx, c.send(method, params))
	if f.Error != nil || f.Result == nil {
		c.t.Fatalf("%s: want a result, got %s", method, f)
	}
	return f.Result
}

// failure sends a request and returns its error object; a result fails.
func (c *wsClient) failure(ctx context.Context, method string, params map[string]any) json.RawMessage {
	c.t.Helper()
	f := c.reply(ctx, c.send(method, params))
	if f.Error == nil {
		c.t.Fatalf("%s: want an error, got %s", method, f)
	}
	return f.Error
}

// login performs verto.js's login (credential-less, then with credentials)
// and consumes the verto.clientReady that follows.
func (c *wsClient) login(ctx context.Context, login, passwd string) {
	c.t.Helper()
	e := c.failure(ctx, "login", map[string]any{})
	jsonEq(c.t, "credential-less login", e, `{"code":-32000,"message":"Authentication Required"}`)
	c.result(ctx, "login", map[string]any{"login": login + "@" + testDomain, "passwd": passwd})
	c.request(ctx, "verto.clientReady")
}

// waitClosed waits until the server has closed the socket.
func (c *wsClient) waitClosed(ctx context.Context) {
	c.t.Helper()
	select {
	case <-c.done:
	case <-ctx.Done():
		c.t.Fatalf("%s: socket not closed: %v", c.sessid, ctx.Err())
	}
}

// echoOK checks the session still serves requests.
func (c *wsClient) echoOK(ctx context.Context) {
	c.t.Helper()
	res := c.result(ctx, "echo", map[string]any{"alive": true})
	jsonEq(c.t, "echo", res, fmt.Sprintf(`{"alive":true,"sessid":%q}`, c.sessid))
}

// rawCall is a call placed by a wsClient with a pion PeerConnection.
type rawCall struct {
	id string
	pc *webrtc.PeerConnection
}

// invite places a call to dest with an audio section and slots receive-only
// video sections, checks the CALL CREATED result and applies the answer.
func (c *wsClient) invite(ctx context.Context, dest string, slots int) *rawCall {
	c.t.Helper()
	return c.inviteSlots(ctx, dest, slots, nil)
}

// inviteWith is invite with extra dialogParams and no video.
func (c *wsClient) inviteWith(ctx context.Context, dest string, extra map[string]any) *rawCall {
	c.t.Helper()
	return c.inviteSlots(ctx, dest, 0, extra)
}

func (c *wsClient) inviteSlots(ctx context.Context, dest string, slots int, extra map[string]any) *rawCall {
	c.t.Helper()
	pc, err := vertotest.NewPeerConnection()
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		c.t.Fatal(err)
	}
	for range slots {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			c.t.Fatal(err)
		}
	}
	offer := localSDP(ctx, c.t, pc, nil)
	call := &rawCall{id: fmt.Sprintf("call-%d-%s", time.Now().UnixNano(), c.sessid), pc: pc}
	dp := map[string]any{"callID": call.id, "destination_number": dest, "caller_id_name": "Raw", "caller_id_number": "raw"}
	for k, v := range extra {
		dp[k] = v
	}
	res := c.result(ctx, "verto.invite", map[string]any{"sdp": offer, "dialogParams": dp})
	jsonEq(c.t, "invite result", res, fmt.Sprintf(`{"message":"CALL CREATED","callID":%q,"sessid":%q}`, call.id, c.sessid))
	ans := c.expect(ctx, "verto.answer", func(f *rpc) bool { return f.Method == "verto.answer" && callIDOf(f) == call.id })
	var p struct {
		SDP string `json:"sdp"`
	}
	if err := json.Unmarshal(ans.Params, &p); err != nil || p.SDP == "" {
		c.t.Fatalf("verto.answer without sdp: %s", ans)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: p.SDP}); err != nil {
		c.t.Fatal(err)
	}
	return call
}

// localSDP creates an offer (or uses desc), sets it and waits for ICE
// gathering.
func localSDP(ctx context.Context, t *testing.T, pc *webrtc.PeerConnection, desc *webrtc.SessionDescription) string {
	t.Helper()
	if desc == nil {
		offer, err := pc.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		desc = &offer
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(*desc); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		t.Fatalf("ice gathering: %v", ctx.Err())
	}
	return pc.LocalDescription().SDP
}

// callIDOf is params.callID of a server request.
func callIDOf(f *rpc) string {
	var p struct {
		CallID string `json:"callID"`
	}
	_ = json.Unmarshal(f.Params, &p)
	return p.CallID
}

// slotsEvent is the data of a confd.slots event.
type slotsEvent struct {
	CallID string     `json:"callID"`
	Slots  []slotData `json:"slots"`
}

// slotsOf decodes a confd.slots verto.event; ok is false for other frames.
func slotsOf(f *rpc) (slotsEvent, bool) {
	if f.Method != "verto.event" {
		return slotsEvent{}, false
	}
	var p struct {
		EventChannel string     `json:"eventChannel"`
		Data         slotsEvent `json:"data"`
	}
	if json.Unmarshal(f.Params, &p) != nil || p.EventChannel != slotsChannel {
		return slotsEvent{}, false
	}
	return p.Data, true
}

// jsonEq fails unless got and want are the same JSON value.
func jsonEq(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: got invalid JSON %q: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expectation %q: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got  %s\n want %s", what, got, want)
	}
}

// waitUntil polls cond until it holds or ctx ends.
func waitUntil(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := vertotest.WaitFor(ctx, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// testCtx is the deadline of one test.
func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// dialStatus opens a websocket with the given Origin and returns the
// handshake's HTTP status.
func dialStatus(ctx context.Context, t *testing.T, url, origin string) int {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, url, h)
	if err == nil {
		_ = conn.Close()
		return resp.StatusCode
	}
	if resp == nil {
		t.Fatalf("dial with origin %q: %v", origin, err)
	}
	return resp.StatusCode
}

// tryNext returns the next unconsumed frame, or false when none comes
// before ctx ends.
func (c *wsClient) tryNext(ctx context.Context) (*rpc, bool) {
	if len(c.backlog) > 0 {
		f := c.backlog[0]
		c.backlog = c.backlog[1:]
		return f, true
	}
	select {
	case f := <-c.frames:
		return f, true
	case <-ctx.Done():
		return nil, false
	}
}
