package vertotest

import (
	"context"
	"errors"
	"time"

	"github.com/pion/webrtc/v4"
)

// Adopt hands c a call placed on an earlier connection with the same
// sessid, as verto.js keeps its dialog across a reconnect: confd's
// verto.attach for it is then answered on a new PeerConnection. Call it
// before logging in on c; Attached is closed when that attach completes.
func (c *Client) Adopt(call *Call) {
	call.mu.Lock()
	call.client = c
	call.attached = make(chan struct{})
	call.attachErr = nil
	call.mu.Unlock()
	c.mu.Lock()
	c.calls[call.ID] = call
	c.mu.Unlock()
}

// reattach answers confd's verto.attach offer with a new PeerConnection,
// as verto.js does after a reconnect, and records the outcome.
func (c *Call) reattach(offer string) {
	err := c.answerAttach(offer)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attachErr = err
	if c.attached == nil {
		c.attached = make(chan struct{})
	}
	select {
	case <-c.attached:
	default:
		close(c.attached)
	}
}

func (c *Call) answerAttach(offer string) error {
	c.Close()
	pc, err := NewPeerConnection()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.pc = pc
	c.streams = map[string]*Stream{}
	c.mu.Unlock()
	pc.OnTrack(c.onTrack)
	offer, rids, err := simulcastAttach(offer)
	if err != nil {
		return err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return err
	}
	if err := c.attachCamera(pc, rids); err != nil {
		return err
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	sdp, err := gather(pc, answer)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.clientOf().Request(ctx, "verto.attach", map[string]any{"sdp": sdp, "dialogParams": c.dialog()})
	if err != nil {
		return err
	}
	if r.Error != nil {
		return r.Error
	}
	if string(r.Result) == "" {
		return errors.New("verto.attach: empty result")
	}
	c.startPublishing()
	return nil
}

// attachCamera sends the call's camera, if it has one, on the new
// PeerConnection (on the offer's first video section); a simulcast camera
// sends the encodings the offer asked for (rids).
func (c *Call) attachCamera(pc *webrtc.PeerConnection, rids []string) error {
	switch {
	case c.sim != nil:
		return c.attachSimulcastCamera(pc, rids)
	case c.ivf != nil:
		sender, err := pc.AddTrack(c.ivf.track)
		if err != nil {
			return err
		}
		go drainRTCP(sender)
	case c.camera != nil:
		sender, err := pc.AddTrack(c.camera)
		if err != nil {
			return err
		}
		go c.readCameraRTCP(sender)
	}
	return nil
}

// Attached returns a channel closed when a reattach has completed or
// failed (see AttachErr). It stays closed until the call is adopted again.
func (c *Call) Attached() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.attached == nil {
		c.attached = make(chan struct{})
	}
	return c.attached
}

// AttachErr is why the last reattach failed, or nil.
func (c *Call) AttachErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.attachErr
}

func (c *Call) clientOf() *Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.client
}
