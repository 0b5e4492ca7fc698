// Package vertotest is a Verto client for confd's tests: a websocket
// speaking JSON-RPC as verto.js does, with real pion PeerConnections on
// loopback that publish a synthetic VP8 camera and record what each video
// slot receives.
package vertotest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

// Client is one websocket connection to confd.
type Client struct {
	Sessid string
	conn   *websocket.Conn

	wmu    sync.Mutex
	mu     sync.Mutex
	nextID int
	wait   map[string]chan Reply
	calls  map[string]*Call
	events chan json.RawMessage // verto.event params not for a call
	reqs   chan Request         // every server request, for tests that look
	done   chan struct{}
}

// Reply is a response to one of the client's requests.
type Reply struct {
	Result json.RawMessage
	Error  *RPCError
}

// RPCError is a JSON-RPC error object.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string { return fmt.Sprintf("verto error %d: %s", e.Code, e.Message) }

// Request is a server-originated request.
type Request struct {
	ID     json.RawMessage
	Method string
	Params json.RawMessage
}

// Dial connects to url (ws://host:port/verto) with the given sessid ("" for a new one).
func Dial(ctx context.Context, url, sessid string) (*Client, error) {
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	if sessid == "" {
		sessid = uuid.NewString()
	}
	c := &Client{
		Sessid: sessid, conn: conn, wait: map[string]chan Reply{}, calls: map[string]*Call{},
		events: make(chan json.RawMessage, 256), reqs: make(chan Request, 1024), done: make(chan struct{}),
	}
	go c.readLoop()
	return c, nil
}

// Close closes the websocket.
func (c *Client) Close() error { return c.conn.Close() }

// Done is closed when the websocket has closed.
func (c *Client) Done() <-chan struct{} { return c.done }

// Events delivers verto.event params that are not slot events of a call.
func (c *Client) Events() <-chan json.RawMessage { return c.events }

// Requests delivers every server request as it arrives (dropped when full).
func (c *Client) Requests() <-chan Request { return c.reqs }

// WriteRaw sends a raw frame.
func (c *Client) WriteRaw(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.WriteMessage(websocket.TextMessage, frame)
}

// Call sends a request and waits for its reply.
func (c *Client) Request(ctx context.Context, method string, params map[string]any) (Reply, error) {
	if params == nil {
		params = map[string]any{}
	}
	params["sessid"] = c.Sessid
	c.mu.Lock()
	c.nextID++
	id := fmt.Sprint(c.nextID)
	ch := make(chan Reply, 1)
	c.wait[id] = ch
	c.mu.Unlock()
	frame, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": c.nextIDValue(id), "method": method, "params": params})
	if err != nil {
		return Reply{}, err
	}
	if err := c.WriteRaw(frame); err != nil {
		return Reply{}, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return Reply{}, ctx.Err()
	case <-c.done:
		return Reply{}, errors.New("connection closed")
	}
}

func (c *Client) nextIDValue(id string) json.Number { return json.Number(id) }

// Login performs verto.js's sequence: a login without credentials (answered
// with -32000), then the credential login.
func (c *Client) Login(ctx context.Context, login, passwd string) error {
	r, err := c.Request(ctx, "login", nil)
	if err != nil {
		return err
	}
	if r.Error == nil || r.Error.Code != -32000 {
		return fmt.Errorf("empty login: want -32000, got %+v", r)
	}
	r, err = c.Request(ctx, "login", map[string]any{"login": login, "passwd": passwd})
	if err != nil {
		return err
	}
	if r.Error != nil {
		return r.Error
	}
	return nil
}

func (c *Client) readLoop() {
	defer close(c.done)
	for {
		_, frame, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		c.handle(frame)
	}
}

func (c *Client) handle(frame []byte) {
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
		Result json.RawMessage `json:"result"`
		Error  *RPCError       `json:"error"`
	}
	if json.Unmarshal(frame, &m) != nil {
		return
	}
	if m.Method == "" {
		c.mu.Lock()
		ch := c.wait[strings.Trim(string(m.ID), `"`)]
		delete(c.wait, strings.Trim(string(m.ID), `"`))
		c.mu.Unlock()
		if ch != nil {
			ch <- Reply{Result: m.Result, Error: m.Error}
		}
		return
	}
	select {
	case c.reqs <- Request{ID: m.ID, Method: m.Method, Params: m.Params}:
	default:
	}
	c.serverRequest(m.ID, m.Method, m.Params)
}

// serverRequest handles what confd sends; like verto.js it acknowledges
// requests that carry a callID.
func (c *Client) serverRequest(id json.RawMessage, method string, params json.RawMessage) {
	var p struct {
		CallID       string          `json:"callID"`
		SDP          string          `json:"sdp"`
		EventChannel string          `json:"eventChannel"`
		Data         json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(params, &p)
	if p.CallID != "" {
		ack, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "result": map[string]string{"method": method}})
		_ = c.WriteRaw(ack)
	}
	c.mu.Lock()
	call := c.calls[p.CallID]
	c.mu.Unlock()
	switch method {
	case "verto.answer", "verto.media":
		if call != nil && p.SDP != "" {
			call.answered(p.SDP)
		}
	case "verto.bye":
		if call != nil {
			call.byeReceived()
		}
	case "verto.attach":
		if call != nil {
			go call.reattach(p.SDP)
		}
	case "verto.event":
		c.event(params)
	}
}

func (c *Client) event(params json.RawMessage) {
	var e struct {
		EventChannel string          `json:"eventChannel"`
		Data         json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(params, &e)
	if e.EventChannel == "confd.layers" {
		var d struct {
			CallID string   `json:"callID"`
			Active []string `json:"active"`
		}
		if json.Unmarshal(e.Data, &d) == nil {
			c.mu.Lock()
			call := c.calls[d.CallID]
			c.mu.Unlock()
			if call != nil {
				call.setLayers(d.Active)
				return
			}
		}
	}
	if e.EventChannel == "confd.slots" {
		var d SlotsData
		if json.Unmarshal(e.Data, &d) == nil {
			c.mu.Lock()
			call := c.calls[d.CallID]
			c.mu.Unlock()
			if call != nil {
				call.setSlots(d)
				return
			}
		}
	}
	select {
	case c.events <- params:
	default:
	}
}

// SlotsData is the confd.slots event.
type SlotsData struct {
	CallID string `json:"callID"`
	Slots  []struct {
		Slot     int    `json:"slot"`
		MID      string `json:"mid"`
		MemberID int    `json:"memberID"`
		Name     string `json:"name"`
		Floor    bool   `json:"floor"`
	} `json:"slots"`
}

// WaitFor polls cond until it holds or ctx ends.
func WaitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Join dials url, logs in and places a call: one member in one step.
func Join(ctx context.Context, url, login, passwd string, opts CallOptions) (*Client, *Call, error) {
	c, err := Dial(ctx, url, "")
	if err != nil {
		return nil, nil, err
	}
	if err := c.Login(ctx, login, passwd); err != nil {
		_ = c.Close()
		return nil, nil, fmt.Errorf("login: %w", err)
	}
	call, err := c.Invite(ctx, opts)
	if err != nil {
		_ = c.Close()
		return nil, nil, fmt.Errorf("invite: %w", err)
	}
	return c, call, nil
}
