package signalling

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/mixer"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/verto"
)

var (
	errCallEnded = errors.New("call ended")
	errNoAnswer  = errors.New("no local description")
)

// Call is one Verto call: a room member with a PeerConnection. It outlives
// its session while detached (verto-spec §7).
type Call struct {
	id  string
	srv *Server
	// room and part change only on the session loop (a moderator's
	// transfer), under mu; other goroutines read them through where().
	room   *room.Room
	part   *room.Participant
	dialog verto.DialogParams
	log    *zap.Logger

	sess        atomic.Pointer[Session] // nil while detached
	detachTimer *time.Timer             // guarded by the Server's mu

	mu         sync.Mutex
	sessid     string // the sessid of the session it was detached from
	pc         *webrtc.PeerConnection
	answered   bool
	attaching  bool
	ended      bool
	slots      []*forwarder.DownTrack
	mids       []string
	audioTrack *webrtc.TrackLocalStaticRTP
	camera     *forwarder.Receiver // the camera being published, nil for none
	audioIn    atomic.Pointer[mixer.Member]
	wg         sync.WaitGroup // goroutines reading this call's media
	sim        simulcastState
}

func newCall(s *Session, d *verto.DialogParams, r *room.Room) *Call {
	c := &Call{id: d.CallID, srv: s.srv, room: r, dialog: *d, log: s.log.With(zap.String("call", d.CallID), zap.String("room", r.Number()))}
	c.sess.Store(s)
	return c
}

// Notify implements room.Member.
func (c *Call) Notify(ev room.Event) {
	s := c.sess.Load()
	if s == nil {
		return
	}
	if e, ok := ev.(room.SlotsEvent); ok {
		c.prioritise(e)
		s.post(func() { c.sendSlots(s, e) })
	}
}

// Close implements room.Member: the room ends the call.
func (c *Call) Close(reason room.Reason) {
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
		s.leaveChannels(c.room)
	}
	c.end(code)
}

// end releases the call: it leaves the room and its PeerConnection closes.
// It must not be called with the room's lock held.
func (c *Call) end(code int) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	pc := c.pc
	c.pc = nil
	c.mu.Unlock()
	if r, p := c.where(); p != nil {
		r.Leave(p)
	}
	c.log.Info("call ended", zap.String("cause", verto.CauseName(code)))
	go func() {
		if pc != nil {
			_ = pc.Close()
		}
		c.wg.Wait()
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

func (c *Call) canRecover() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered && !c.ended && c.dialog.Recover()
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
	pc := c.pc
	c.pc = nil
	c.mu.Unlock()
	c.room.SetSlots(c.part, nil, nil)
	c.room.LeaveAudio(c.part)
	c.audioIn.Store(nil)
	if pc != nil {
		go func() { _ = pc.Close() }()
	}
	c.log.Info("call detached")
}

// newPC makes the call's PeerConnection, hooked to the room and session.
func (c *Call) newPC() (*webrtc.PeerConnection, error) {
	pc, est, err := c.srv.media.newPeerConnection()
	if err != nil {
		return nil, err
	}
	if !c.setPC(pc) {
		_ = pc.Close()
		return nil, errCallEnded
	}
	c.startDownlink(pc, est)
	c.watch(pc)
	if pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
		c.stopDownlink(pc) // closed before watch could see it
	}
	return pc, nil
}

// setPC records a new PeerConnection; false if the call ended meanwhile.
func (c *Call) setPC(pc *webrtc.PeerConnection) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return false
	}
	c.pc = pc
	return true
}

// setup answers the client's offer; it runs on its own goroutine because
// ICE gathering takes time, and posts the answer to the session.
func (c *Call) setup(offer string) {
	answer, err := c.negotiate(offer)
	s := c.sess.Load()
	if s == nil {
		return
	}
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
// as verto.js requires) and gives the member its slots.
func (c *Call) sendAnswer(s *Session, sdp string) {
	s.request(verto.MethodAnswer, verto.AnswerEvent{CallID: c.id, SDP: sdp})
	c.mu.Lock()
	c.answered = true
	slots, mids := c.slots, c.mids
	c.mu.Unlock()
	c.room.SetSlots(c.part, slots, mids)
	c.joinAudio()
	c.sendPvtData(s, verto.PvtActionJoin)
	c.log.Info("call answered", zap.Int("slots", len(slots)))
}

// negotiate makes a PeerConnection for the offer and returns the complete
// answer (every candidate in it: Verto clients do not trickle).
func (c *Call) negotiate(offer string) (string, error) {
	pc, err := c.newPC()
	if err != nil {
		return "", err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("offer: %w", err)
	}
	audio, video, err := wantedSenders(offer)
	if err != nil {
		return "", err
	}
	if err := c.addSenders(pc, audio, video, false); err != nil {
		return "", err
	}
	c.slotMIDs(pc)
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	return c.complete(pc, answer)
}

// complete sets the local description and waits for ICE gathering.
func (c *Call) complete(pc *webrtc.PeerConnection, desc webrtc.SessionDescription) (string, error) {
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(c.srv.ctx, c.srv.cfg.AnswerTimeout)
	defer cancel()
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("ice gathering: %w", ctx.Err())
	}
	ld := pc.LocalDescription()
	if ld == nil {
		return "", errNoAnswer
	}
	return ld.SDP, nil
}

// wantedSenders counts the offer's m-lines confd sends on: audio and video
// sections the client receives on (sendrecv or recvonly).
func wantedSenders(offer string) (audio, video int, err error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return 0, 0, fmt.Errorf("offer: %w", err)
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Port.Value == 0 || !clientReceives(m) {
			continue
		}
		switch m.MediaName.Media {
		case "audio":
			audio++
		case "video":
			video++
		}
	}
	return min(audio, 1), video, nil
}

