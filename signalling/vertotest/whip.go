package vertotest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"
	"github.com/pion/webrtc/v4"
)

// HTTPSession is a WHIP or WHEP session (RFC 9725) as its client holds it:
// the resource confd created and its ICE session's ETag.
type HTTPSession struct {
	URL   string   // the Location, resolved against the endpoint
	ETag  string   // the ICE session's
	Links []string // the Link headers (ICE servers)
	http  *http.Client
}

// HTTPError is a refusal from a WHIP or WHEP endpoint.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// Publish publishes as a WHIP client to endpoint (…/whip/<room>): the
// microphone sends a tone and the camera (simulcast with opts.Simulcast)
// its synthetic frames, send-only. bearer is sent as the Authorization
// token unless empty.
func Publish(ctx context.Context, endpoint, bearer string, opts CallOptions) (*Call, *HTTPSession, error) {
	opts.Broadcast, opts.Watch = true, false
	return postOffer(ctx, endpoint, bearer, opts)
}

// Watch plays a room as a WHEP client of endpoint (…/whep/<room>): it
// receives audio, decoded (Heard), and one video stream (Stream of the
// video section's mid; Streams lists it).
func Watch(ctx context.Context, endpoint, bearer string, opts CallOptions) (*Call, *HTTPSession, error) {
	opts.Watch, opts.Broadcast = true, false
	return postOffer(ctx, endpoint, bearer, opts)
}

func postOffer(ctx context.Context, endpoint, bearer string, opts CallOptions) (*Call, *HTTPSession, error) {
	call := &Call{ID: uuid.NewString(), opts: opts, answer: make(chan string, 1), streams: map[string]*Stream{}}
	offer, err := call.makeOffer()
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(offer))
	if err != nil {
		call.Close()
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/sdp")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	hc := &http.Client{}
	resp, err := hc.Do(req)
	if err != nil {
		call.Close()
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		call.Close()
		return nil, nil, &HTTPError{Status: resp.StatusCode, Body: string(body)}
	}
	base, _ := url.Parse(endpoint)
	loc, err := base.Parse(resp.Header.Get("Location"))
	if err != nil || resp.Header.Get("Location") == "" {
		call.Close()
		return nil, nil, errors.New("the answer has no Location")
	}
	s := &HTTPSession{URL: loc.String(), ETag: resp.Header.Get("ETag"), Links: resp.Header.Values("Link"), http: hc}
	if err := call.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		call.Close()
		return nil, nil, err
	}
	call.startPublishing()
	return call, s, nil
}

// Delete ends the session (DELETE on its resource) and returns the status.
func (s *HTTPSession) Delete(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.URL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// Patch sends a trickle-ice-sdpfrag to the session with If-Match ifMatch
// ("" for none) and returns the status, the ETag and the body.
func (s *HTTPSession) Patch(ctx context.Context, frag, ifMatch string) (int, string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, s.URL, strings.NewReader(frag))
	if err != nil {
		return 0, "", "", err
	}
	req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header.Get("ETag"), string(body), nil
}

// Streams lists what the call has received on each video section.
func (c *Call) Streams() []*Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Stream, 0, len(c.streams))
	for _, s := range c.streams {
		out = append(out, s)
	}
	return out
}

// MakeOffer is the offer a call with opts would send, its PeerConnection
// closed again: for tests that post offers themselves.
func MakeOffer(opts CallOptions) (string, error) {
	call := &Call{ID: uuid.NewString(), opts: opts, answer: make(chan string, 1), streams: map[string]*Stream{}}
	offer, err := call.makeOffer()
	call.Close()
	return offer, err
}

// Offered makes a call and its offer for a client that carries the offer
// itself (SIP over WebSocket, say): the call sends and hears what a Verto
// call with opts would once Accept has applied the answer.
func Offered(opts CallOptions) (*Call, string, error) {
	call := &Call{ID: uuid.NewString(), opts: opts, answer: make(chan string, 1), streams: map[string]*Stream{}}
	offer, err := call.makeOffer()
	if err != nil {
		call.Close()
		return nil, "", err
	}
	return call, offer, nil
}

// Accept applies confd's answer to an Offered call and starts its media.
func (c *Call) Accept(answer string) error {
	if err := c.PC().SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return err
	}
	c.startPublishing()
	return nil
}

// RestartICE restarts the call's ICE session over PATCH (RFC 9725 §4.3.2):
// a new offer with fresh credentials, whose credentials and candidates go
// out as an sdpfrag with If-Match "*"; the fragment that comes back gives
// the server's new credentials and candidates, applied as the answer.
func (s *HTTPSession) RestartICE(ctx context.Context, c *Call) error {
	pc := c.PC()
	offer, err := pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		return err
	}
	local, err := gather(pc, offer)
	if err != nil {
		return err
	}
	var frag strings.Builder
	ufrag, pwd, cands := iceOf(local)
	fmt.Fprintf(&frag, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n", ufrag, pwd)
	for _, cand := range cands {
		fmt.Fprintf(&frag, "a=%s\r\n", cand)
	}
	status, etag, body, err := s.Patch(ctx, frag.String(), "*")
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return &HTTPError{Status: status, Body: body}
	}
	s.ETag = etag
	rufrag, rpwd, rcands := iceOf(body)
	answer := pc.RemoteDescription().SDP
	var out []string
	for _, line := range strings.Split(answer, "\r\n") {
		switch {
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			line = "a=ice-ufrag:" + rufrag
		case strings.HasPrefix(line, "a=ice-pwd:"):
			line = "a=ice-pwd:" + rpwd
		case strings.HasPrefix(line, "a=candidate:"), line == "a=end-of-candidates":
			continue
		}
		out = append(out, line)
		if strings.HasPrefix(line, "a=mid:0") {
			for _, cand := range rcands {
				out = append(out, "a="+cand)
			}
		}
	}
	return pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: strings.Join(out, "\r\n")})
}

// iceOf reads the first ICE credentials and every candidate of an SDP or
// an sdpfrag.
func iceOf(desc string) (ufrag, pwd string, cands []string) {
	for _, line := range strings.Split(strings.ReplaceAll(desc, "\r\n", "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "a=ice-ufrag:") && ufrag == "":
			ufrag = strings.TrimPrefix(line, "a=ice-ufrag:")
		case strings.HasPrefix(line, "a=ice-pwd:") && pwd == "":
			pwd = strings.TrimPrefix(line, "a=ice-pwd:")
		case strings.HasPrefix(line, "a=candidate:"):
			cands = append(cands, strings.TrimPrefix(line, "a="))
		}
	}
	return ufrag, pwd, cands
}
