package dialintest

import (
	"context"
	"encoding/binary"
	"math"
	"net/netip"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/confd/confd/mixer"
)

// maxHeard is how much the phone keeps of what it heard: the last second.
const maxHeard = mixer.NarrowRate

// readRTP decodes what confd sends in the agreed codec; the last second is
// kept for ToneLevel.
func (p *Phone) readRTP() {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	pcm := make([]int16, 1500)
	for {
		n, from, err := p.rtp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if n < 12 || buf[1]&0x7f != p.pt {
			continue
		}
		if last := p.from.Load(); last == nil || *last != from {
			p.from.Store(&from)
		}
		if p.opts.Lean {
			p.received.Add(1)
			continue
		}
		payload := buf[12:n]
		var m int
		if p.codec == mixer.CodecPCMA {
			m = mixer.DecodeALaw(pcm, payload)
		} else {
			m = mixer.DecodeULaw(pcm, payload)
		}
		p.record(pcm[:m])
	}
}

func (p *Phone) record(pcm []int16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.packets++
	p.heard = append(p.heard, pcm...)
	if over := len(p.heard) - maxHeard; over > 0 {
		p.heard = append(p.heard[:0], p.heard[over:]...)
	}
}

// Heard returns the last second the phone decoded (less, early on) and
// how many packets it received in all.
func (p *Phone) Heard() ([]int16, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.heard...), p.packets
}

// HeardFrom is the source of the last RTP packet the phone took (zero
// before the first).
func (p *Phone) HeardFrom() netip.AddrPort {
	if a := p.from.Load(); a != nil {
		return *a
	}
	return netip.AddrPort{}
}

// Received counts the packets a Lean phone received.
func (p *Phone) Received() uint64 { return p.received.Load() }

// ResetHeard forgets what the phone heard so far.
func (p *Phone) ResetHeard() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.heard, p.packets = p.heard[:0], 0
}

// sendTone sends a 20 ms frame of the tone (or silence) every 20 ms, as a
// phone's audio clock would, until Close.
func (p *Phone) sendTone() {
	defer p.wg.Done()
	if p.opts.NoMedia {
		return
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	pcm := make([]int16, mixer.NarrowFrameSamples)
	payload := make([]byte, mixer.NarrowFrameSamples)
	var phase float64
	for {
		if !p.opts.Lean || phase == 0 {
			phase = p.fillTone(pcm, phase)
			p.encode(payload, pcm)
		}
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.sendRTP(p.pt, false, payload, mixer.NarrowFrameSamples)
	}
}

func (p *Phone) encode(payload []byte, pcm []int16) {
	if p.codec == mixer.CodecPCMA {
		mixer.EncodeALaw(payload, pcm)
		return
	}
	mixer.EncodeULaw(payload, pcm)
}

// fillTone writes the next 20 ms of the tone at -12 dBFS.
func (p *Phone) fillTone(pcm []int16, phase float64) float64 {
	step := 2 * math.Pi * p.opts.ToneHz / mixer.NarrowRate
	for i := range pcm {
		pcm[i] = 0
		if p.opts.ToneHz > 0 && !p.muted.Load() {
			pcm[i] = int16(0.25 * 32767 * math.Sin(phase))
		}
		phase += step
	}
	return math.Mod(phase, 2*math.Pi)
}

// sendRTP sends one packet and advances the timestamp by tsStep after it.
func (p *Phone) sendRTP(pt uint8, marker bool, payload []byte, tsStep uint32) {
	p.sendRTPAt(pt, marker, payload, nil, tsStep)
}

// sendRTPAt sends with the timestamp *ts when given (an RFC 4733 event
// keeps its start timestamp), else the stream's.
func (p *Phone) sendRTPAt(pt uint8, marker bool, payload []byte, ts *uint32, tsStep uint32) {
	dst := p.remote.Load()
	if dst == nil {
		return
	}
	p.sendMu.Lock()
	var b [12 + 1500]byte
	b[0] = 0x80
	b[1] = pt
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], p.seq)
	stamp := p.ts
	if ts != nil {
		stamp = *ts
	}
	binary.BigEndian.PutUint32(b[4:], stamp)
	binary.BigEndian.PutUint32(b[8:], p.ssrc)
	n := 12 + copy(b[12:], payload)
	p.seq++
	p.ts += tsStep
	p.sendMu.Unlock()
	_, _ = p.rtp.WriteToUDPAddrPort(b[:n], *dst)
}