func clientReceives(m *sdp.MediaDescription) bool {
	for _, a := range m.Attributes {
		switch a.Key {
		case "sendonly", "inactive":
			return false
		case "recvonly", "sendrecv":
			return true
		}
	}
	return true
}

// addSenders gives the PeerConnection its audio track (the mixer's output,
// later) and one DownTrack per video slot. When offering, it creates the
// transceivers itself: the first video one also receives the camera.
func (c *Call) addSenders(pc *webrtc.PeerConnection, audio, video int, offering bool) error {
	c.mu.Lock()
	c.slots, c.mids = nil, nil
	c.mu.Unlock()
	if audio > 0 {
		track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", slotStream(0))
		if err != nil {
			return err
		}
		if err := c.addSender(pc, track, offering, webrtc.RTPTransceiverDirectionSendrecv); err != nil {
			return err
		}
		c.mu.Lock()
		c.audioTrack = track
		c.mu.Unlock()
	}
	for i := range video {
		dir := webrtc.RTPTransceiverDirectionSendonly
		if i == 0 {
			dir = webrtc.RTPTransceiverDirectionSendrecv
		}
		if err := c.addSlot(pc, i, offering, dir); err != nil {
			return err
		}
	}
	return nil
}

// slotStream names the media stream (a=msid) that carries slot i. The
// mix's audio shares slot 0's: clients that show one remote stream
// (verto.js, @signalwire/js) attach the stream of each incoming track to
// one element, so the audio and the large tile must be one stream there.
// Further slots have streams of their own.
func slotStream(i int) string {
	if i == 0 {
		return "confd"
	}
	return fmt.Sprintf("confd-slot%d", i)
}

// addSlot adds video slot i.
func (c *Call) addSlot(pc *webrtc.PeerConnection, i int, offering bool, dir webrtc.RTPTransceiverDirection) error {
	dt := forwarder.NewDownTrack(fmt.Sprintf("slot%d", i), slotStream(i))
	if err := c.addSender(pc, dt, offering, dir); err != nil {
		return err
	}
	c.mu.Lock()
	c.slots = append(c.slots, dt)
	c.mu.Unlock()
	c.allocateSlots()
	return nil
}

func (c *Call) addSender(pc *webrtc.PeerConnection, t webrtc.TrackLocal, offering bool, dir webrtc.RTPTransceiverDirection) error {
	var sender *webrtc.RTPSender
	if offering {
		tr, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: dir})
		if err != nil {
			return err
		}
		sender = tr.Sender()
	} else {
		s, err := pc.AddTrack(t)
		if err != nil {
			return err
		}
		sender = s
	}
	c.goMedia(func() {
		if dt, ok := t.(*forwarder.DownTrack); ok {
			dt.ServeRTCP(sender)
			return
		}
		drainRTCP(sender)
	})
	return nil
}

// goMedia runs f as one of the call's media goroutines, unless the call has
// ended (end waits for them).
func (c *Call) goMedia(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// slotMIDs names each slot by its transceiver's media ID, once known.
func (c *Call) slotMIDs(pc *webrtc.PeerConnection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mids = make([]string, len(c.slots))
	for _, tr := range pc.GetTransceivers() {
		s := tr.Sender()
		if s == nil {
			continue
		}
		for i, dt := range c.slots {
			if s.Track() == dt {
				c.mids[i] = tr.Mid()
			}
		}
	}
}

func drainRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, forwarder.MaxPacketSize)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}

// watch hooks the PeerConnection's tracks and state to the room and session.
func (c *Call) watch(pc *webrtc.PeerConnection) {
	pc.OnTrack(func(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		c.goMedia(func() { c.onTrack(pc, track, recv) })
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateClosed {
			c.stopDownlink(pc)
		}
		if st != webrtc.PeerConnectionStateFailed {
			return
		}
		if s := c.sess.Load(); s != nil {
			s.post(func() {
				if s.calls[c.id] == c && c.currentPC() == pc {
					c.hangup(verto.CauseNormalTemporaryFailure, true)
				}
			})
		}
	})
}

// where is the call's room and member there.
func (c *Call) where() (*room.Room, *room.Participant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.room, c.part
}

func (c *Call) currentPC() *webrtc.PeerConnection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pc
}

func (c *Call) onTrack(pc *webrtc.PeerConnection, track *webrtc.TrackRemote, rr *webrtc.RTPReceiver) {
	if track.Kind() != webrtc.RTPCodecTypeVideo {
		c.readAudio(track, rr)
		return
	}
	if track.RID() != "" {
		c.onSimulcastTrack(pc, track, rr)
		return
	}
	recv := forwarder.NewReceiver(forwarder.ReceiverConfig{SSRC: uint32(track.SSRC()), Kind: forwarder.KindVideo, Log: c.log}, pc)
	recv.Start(track)
	c.goMedia(func() { readSenderReports(rr, "", recv) })
	c.publish(recv)
}

// publish makes recv the member's camera until it ends.
func (c *Call) publish(recv *forwarder.Receiver) {
	c.mu.Lock()
	c.camera = recv
	r, p := c.room, c.part
	c.mu.Unlock()
	r.Publish(p, recv)
	<-recv.Done()
	c.mu.Lock()
	if c.camera == recv {
		c.camera = nil
	}
	r, p = c.room, c.part
	c.mu.Unlock()
	r.Unpublish(p, recv)
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
