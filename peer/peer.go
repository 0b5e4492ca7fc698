package peer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/mixer"
	"github.com/confd/confd/room"
)

var (
	// ErrClosed is returned by a peer that has been closed.
	ErrClosed = errors.New("peer: closed")
	// ErrNoConnection is returned when the peer has no PeerConnection (it
	// has not answered an offer yet, or it is detached).
	ErrNoConnection = errors.New("peer: no PeerConnection")
	// ErrNoSlot names a slot the peer does not have.
	ErrNoSlot = errors.New("peer: no such slot")
	// ErrNotInRoom is returned before Join.
	ErrNotInRoom = errors.New("peer: not in a room")
	errNoLocal   = errors.New("peer: no local description")
)

// Signal is how a peer reaches the signalling that owns it (a Verto call,
// a SIP-over-websocket dialog, a WHIP session). The room calls Slots,
// Closed and Move with its lock held, and the peer calls Layers and Failed
// from its media goroutines: an implementation queues the work and never
// blocks.
type Signal interface {
	// Slots says who fills each of the peer's video slots now.
	Slots(e room.SlotsEvent)
	// Layers names the simulcast encodings of the peer's camera that
	// anyone watches, so that the client can stop encoding the others.
	Layers(active []string)
	// Failed says the PeerConnection failed (ICE or DTLS): the signalling
	// hangs up.
	Failed()
	// Closed says the room ended the member (kick, shutdown): the
	// signalling hangs up, then closes the peer.
	Closed(reason room.Reason)
	// Move asks to move the member to another room (a moderator's
	// transfer). The signalling calls MoveTo when it can, or refuses.
	Move(to *room.Room) error
}

// Keypad is a Signal that takes the client's key presses: RFC 4733
// telephone-events on its microphone's stream, one call per press, from
// the peer's audio reader (the implementation queues them and never
// blocks).
type Keypad interface {
	Digit(d byte)
}

// Membership is where a peer is: a room and its participant there. A move
// replaces it as a whole.
type Membership struct {
	Room *room.Room
	Part *room.Participant
}

// Peer is one browser PeerConnection in a room: it publishes the client's
// camera (a Receiver per layer) and microphone (into the room's mix), and
// it receives the room through its video slots (DownTracks shared out by
// the downlink's Allocator) and the mix's audio track. It survives its
// PeerConnection: a detached peer stays in the room with no media, and a
// new offer or answer gives it a new PeerConnection with the same slots.
//
// Locking: where and audioIn are atomics, read by the packet path and the
// room's callbacks; everything else is guarded by mu, which is never held
// across a call into pion, the room or the signalling.
type Peer struct {
	media  *Media
	sig    Signal
	keypad Keypad // sig, when it takes key presses
	log    *zap.Logger

	where   atomic.Pointer[Membership]
	audioIn atomic.Pointer[mixer.Member] // the mix input the microphone feeds; nil while not mixed

	mu         sync.Mutex
	closed     bool
	pc         *webrtc.PeerConnection
	down       *downlink // pc's estimate and Allocator
	slots      []*forwarder.DownTrack
	mids       []string  // mids[i] names slots[i]'s transceiver
	audioTrack *mixTrack // the track the mix goes out on; nil when the client receives no audio
	sendsAudio bool      // the client's microphone: its offer sends on an audio section
	inMix      bool      // in the room's mix for the current PeerConnection
	mixed      *mixTrack // the audio track the mix writes to now (nil while in the mix without one)
	audience   bool      // a viewer (Watch), not a member
	viewer     *room.Viewer
	camera     *forwarder.Receiver
	// byReceiver holds the forwarder.Receiver of each simulcast
	// transceiver: pion fires OnTrack once per rid, the first makes it.
	byReceiver map[*webrtc.RTPReceiver]*forwarder.Receiver
	// rids are the camera's simulcast rids as the client last sent them,
	// for the offer that reattaches it.
	rids []string

	wg sync.WaitGroup // every goroutine the peer starts
}