// SendDigits presses keys as RFC 4733 events: per key, three packets
// growing in duration with one timestamp, then three end packets (§2.5.1.4).
func (p *Phone) SendDigits(digits string) {
	for i := 0; i < len(digits); i++ {
		ev := eventCode(digits[i])
		if ev < 0 {
			continue
		}
		p.sendMu.Lock()
		start := p.ts
		p.sendMu.Unlock()
		for k := range 6 {
			var pl [4]byte
			pl[0] = byte(ev)
			pl[1] = 10 // volume -10 dBm0
			if k >= 3 {
				pl[1] |= 0x80 // E: end of event
			}
			binary.BigEndian.PutUint16(pl[2:], uint16(160*(k+1)))
			p.sendRTPAt(p.dtmfPT, k == 0, pl[:], &start, 0)
		}
		// The key press took its time in the stream: the next event (and
		// the audio) starts after it, with a new timestamp.
		p.sendMu.Lock()
		p.ts = start + 6*160
		p.sendMu.Unlock()
	}
}

func eventCode(d byte) int {
	const keys = "0123456789*#ABCD"
	for i := range len(keys) {
		if keys[i] == d {
			return i
		}
	}
	return -1
}

// SendInfo presses keys with SIP INFO (application/dtmf-relay), one
// request per key, and returns the last status code.
func (p *Phone) SendInfo(ctx context.Context, digits string) (int, error) {
	code := 0
	for i := 0; i < len(digits); i++ {
		req := sip.NewRequest(sip.INFO, p.sess.InviteRequest.Recipient)
		req.SetBody([]byte("Signal=" + string(digits[i]) + "\r\nDuration=160\r\n"))
		req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
		res, err := p.sess.Do(ctx, req)
		if err != nil {
			return 0, err
		}
		code = res.StatusCode
	}
	return code, nil
}

// Reinvite sends a new offer with direction dir ("sendonly" holds,
// "sendrecv" resumes) and ACKs the answer, which it returns.
func (p *Phone) Reinvite(ctx context.Context, dir string) (string, error) {
	req := sip.NewRequest(sip.INVITE, p.sess.InviteRequest.Recipient)
	req.SetBody(p.offer(dir))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res, err := p.sess.Do(ctx, req)
	if err != nil {
		return "", err
	}
	if res.StatusCode != 200 {
		return "", &ResponseError{Code: res.StatusCode, Reason: res.Reason}
	}
	ack := sip.NewRequest(sip.ACK, p.remoteTarget())
	ack.AppendHeader(sip.HeaderClone(req.CSeq()))
	ack.CSeq().MethodName = sip.ACK
	return string(res.Body()), p.sess.WriteRequest(ack)
}

// ToneLevel is the level of freq in 8 kHz pcm relative to a full-scale
// sine, in dB.
func ToneLevel(pcm []int16, freq float64) float64 {
	return mixer.ToneLevel(pcm, mixer.NarrowRate, freq)
}

// ToneLevelBlocks is ToneLevel's median over 100 ms blocks: robust to the
// phase breaks of lost packets.
func ToneLevelBlocks(pcm []int16, freq float64) float64 {
	return mixer.ToneLevelBlocks(pcm, mixer.NarrowRate, freq, mixer.NarrowRate/10)
}

// DialCancel calls server, cancels as soon as it rings (RFC 3261 §9.1)
// and returns the INVITE's final status (487 expected).
func DialCancel(ctx context.Context, server netip.AddrPort, opts Options) (int, error) {
	p, err := newPhone(opts)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err = p.invite(cctx, server, func(res *sip.Response) {
		if res.StatusCode == 180 {
			cancel()
		}
	})
	if p.sess != nil && p.sess.InviteResponse != nil && p.sess.InviteResponse.StatusCode >= 300 {
		return p.sess.InviteResponse.StatusCode, nil
	}
	return 0, err
}
