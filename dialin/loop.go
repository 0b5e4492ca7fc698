package dialin

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/confd/confd/mixer"
	"github.com/confd/confd/room"
)

// run is the call goroutine: it owns the call's state from the answer to
// the end, reacting to digits, media changes, the room and its timers.
func (c *call) run() {
	defer c.finish()
	c.started, c.lastRTCP, c.startedMix = time.Now(), time.Now(), mixer.Now()
	c.begin()
	house := time.NewTicker(time.Second)
	defer house.Stop()
	for c.phase != phaseEnded {
		select {
		case ev := <-c.events:
			c.handle(ev)
		case r := <-c.closing:
			c.closedBy(r)
		case <-c.pumpC():
			_ = c.port.pump()
		case now := <-house.C:
			c.tick(now)
		case <-c.dlg.Context().Done():
			c.log.Info("caller hung up")
			c.end(false)
		}
	}
}

// begin starts the answered call: in the room already, or at the PIN
// prompt.
func (c *call) begin() {
	if c.part != nil {
		c.enterRoom()
		return
	}
	c.phase = phasePIN
	c.startPump()
	c.say(nil, "pin")
}

func (c *call) handle(ev event) {
	switch ev.kind {
	case evDigits:
		for i := 0; i < len(ev.digits); i++ {
			c.digit(ev.digits[i])
		}
	case evMedia:
		c.mediaChanged()
	case evMove:
		c.move(ev.to)
	case evPromptDone:
		c.promptDone(ev.seq)
	case evHangup:
		c.end(true)
	}
}

func (c *call) digit(d byte) {
	switch c.phase {
	case phasePIN:
		c.pinDigit(d)
	case phaseInRoom:
		c.room.DTMF(c.part, string(d))
		c.keypadDigit(d)
	}
}

// closedBy ends the call because its room said so: a kick or shutdown.
func (c *call) closedBy(r room.Reason) {
	c.log.Info("room ended the call", zap.Stringer("reason", r))
	c.end(true)
}

// tick runs once a second: the RTP inactivity timeout, the PIN timeout
// and RTCP reports.
func (c *call) tick(now time.Time) {
	_, ok, held := c.currentMedia()
	if ok && !held && c.port.idle(mixer.Now(), c.startedMix) > c.srv.cfg.RTPTimeout {
		c.log.Info("no RTP: hanging up", zap.Duration("timeout", c.srv.cfg.RTPTimeout))
		c.end(true)
		return
	}
	if c.phase == phasePIN && now.Sub(c.started) > pinTimeout {
		c.leaveWith("goodbye")
	}
	if now.Sub(c.lastRTCP) >= rtcpInterval {
		c.lastRTCP = now
		c.port.sendReport("confd")
	}
}

// mediaChanged applies a new offer/answer: join the mix once media is
// agreed, rebuild the mixer member if the codec changed, follow hold.
func (c *call) mediaChanged() {
	m, ok, held := c.currentMedia()
	if !ok || c.part == nil {
		return
	}
	if c.inMix && m.codec != c.codec {
		c.leaveMix()
	}
	if !c.inMix && c.phase == phaseInRoom {
		c.joinMix()
	}
	if held != c.held {
		c.held = held
		c.room.SetHold(c.part, held)
		c.log.Info("hold", zap.Bool("held", held))
	}
}

// say plays the named prompts, then runs then (if not nil) on this
// goroutine when they have been sent. A newer prompt replaces an older one
// and its then.
func (c *call) say(then func(), names ...string) {
	m, _, _ := c.currentMedia()
	c.promptSeq++
	seq := c.promptSeq
	c.after = then
	c.port.play(c.srv.prompts.audio(m.codec, names...), func() {
		c.post(event{kind: evPromptDone, seq: seq})
	})
}

func (c *call) promptDone(seq uint64) {
	if seq != c.promptSeq || c.after == nil {
		return
	}
	f := c.after
	c.after = nil
	f()
}

// leaveWith plays the prompts and hangs up after them.
func (c *call) leaveWith(names ...string) {
	c.phase = phaseLeaving
	c.leaveRoom()
	c.startPump()
	c.say(func() { c.end(true) }, names...)
}

// startPump clocks the call's own frames (prompts, silence) while it is
// out of the mix; the mixer clocks them otherwise.
func (c *call) startPump() {
	if c.pump == nil {
		c.pump = time.NewTicker(mixer.FrameMillis * time.Millisecond)
	}
}

func (c *call) stopPump() {
	if c.pump != nil {
		c.pump.Stop()
		c.pump = nil
	}
}

func (c *call) pumpC() <-chan time.Time {
	if c.pump == nil {
		return nil
	}
	return c.pump.C
}

// end finishes the call: out of the room, and a BYE when confd is the
// one hanging up (RFC 3261 §15.1.1).
func (c *call) end(bye bool) {
	if c.phase == phaseEnded {
		return
	}
	c.phase = phaseEnded
	c.leaveRoom()
	c.stopPump()
	c.port.stopPrompt()
	if bye {
		ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
		defer cancel()
		if err := c.dlg.Bye(ctx); err != nil {
			c.log.Info("BYE failed", zap.Error(err))
		}
	}
}

// finish releases what the call holds once its goroutine ends.
// Unregistering comes last: Shutdown waits for it.
func (c *call) finish() {
	c.stopPump()
	c.port.close()
	_ = c.dlg.Close()
	c.log.Info("call ended")
	c.srv.unregister(c)
}