// New makes a peer that is in no room yet and has no PeerConnection.
func New(m *Media, sig Signal, log *zap.Logger) *Peer {
	if log == nil {
		log = zap.NewNop()
	}
	kp, _ := sig.(Keypad)
	return &Peer{media: m, sig: sig, keypad: kp, log: log}
}

var (
	_ room.Member = (*Peer)(nil)
	_ room.Mover  = (*Peer)(nil)
)

// Join makes the peer a member of r. Admission (a full or locked room)
// fails here, usually before any media is negotiated; a peer that joins
// once its media flows (after a PIN) publishes the camera it has then,
// and its slots and microphone go in at the next Activate.
func (p *Peer) Join(r *room.Room, info room.JoinInfo) error {
	part, err := r.Join(p, info)
	if err != nil {
		return err
	}
	p.where.Store(&Membership{Room: r, Part: part})
	if cam := p.Camera(); cam != nil {
		r.Publish(part, cam)
	}
	return nil
}

// Watch makes the peer one of r's audience instead of a member (a WHEP
// player): from Activate on, its first slot follows the room's video floor
// and its audio track carries the mix as a listener hears it. It has no
// participant: Where().Part stays nil. The room closing reaches the
// signalling as Closed.
func (p *Peer) Watch(r *room.Room) {
	p.mu.Lock()
	p.audience = true
	p.mu.Unlock()
	p.where.Store(&Membership{Room: r})
}

// Where is the peer's room and participant; zero before Join.
func (p *Peer) Where() Membership {
	if m := p.where.Load(); m != nil {
		return *m
	}
	return Membership{}
}

// Notify implements room.Member.
func (p *Peer) Notify(ev room.Event) {
	if e, ok := ev.(room.SlotsEvent); ok {
		p.prioritise(e)
		p.sig.Slots(e)
	}
}

// Close implements room.Member: the room ends the member's call, through
// the signalling.
func (p *Peer) Close(reason room.Reason) { p.sig.Closed(reason) }

// Move implements room.Mover, through the signalling.
func (p *Peer) Move(to *room.Room) error { return p.sig.Move(to) }

// Answer answers the client's offer on a new PeerConnection: it receives
// what the offer sends, and sends the mix on the offer's audio section
// and a slot on each video section the client receives on. The answer is
// complete (ICE gathered within ctx): Verto and SIP clients do not
// trickle. The slots and the mix start at Activate.
func (p *Peer) Answer(ctx context.Context, offer string) (string, error) {
	audio, video, sends, err := wantedSenders(offer)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	p.sendsAudio = sends
	p.mu.Unlock()
	pc, err := p.newPC()
	if err != nil {
		return "", err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("offer: %w", err)
	}
	p.noteRIDs(offer)
	if err := p.addSenders(pc, audio, video, false); err != nil {
		return "", err
	}
	p.slotMIDs(pc)
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	return p.complete(ctx, pc, answer)
}

// Renegotiate answers a re-offer on the current PeerConnection; receive
// video sections it adds become new slots (at the next Activate).
func (p *Peer) Renegotiate(ctx context.Context, offer string) (string, error) {
	pc := p.currentPC()
	if pc == nil {
		return "", ErrNoConnection
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", err
	}
	p.noteRIDs(offer)
	p.addMissingSlots(pc)
	p.slotMIDs(pc)
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	return p.complete(ctx, pc, answer)
}

// Offer builds a new PeerConnection for a peer whose client lost the last
// one and returns its complete offer: audio, and as many video sections
// as the peer had slots (the first also receives the camera, as the same
// simulcast rids when the camera had them). AcceptAnswer takes the reply.
func (p *Peer) Offer(ctx context.Context) (string, error) {
	pc, err := p.newPC()
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	video := max(len(p.slots), 1)
	rids := p.rids
	p.mu.Unlock()
	if err := p.addSenders(pc, 1, video, true); err != nil {
		return "", err
	}
	desc, err := pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	sdp, err := p.complete(ctx, pc, desc)
	p.slotMIDs(pc)
	if err != nil {
		return "", err
	}
	return withRecvSimulcast(sdp, rids)
}

