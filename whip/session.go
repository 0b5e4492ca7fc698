package whip

import (
	"context"
	"errors"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/peer"
	"github.com/confd/confd/room"
)

// session is one WHIP publisher or WHEP viewer: the resource a client
// created with its offer, around the peer that holds its media. It is the
// peer's signalling: there is no channel back to the client, so it only
// ends the session when the media fails or the room lets the member go.
type session struct {
	srv  *Server
	id   string
	kind string
	addr string
	p    *peer.Peer

	mu     sync.Mutex
	remote string // the client's offer as last applied (with a restart's credentials)
	etag   string // names the ICE session; a restart makes a new one
}

var _ peer.Signal = (*session)(nil)

// Slots implements peer.Signal: a WHIP or WHEP client is told nothing.
func (*session) Slots(room.SlotsEvent) {}

// Layers implements peer.Signal: there is no channel to tell a WHIP
// publisher which encodings are watched, so it keeps sending them all.
func (*session) Layers([]string) {}

// Failed implements peer.Signal: the session ends.
func (ss *session) Failed() { ss.srv.end(ss, "ice failed") }

// Closed implements peer.Signal: a moderator removed the member, or the
// room closed. It is called with the room's lock held, and ending leaves
// the room, so the session ends on a goroutine of the Server's.
func (ss *session) Closed(room.Reason) {
	ss.srv.spawn(func() { ss.srv.end(ss, "closed by the room") })
}

// Move implements peer.Signal: a moderator moves the broadcaster to another
// room; its resource stays where it is.
func (ss *session) Move(to *room.Room) error {
	if ss.kind != kindWHIP {
		return errors.New("a viewer is not a member")
	}
	return ss.p.MoveTo(to, nil)
}

// trickle adds the fragment's candidates to the current ICE session.
func (ss *session) trickle(f sdpFrag) error {
	pc := ss.p.PC()
	if pc == nil {
		return peer.ErrNoConnection
	}
	for _, c := range f.candidates {
		mid := c.mid
		init := webrtc.ICECandidateInit{Candidate: c.line}
		if mid != "" {
			init.SDPMid = &mid
		}
		if err := pc.AddICECandidate(init); err != nil {
			return err
		}
	}
	return nil
}

// restart answers an ICE restart: the client's last offer with the
// fragment's credentials and candidates is renegotiated on the same
// PeerConnection; the answer's new credentials and candidates go back as a
// fragment, under a new ETag.
func (ss *session) restart(ctx context.Context, f sdpFrag) (frag, etag string, err error) {
	ss.mu.Lock()
	remote := ss.remote
	ss.mu.Unlock()
	offer, err := withCredentials(remote, f)
	if err != nil {
		return "", "", err
	}
	answer, err := ss.p.Renegotiate(ctx, offer)
	if err != nil {
		return "", "", err
	}
	frag, err = answerFrag(answer)
	if err != nil {
		return "", "", err
	}
	ss.mu.Lock()
	ss.remote, ss.etag = offer, newETag()
	etag = ss.etag
	ss.mu.Unlock()
	return frag, etag, nil
}
