package signalling

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/confd/confd/peer"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/verto"
)

// Call is one Verto call: the dialog (its callID, dialog params and state)
// of a peer.Peer, which is the room member and owns the media. It
// outlives its session while detached (verto-spec §7).
type Call struct {
	id     string
	srv    *Server
	dialog verto.DialogParams
	log    *zap.Logger
	peer   *peer.Peer

	sess        atomic.Pointer[Session] // nil while detached
	detachTimer *time.Timer             // guarded by the Server's mu

	mu        sync.Mutex
	sessid    string // the sessid of the session it was detached from
	answered  bool
	attaching bool // a verto.attach offer is out, waiting for the client's answer
	ended     bool
}

var _ peer.Signal = (*Call)(nil)

func newCall(s *Session, d *verto.DialogParams, r *room.Room) *Call {
	c := &Call{id: d.CallID, srv: s.srv, dialog: *d, log: s.log.With(zap.String("call", d.CallID), zap.String("room", r.Number()))}
	c.peer = peer.New(s.srv.media, c, c.log)
	c.sess.Store(s)
	return c
}

// room is the call's room now (nil before it joined one).
func (c *Call) room() *room.Room { return c.peer.Where().Room }

// part is the call's member in its room (nil before it joined one).
func (c *Call) part() *room.Participant { return c.peer.Where().Part }

// Slots implements peer.Signal: the confd.slots event, when connected.
func (c *Call) Slots(e room.SlotsEvent) {
	if s := c.sess.Load(); s != nil {
		s.post(func() { c.sendSlots(s, e) })
	}
}

// Failed implements peer.Signal: ICE or DTLS failed, and the call is hung
// up with NORMAL_TEMPORARY_FAILURE.
func (c *Call) Failed() {
	if s := c.sess.Load(); s != nil {
		c.hangupOn(s, verto.CauseNormalTemporaryFailure)
	}
}

// Closed implements peer.Signal: the room ends the call. It is called
// under the room's lock, so a detached call ends on a goroutine of its
// own (the call stays registered with the Server until it has ended).
func (c *Call) Closed(reason room.Reason) {
	code := verto.CauseManagerRequest
	if reason == room.ReasonShutdown {
		code = verto.CauseSystemShutdown
	}
	if s := c.sess.Load(); s != nil {
		c.hangupOn(s, code)
		return
	}
	go c.endDetached(code)
}

// hangupOn has session s hang the call up, if the call is still s's.
func (c *Call) hangupOn(s *Session, code int) {
	s.post(func() {
		if s.calls[c.id] == c {
			c.hangup(code, true)
		}
	})
}

// hangup ends the call from the session loop, telling the client when the
// server is the one hanging up.
func (c *Call) hangup(code int, sendBye bool) {
	if s := c.sess.Load(); s != nil {
		if c.isAnswered() {
			c.sendPvtData(s, verto.PvtActionPart)
		}
		if sendBye {
			s.request(verto.MethodBye, verto.NewByeEvent(c.id, code))
		}
		delete(s.calls, c.id)
		s.leaveChannels(c.room())
	}
	c.end(code)
}

// end releases the call: its member leaves the room now, and the peer
// shuts on a goroutine of its own, after which the call is no longer
// registered with the Server (whose Shutdown waits for that). It must not
// be called with the room's lock held.
func (c *Call) end(code int) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	c.mu.Unlock()
	c.peer.Leave()
	c.log.Info("call ended", zap.String("cause", verto.CauseName(code)))
	go func() {
		c.peer.Shut()
		c.srv.removeCall(c)
	}()
}

// endDetached ends a call the room closed while it had no session. A
// session that has taken it back meanwhile hangs it up instead.
func (c *Call) endDetached(code int) {
	c.mu.Lock()
	sessid := c.sessid
	c.mu.Unlock()
	if c.srv.undetach(sessid, c) {
		c.end(code)
		return
	}
	if s := c.sess.Load(); s != nil {
		c.hangupOn(s, code)
		return
	}
	c.end(code)
}

// canRecover says whether the call is kept for a reconnect when its
// socket drops: an answered call whose client did not ask otherwise
// (recoverCall:false). Screen shares are kept too: confd's page brings
// its share back through verto.attach.
func (c *Call) canRecover() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered && !c.ended && c.dialog.Recover()
}

func (c *Call) isAnswered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered
}

// detachFrom parks the call after its session s went away: the media stops
// (the client closes its PeerConnection when its socket drops) but the
// member stays in the room.
func (c *Call) detachFrom(s *Session) {
	if !c.sess.CompareAndSwap(s, nil) {
		return
	}
	c.mu.Lock()
	c.sessid = s.sessid
	c.mu.Unlock()
	c.peer.Detach()
	c.log.Info("call detached")
}

// setup answers the client's offer; it runs on a goroutine of the
// session's because ICE gathering takes time, and posts the answer to it.
func (c *Call) setup(s *Session, offer string) {
	ctx, cancel := context.WithTimeout(s.ctx, c.srv.cfg.AnswerTimeout)
	answer, err := c.peer.Answer(ctx, offer)
	cancel()
	s.post(func() {
		if s.calls[c.id] != c {
			return
		}
		if err != nil {
			c.log.Info("cannot answer", zap.Error(err))
			c.hangup(verto.CauseIncompatibleDestination, true)
			return
		}
		c.sendAnswer(s, verto.AudioFirst(offer, answer))
	})
}

// sendAnswer sends verto.answer (the invite's result was written before,
// as verto.js requires), then the media starts in the room.
func (c *Call) sendAnswer(s *Session, sdp string) {
	s.request(verto.MethodAnswer, verto.AnswerEvent{CallID: c.id, SDP: sdp})
	c.mu.Lock()
	c.answered = true
	c.mu.Unlock()
	c.peer.Activate()
	c.sendPvtData(s, verto.PvtActionJoin)
	c.log.Info("call answered", zap.Int("slots", len(c.peer.Stats().Slots)))
}

// slotsChannel names the confd.slots event (docs/protocol.md). Plain Verto
// clients drop events on channels they did not subscribe to.
const slotsChannel = "confd.slots"

type slotsData struct {
	CallID string     `json:"callID"`
	Slots  []slotData `json:"slots"`
}

type slotData struct {
	Slot     int    `json:"slot"`
	MID      string `json:"mid"`
	MemberID int    `json:"memberID"`
	Name     string `json:"name,omitempty"`
	Floor    bool   `json:"floor"`
	Pinned   bool   `json:"pinned"`
	Banner   string `json:"banner,omitempty"`
}

// sendSlots tells the client which member fills each of its slots
// (the confd.slots event of docs/protocol.md).
func (c *Call) sendSlots(s *Session, e room.SlotsEvent) {
	data := slotsData{CallID: c.id, Slots: make([]slotData, len(e.Slots))}
	for i, sv := range e.Slots {
		data.Slots[i] = slotData{Slot: sv.Index, MID: sv.MID, MemberID: sv.MemberID, Name: sv.Name, Floor: sv.Floor, Pinned: sv.Pinned, Banner: sv.Banner}
	}
	s.request(verto.MethodEvent, verto.Event{EventChannel: slotsChannel, EventType: slotsChannel, Data: data, Sessid: s.sessid})
}