// AcceptAnswer applies the client's answer to Offer.
func (p *Peer) AcceptAnswer(answer string) error {
	pc := p.currentPC()
	if pc == nil {
		return ErrNoConnection
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return err
	}
	p.noteRIDs(answer)
	return nil
}

// Activate puts the negotiated media into the room: the slots (they are
// filled, and the signalling is told who is in each), and the microphone
// and the mix's audio track, when new, into the mixer; for a viewer, its
// first slot and the mix's track into the audience. The signalling calls
// it once the client has (or is about to have) the answer.
func (p *Peer) Activate() {
	m := p.Where()
	p.mu.Lock()
	if p.audience {
		p.mu.Unlock()
		p.joinAudience(m.Room)
		return
	}
	if m.Part == nil { // not joined yet (a PIN to come): nothing goes in
		p.mu.Unlock()
		return
	}
	slots, mids, track := p.slots, p.mids, p.audioTrack
	fresh := (track != nil || p.sendsAudio) && (!p.inMix || track != p.mixed)
	if fresh {
		p.mixed, p.inMix = track, true
	}
	p.mu.Unlock()
	m.Room.SetSlots(m.Part, slots, mids)
	if fresh {
		p.joinAudio(m, track)
	}
}

// joinAudience joins the audience with the current first slot and audio
// track, unless the peer is there with them already.
func (p *Peer) joinAudience(r *room.Room) {
	p.mu.Lock()
	var slot *forwarder.DownTrack
	if len(p.slots) > 0 {
		slot = p.slots[0]
	}
	track, old := p.audioTrack, p.viewer
	same := old != nil && track == p.mixed && p.inMix
	p.mu.Unlock()
	if same || r == nil {
		return
	}
	if old != nil {
		old.Leave()
	}
	var w mixer.PacketWriter
	if track != nil {
		w = newAudioOut(track)
	}
	v, err := r.Watch(slot, w, func() { p.sig.Closed(room.ReasonShutdown) })
	if err != nil {
		p.log.Info("cannot watch", zap.Error(err))
		return
	}
	p.mu.Lock()
	p.viewer, p.mixed, p.inMix = v, track, true
	p.mu.Unlock()
}

// Detach stops the peer's media after its client went away: the
// PeerConnection closes and the slots and the mix let go of it, but the
// member stays in the room, for Offer to bring back.
func (p *Peer) Detach() {
	p.mu.Lock()
	pc, v := p.pc, p.viewer
	p.pc, p.mixed, p.inMix, p.viewer = nil, nil, false, nil
	p.mu.Unlock()
	if v != nil {
		v.Leave()
	}
	if m := p.Where(); m.Part != nil {
		m.Room.SetSlots(m.Part, nil, nil)
		m.Room.LeaveAudio(m.Part)
	}
	p.audioIn.Store(nil)
	if pc != nil {
		p.spawn(func() { _ = pc.Close() })
	}
}

// Leave takes the peer out of its room. It is idempotent, and must not be
// called with the room's lock held.
func (p *Peer) Leave() {
	p.mu.Lock()
	v := p.viewer
	p.viewer = nil
	p.mu.Unlock()
	if v != nil {
		v.Leave()
	}
	if m := p.Where(); m.Part != nil {
		m.Room.Leave(m.Part)
	}
	p.audioIn.Store(nil)
}

// Shut ends the peer: it leaves its room and its PeerConnection closes;
// Shut returns once every goroutine the peer started has ended. It must
// not be called with a room's lock held, nor from a goroutine of the
// peer's own.
func (p *Peer) Shut() {
	p.mu.Lock()
	first := !p.closed
	p.closed = true
	pc, down := p.pc, p.down
	p.pc = nil
	p.mu.Unlock()
	if first {
		p.Leave()
		if pc != nil {
			_ = pc.Close()
		}
		down.close()
	}
	p.wg.Wait()
}

// spawn runs f as one of the peer's goroutines, unless the peer is shut
// (Shut waits for them).
func (p *Peer) spawn(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
	return true
}

