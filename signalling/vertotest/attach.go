package vertotest

import (
	"context"
	"time"

	"github.com/pion/webrtc/v4"
)

// reattach answers confd's verto.attach offer with a new PeerConnection,
// as verto.js does after a reconnect.
func (c *Call) reattach(offer string) {
	c.Close()
	pc, err := NewPeerConnection()
	if err != nil {
		return
	}
	c.mu.Lock()
	c.pc = pc
	c.streams = map[string]*Stream{}
	c.mu.Unlock()
	pc.OnTrack(c.onTrack)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return
	}
	if c.camera != nil {
		if err := c.attachCamera(pc); err != nil {
			return
		}
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return
	}
	sdp, err := gather(pc, answer)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.client.Request(ctx, "verto.attach", map[string]any{"sdp": sdp, "dialogParams": c.dialog()})
	if err == nil && r.Error == nil {
		c.startPublishing()
		c.mu.Lock()
		if c.attached != nil {
			close(c.attached)
			c.attached = nil
		}
		c.mu.Unlock()
	}
}

func (c *Call) attachCamera(pc *webrtc.PeerConnection) error {
	sender, err := pc.AddTrack(c.camera)
	if err != nil {
		return err
	}
	go c.readCameraRTCP(sender)
	return nil
}

// Attached returns a channel closed when a reattach completes.
func (c *Call) Attached() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.attached == nil {
		c.attached = make(chan struct{})
	}
	return c.attached
}
