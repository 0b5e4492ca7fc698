package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/signalling/vertotest"
)

// role is what one peer is in a scene, for the server it joins.
type role struct {
	name     string
	sections []section
	// whep joins confd as a WHEP viewer (POST /whep/<room>), not as a
	// Verto member.
	whep bool
	// recv names the stock server's tracks the receiving sections carry,
	// in order; confd decides for itself what each member receives.
	recv []string
}

// target is a server under test as the load generator reaches it.
type target interface {
	// join negotiates p into room as r says and applies the answer.
	join(ctx context.Context, p *peer, room string, r role) error
}

// confdTarget joins confd: members over Verto, viewers over WHEP.
type confdTarget struct{ addr string } // its plain HTTP listener, host:port

func (t confdTarget) join(ctx context.Context, p *peer, room string, r role) error {
	offer, err := p.offer(ctx)
	if err != nil {
		return err
	}
	var answer string
	if r.whep {
		answer, err = postSDP(ctx, "http://"+t.addr+"/whep/"+url.PathEscape(room), offer, http.StatusCreated)
	} else {
		answer, err = t.invite(ctx, p, room, r, offer)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", r.name, err)
	}
	return p.accept(answer)
}

// invite is a Verto call as verto.js places it: a websocket, the login
// (any name is a guest), verto.invite with the complete offer, and the
// answer in a verto.answer (or verto.media) request. The websocket stays
// open with the peer: closing it would detach the call.
func (t confdTarget) invite(ctx context.Context, p *peer, room string, r role, offer string) (string, error) {
	c, err := vertotest.Dial(ctx, "ws://"+t.addr+"/verto", "")
	if err != nil {
		return "", err
	}
	p.setSignalling(c)
	if err := c.Login(ctx, r.name, "bench"); err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	video := false
	for _, s := range r.sections {
		video = video || s.kind == webrtc.RTPCodecTypeVideo
	}
	callID := uuid.NewString()
	reply, err := c.Request(ctx, "verto.invite", map[string]any{"sdp": offer, "dialogParams": map[string]any{
		"callID": callID, "destination_number": room, "caller_id_name": r.name, "caller_id_number": r.name, "useVideo": video,
	}})
	if err != nil {
		return "", fmt.Errorf("invite: %w", err)
	}
	if reply.Error != nil {
		return "", fmt.Errorf("invite: %w", reply.Error)
	}
	for {
		select {
		case req := <-c.Requests():
			var params struct {
				CallID string `json:"callID"`
				SDP    string `json:"sdp"`
			}
			_ = json.Unmarshal(req.Params, &params)
			if (req.Method == "verto.answer" || req.Method == "verto.media") && params.CallID == callID && params.SDP != "" {
				return params.SDP, nil
			}
		case <-c.Done():
			return "", fmt.Errorf("websocket closed before the answer")
		case <-ctx.Done():
			return "", fmt.Errorf("no answer: %w", ctx.Err())
		}
	}
}

// stockTarget joins the stock server.
type stockTarget struct{ addr string }

func (t stockTarget) join(ctx context.Context, p *peer, room string, r role) error {
	offer, err := p.offer(ctx)
	if err != nil {
		return err
	}
	u := "http://" + t.addr + "/join/" + url.PathEscape(room) + "?recv=" + url.QueryEscape(strings.Join(r.recv, ","))
	answer, err := postSDP(ctx, u, offer, http.StatusOK)
	if err != nil {
		return fmt.Errorf("%s: %w", r.name, err)
	}
	return p.accept(answer)
}

// postSDP posts an offer and returns the answer.
func postSDP(ctx context.Context, u, offer string, want int) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(offer))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != want {
		return "", fmt.Errorf("POST %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}