// newPC makes the peer's next PeerConnection, hooked to the room and the
// signalling, with its own downlink.
func (p *Peer) newPC() (*webrtc.PeerConnection, error) {
	pc, est, err := p.media.newPeerConnection()
	if err != nil {
		return nil, err
	}
	d := newDownlink(pc, est, p.log)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = pc.Close()
		return nil, ErrClosed
	}
	old, oldPC := p.down, p.pc
	p.pc, p.down = pc, d
	p.mu.Unlock()
	old.close()
	if oldPC != nil {
		p.spawn(func() { _ = oldPC.Close() })
	}
	p.spawn(func() { d.alloc.Run(d.stop) })
	p.watch(pc)
	if pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
		p.stopDownlink(pc) // closed before watch could see it
	}
	return pc, nil
}

// complete sets the local description, waits for ICE gathering and
// returns the description to send, with Opus DTX asked for (dtx_sdp.go).
func (p *Peer) complete(ctx context.Context, pc *webrtc.PeerConnection, desc webrtc.SessionDescription) (string, error) {
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("ice gathering: %w", ctx.Err())
	}
	ld := pc.LocalDescription()
	if ld == nil {
		return "", errNoLocal
	}
	return withDTX(ld.SDP), nil
}

// watch hooks the PeerConnection's tracks and state to the room and the
// signalling.
func (p *Peer) watch(pc *webrtc.PeerConnection) {
	pc.OnTrack(func(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		p.spawn(func() { p.onTrack(pc, track, recv) })
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateClosed:
			p.stopDownlink(pc)
		case webrtc.PeerConnectionStateFailed:
			if p.currentPC() == pc {
				p.sig.Failed()
			}
		}
	})
}

func (p *Peer) currentPC() *webrtc.PeerConnection {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pc
}

// PC is the current PeerConnection, nil while detached.
func (p *Peer) PC() *webrtc.PeerConnection { return p.currentPC() }

// noteRIDs records the camera's simulcast rids from a remote description
// (the client's offer or answer), for a later reattach offer.
func (p *Peer) noteRIDs(remote string) {
	rids := sendRIDs(remote)
	p.mu.Lock()
	p.rids = rids
	p.mu.Unlock()
}

// MoveTo moves the peer to room to on the same PeerConnection: it joins
// to with the same name and role, then (after between, which the
// signalling uses to say goodbye to the old room while it is still
// there) leaves the old room; its camera, slots and audio follow.
func (p *Peer) MoveTo(to *room.Room, between func(from Membership)) error {
	from := p.Where()
	if from.Part == nil {
		return ErrNotInRoom
	}
	part, err := to.Join(p, from.Part.Info)
	if err != nil {
		return err
	}
	if between != nil {
		between(from)
	}
	from.Room.Leave(from.Part)
	m := Membership{Room: to, Part: part}
	p.where.Store(&m)
	p.mu.Lock()
	slots, mids, cam, track, mixed := p.slots, p.mids, p.camera, p.mixed, p.inMix
	p.mu.Unlock()
	to.SetSlots(part, slots, mids)
	if cam != nil {
		to.Publish(part, cam)
	}
	if mixed {
		p.joinAudio(m, track)
	}
	return nil
}

// RefreshVideo asks every source the client watches for a key frame.
func (p *Peer) RefreshVideo() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, dt := range p.slots {
		if src := dt.Source(); src != nil {
			src.RequestKeyframe()
		}
	}
}

// SetSlotSize records the size at which the client draws slot i; the slot
// then gets the simulcast layer that fits it.
func (p *Peer) SetSlotSize(i, width, height int) error {
	dt := p.slot(i)
	if dt == nil || width < 0 || height < 0 {
		return ErrNoSlot
	}
	dt.SetRenderSize(width, height)
	return nil
}

func (p *Peer) slot(i int) *forwarder.DownTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i < 0 || i >= len(p.slots) {
		return nil
	}
	return p.slots[i]
}

// Camera is the camera the peer publishes now, nil for none.
func (p *Peer) Camera() *forwarder.Receiver {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.camera
}
