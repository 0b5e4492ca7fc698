package dialin

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/confd/confd/mixer"
	"github.com/confd/confd/room"
)

// phase is where a call is in its life.
type phase int

const (
	phaseAnswering phase = iota // before 200 OK
	phasePIN                    // answered, collecting the PIN
	phaseInRoom                 // a member of its room
	phaseLeaving                // saying goodbye before the BYE
	phaseEnded
)

// Timeouts of the call's own making.
const (
	// pinTimeout bounds the PIN phase: a caller who never finishes a PIN
	// must not hold a media port forever.
	pinTimeout = 60 * time.Second
	// byeTimeout bounds how long confd waits for the 200 to its BYE.
	byeTimeout = 5 * time.Second
)

// call is one phone leg's orchestration: the room, the PIN, the keypad,
// timeouts and how the call ends. After the answer, everything but the
// fields under mu belongs to its goroutine (run); the SIP handlers and the
// room reach it through post and Close.
type call struct {
	srv    *Server
	log    *zap.Logger
	room   *room.Room
	who    caller
	number string // the calling number; logged and shown only masked
	src    netip.AddrPort
	dlg    *sipgo.DialogServerSession
	port   *mediaPort

	mu          sync.Mutex // guards the negotiation state below
	origin      sdpOrigin
	offer       *sdpAudio // the peer's last offer; nil while confd offered
	media       media
	mediaOK     bool // media has been agreed
	awaitAnswer bool // confd offered in a 2xx; the answer comes in the ACK

	events  chan event
	closing chan room.Reason

	// Owned by run.
	phase      phase
	part       *room.Participant
	role       room.Role
	codec      mixer.Codec // the codec the mixer member was made with
	inMix      bool
	held       bool
	entry      []byte // PIN digits so far
	tries      int
	star       bool // '*' pressed: the next digit is a keypad command
	started    time.Time
	startedMix int64 // mixer.Now() at started
	lastRTCP   time.Time
	pump       *time.Ticker
	promptSeq  uint64
	after      func() // what to do when the current prompt ends
}

// event is something for the call goroutine to act on.
type event struct {
	kind   eventKind
	digits string
	to     *room.Room
	seq    uint64
}

type eventKind int

const (
	evDigits eventKind = iota
	evMedia
	evMove
	evPromptDone
	evHangup // the media is unusable: end with a BYE
)

func newCall(s *Server, r *room.Room, who caller, number string, src netip.AddrPort) *call {
	c := &call{srv: s, room: r, who: who, number: number, src: src,
		events: make(chan event, 64), closing: make(chan room.Reason, 1)}
	c.log = s.log.With(zap.String("room", r.Number()), zap.String("caller", c.shownNumber()))
	return c
}

// post queues an event for the call goroutine without blocking; a call
// that lets 64 events pile up loses the newest (digits pressed in a storm).
func (c *call) post(ev event) {
	select {
	case c.events <- ev:
	default:
	}
}

// readOffer reads the INVITE's offer, if it has one (RFC 3264 §5).
func (c *call) readOffer(body []byte) error {
	if len(body) == 0 {
		return nil // a late offer: confd offers in the 200 (RFC 3261 §13.2.1)
	}
	a, err := parseSDP(body)
	if err != nil {
		if errors.Is(err, ErrNoAudio) {
			return reject(488, "Not Acceptable Here", err)
		}
		return reject(400, "Bad Request", err)
	}
	m, err := negotiate(a, c.srv.cfg.Codecs)
	if err != nil {
		return reject(488, "Not Acceptable Here", err)
	}
	c.offer, c.media, c.mediaOK = a, m, true
	return nil
}

// open makes the dialog, says 100 Trying and binds the media port.
func (c *call) open(req *sip.Request, tx sip.ServerTransaction) error {
	dlg, err := c.srv.dialogUA(req).ReadInvite(req, tx)
	if err != nil {
		return reject(400, "Bad Request", err)
	}
	c.dlg = dlg
	c.log = c.log.With(zap.String("call", req.CallID().Value()))
	_ = dlg.Respond(100, "Trying", nil)
	bind, announce := c.srv.mediaAddrs(arrivalOf(req).Addr())
	rtp, rtcp, port, err := c.srv.ports.open(bind)
	if err != nil {
		return reject(503, "Service Unavailable", err)
	}
	local := netip.AddrPortFrom(announce, port)
	c.port = newMediaPort(rtp, rtcp, local, c.onDigit)
	c.origin = sdpOrigin{id: uint64(time.Now().UnixNano()), addr: local}
	if c.mediaOK {
		c.port.setMedia(c.media, c.src.Addr())
	}
	c.port.start()
	return nil
}

// onDigit runs on the media reader goroutine for each RFC 4733 digit.
func (c *call) onDigit(d byte) { c.post(event{kind: evDigits, digits: string(d)}) }

// preAnswer joins a room that has no PIN before the call is answered.
func (c *call) preAnswer() error {
	if hasPIN(c.room) {
		return nil
	}
	return c.join(c.defaultRole())
}

// ring sends 180 Ringing and waits Ring before answering, unless the
// caller cancels (sipgo has then answered 487) or the server stops.
func (c *call) ring() error {
	if c.srv.cfg.Ring <= 0 {
		return nil
	}
	_ = c.dlg.Respond(180, "Ringing", nil)
	t := time.NewTimer(c.srv.cfg.Ring)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.dlg.Context().Done():
		return context.Cause(c.dlg.Context())
	case r := <-c.closing:
		_ = c.dlg.Respond(503, "Service Unavailable", nil)
		return errors.New(r.String())
	}
}

// respondOK sends the 200 with confd's answer (or its offer, when the
// INVITE had none) and waits for the ACK.
func (c *call) respondOK() error {
	c.mu.Lock()
	var body []byte
	if c.offer != nil {
		body = c.origin.answer(c.offer, c.media, c.media.dir.reverse())
	} else {
		body = c.origin.offer(c.srv.cfg.Codecs)
		c.awaitAnswer = true
	}
	c.mu.Unlock()
	res := sip.NewSDPResponseFromRequest(c.dlg.InviteRequest, body)
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	return c.dlg.WriteResponse(res)
}

// abort releases a call that never got to run.
func (c *call) abort() {
	c.leaveRoom()
	c.port.close()
	_ = c.dlg.Close()
	c.srv.unregister(c)
}

// acked takes the ACK's body: the answer to an offer confd made in a 2xx
// (RFC 3264 §5, RFC 3261 §13.2.1). Without one the call cannot have media
// and is hung up.
func (c *call) acked(body []byte, src netip.Addr) {
	c.mu.Lock()
	wanted := c.awaitAnswer
	c.awaitAnswer = false
	c.mu.Unlock()
	if !wanted {
		return
	}
	a, err := parseSDP(body)
	var m media
	if err == nil {
		m, err = negotiate(a, c.srv.cfg.Codecs)
	}
	if err != nil {
		c.log.Info("no usable answer in the ACK", zap.Error(err))
		c.post(event{kind: evHangup})
		return
	}
	c.setMedia(m, src)
}

func (c *call) setMedia(m media, src netip.Addr) {
	c.mu.Lock()
	c.media, c.mediaOK = m, true
	c.mu.Unlock()
	c.port.setMedia(m, src)
	c.post(event{kind: evMedia})
}

// reoffer answers a re-INVITE's offer; an empty one gets confd's offer,
// answered in the ACK. The current codec is preferred, so that hold and
// unhold never rebuild the mixer member.
func (c *call) reoffer(body []byte, src netip.Addr) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(body) == 0 {
		c.awaitAnswer = true
		return c.origin.offer(c.srv.cfg.Codecs), nil
	}
	a, err := parseSDP(body)
	if err != nil {
		return nil, reject(488, "Not Acceptable Here", err)
	}
	prefs := append([]mixer.Codec{c.media.codec}, c.srv.cfg.Codecs...)
	m, err := negotiate(a, prefs)
	if err != nil {
		return nil, reject(488, "Not Acceptable Here", err)
	}
	c.offer, c.media, c.mediaOK = a, m, true
	c.port.setMedia(m, src)
	c.post(event{kind: evMedia})
	return c.origin.answer(a, m, m.dir.reverse()), nil
}

// currentMedia is the agreed media and whether it is on hold.
func (c *call) currentMedia() (media, bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	held := c.mediaOK && (c.media.dir == sendonly || c.media.dir == inactive || c.media.remote.Addr().IsUnspecified())
	return c.media, c.mediaOK, held
}

// pinKeys are this caller's PIN-lockout keys.
func (c *call) pinKeys() []pinKey { return c.srv.guard.pinKeys(c.who, c.number, c.room.Number()) }

// shownNumber is the caller ID as the participant list and logs show it.
func (c *call) shownNumber() string {
	if c.srv.cfg.ShowCallerID {
		return c.number
	}
	return maskNumber(c.number)
}

// displayName is the phonebook's name for the caller, an account's name,
// or "Phone user".
func (c *call) displayName() string {
	if n, ok := c.srv.cfg.Phonebook[c.number]; ok {
		return n
	}
	if c.who.user != nil && c.who.user.Name != "" {
		return c.who.user.Name
	}
	return "Phone user"
}

func (c *call) defaultRole() room.Role {
	if c.who.user != nil {
		return c.who.user.Role
	}
	return room.RoleParticipant
}
