package dialin

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/confd/confd/mixer"
	"github.com/confd/confd/rtpparse"
)

// PacketConn is the part of *net.UDPConn a media port uses, so that tests
// can hand it an in-memory pair.
type PacketConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	Close() error
}

// maxRTP bounds one RTP packet confd reads or writes.
const maxRTP = 1500

// relatchAfter is how long the latched RTP source must be silent before
// packets from another allowed address take over: long enough that a
// stray or spoofed packet cannot steal an active stream, short enough to
// follow a NAT rebinding before the caller notices.
const relatchAfter = time.Second

// mediaPort is one call's RTP/RTCP socket pair (RFC 3550 §11: RTP on an
// even port, RTCP on the next). It is symmetric (RFC 4961): it sends to
// where the peer's packets really come from. Incoming RTP is demultiplexed
// by payload type: the codec into the member's mixer input, telephone-event
// into the DTMF decoder, anything else dropped.
type mediaPort struct {
	rtp, rtcp PacketConn
	local     netip.AddrPort // the announced address of the RTP socket
	onDigit   func(byte)     // called on the reader goroutine; must not block

	in       atomic.Pointer[mixer.Member]
	rxPT     atomic.Int32 // the codec's payload type; -1 none
	rxDTMF   atomic.Int32 // telephone-event's payload type; -1 none
	lastRecv atomic.Int64 // mixer.Now() of the newest accepted packet; 0 none
	bad      atomic.Uint64
	closed   atomic.Bool

	mu         sync.Mutex // guards the fields below; never held across a write
	allowed    [2]netip.Addr
	remote     netip.AddrPort
	remoteRTCP netip.AddrPort
	latched    bool
	ready      bool // setMedia has run
	send       bool // the direction lets confd send
	out        rtpHeader
	silence    byte // the codec's zero sample
	prompt     []byte
	promptDone func() // called once when the prompt's last frame is sent
	sent       sendStats
	recv       recvStats

	mixBuf, pumpBuf [maxRTP]byte // one per sending goroutine (mixer, call)
	wg              sync.WaitGroup
}

func newMediaPort(rtp, rtcp PacketConn, local netip.AddrPort, onDigit func(byte)) *mediaPort {
	var seed [10]byte
	_, _ = rand.Read(seed[:]) // RFC 3550 §5.1: random SSRC, sequence and timestamp
	p := &mediaPort{rtp: rtp, rtcp: rtcp, local: local, onDigit: onDigit}
	p.out = rtpHeader{seq: binary.BigEndian.Uint16(seed[:]), ts: binary.BigEndian.Uint32(seed[2:]), ssrc: binary.BigEndian.Uint32(seed[6:]), marker: true}
	p.rxPT.Store(-1)
	p.rxDTMF.Store(-1)
	return p
}

// setMedia applies an offer/answer outcome. signalSrc is the address the
// SIP request came from: together with the SDP address, the only sources
// the port latches to.
func (p *mediaPort) setMedia(m media, signalSrc netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.pt, p.ready = m.pt, true
	p.silence = silenceByte(m.codec)
	p.allowed = [2]netip.Addr{m.remote.Addr(), signalSrc}
	p.send = m.dir == sendrecv || m.dir == recvonly
	if !p.latched && !m.remote.Addr().IsUnspecified() {
		p.remote = m.remote
		p.remoteRTCP = netip.AddrPortFrom(m.remote.Addr(), m.remote.Port()+1)
	}
	p.rxPT.Store(int32(m.pt))
	p.rxDTMF.Store(-1)
	if m.hasDTMF() {
		p.rxDTMF.Store(int32(m.dtmfPT))
	}
}

func silenceByte(c mixer.Codec) byte {
	if c == mixer.CodecPCMA {
		return 0xd5 // A-law zero (G.711 Table 1a, even bits inverted)
	}
	return 0xff // µ-law zero
}

// start runs the RTP and RTCP readers until close.
func (p *mediaPort) start() {
	p.wg.Add(2)
	go p.readRTP()
	go p.readRTCP()
}

// close closes both sockets and waits for the readers.
func (p *mediaPort) close() {
	if p.closed.Swap(true) {
		return
	}
	_ = p.rtp.Close()
	_ = p.rtcp.Close()
	p.wg.Wait()
}

// readRTP is the port's RTP reader goroutine. Its buffer and header are
// allocated once; it allocates, locks across no write and logs nothing
// per packet.
func (p *mediaPort) readRTP() {
	defer p.wg.Done()
	buf := make([]byte, maxRTP)
	var h rtp.Header
	var dtmf rtpparse.DTMF
	errs := 0
	for {
		n, src, err := p.rtp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errs++; p.closed.Load() || errors.Is(err, net.ErrClosed) || errs > maxReadErrors {
				return
			}
			continue
		}
		errs = 0
		p.handleRTP(buf[:n], src, &h, &dtmf)
	}
}

// maxReadErrors is the error budget of a reader: this many failed reads
// in a row mean the socket is broken, and the reader stops rather than
// spin (the call then ends on its RTP timeout).
const maxReadErrors = 100

// handleRTP accepts one packet from src: parsed in place (rtpparse, into
// the reader's own h), source-checked, counted and demultiplexed by
// payload type. A packet rtpparse refuses, or one with nothing to play
// (padding alone), is dropped and counted.
func (p *mediaPort) handleRTP(b []byte, src netip.AddrPort, h *rtp.Header, dtmf *rtpparse.DTMF) {
	payload, err := rtpparse.Parse(b, h)
	now := mixer.Now()
	if err != nil || len(payload) == 0 || !p.accept(src, h, now) {
		p.bad.Add(1)
		return
	}
	p.lastRecv.Store(now)
	switch int32(h.PayloadType) {
	case p.rxPT.Load():
		if in := p.in.Load(); in != nil {
			in.Push(h.SequenceNumber, h.Timestamp, payload, -1, now)
		}
	case p.rxDTMF.Load():
		if d, ok := dtmf.Decode(h.Timestamp, payload); ok && p.onDigit != nil {
			p.onDigit(d)
		}
	}
}

// accept latches the port to src (symmetric RTP) and records the packet in
// the receive statistics; false drops the packet.
func (p *mediaPort) accept(src netip.AddrPort, h *rtp.Header, now int64) bool {
	a := src.Addr().Unmap()
	src = netip.AddrPortFrom(a, src.Port())
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.latched || src != p.remote {
		stale := now-p.lastRecv.Load() > int64(relatchAfter)
		if (p.latched && !stale) || (a != p.allowed[0] && a != p.allowed[1]) {
			return false
		}
		p.remote, p.latched = src, true
		p.remoteRTCP = netip.AddrPortFrom(a, src.Port()+1)
	}
	p.recv.update(h, now)
	return true
}

// readRTCP drains the peer's RTCP; a packet from an allowed address tells
// where the peer really receives RTCP (symmetric, like RTP).
func (p *mediaPort) readRTCP() {
	defer p.wg.Done()
	buf := make([]byte, maxRTP)
	errs := 0
	for {
		n, src, err := p.rtcp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errs++; p.closed.Load() || errors.Is(err, net.ErrClosed) || errs > maxReadErrors {
				return
			}
			continue
		}
		errs = 0
		if n >= 8 && buf[0]>>6 == 2 {
			p.noteRTCP(src, buf[:n])
		}
	}
}

func (p *mediaPort) noteRTCP(src netip.AddrPort, b []byte) {
	a := src.Addr().Unmap()
	p.mu.Lock()
	defer p.mu.Unlock()
	if a == p.allowed[0] || a == p.allowed[1] {
		p.remoteRTCP = netip.AddrPortFrom(a, src.Port())
		p.recv.rtcpSeen++
		p.recv.noteSenderReport(b, mixer.Now())
	}
}

// WriteFrame implements mixer.PacketWriter: the mixer's frame for this
// phone, or the current prompt's frame instead. It runs on the mixer
// goroutine and does not block (a UDP send).
func (p *mediaPort) WriteFrame(payload []byte) error {
	return p.sendFrame(&p.mixBuf, payload)
}

// pump sends one frame while the call is out of the mix: the prompt's, or
// silence so the peer's jitter buffer and NAT binding stay alive. It runs
// on the call goroutine.
func (p *mediaPort) pump() error {
	return p.sendFrame(&p.pumpBuf, nil)
}

// sendFrame packetizes one 20 ms frame (sequence +1, timestamp +160, RFC
// 3551 §4.5.14) under the lock into buf, which belongs to the calling
// goroutine, then writes it after unlocking.
func (p *mediaPort) sendFrame(buf *[maxRTP]byte, payload []byte) error {
	p.mu.Lock()
	payload, done := p.framePayloadLocked(buf, payload)
	if !p.ready || !p.send || !p.remote.IsValid() {
		p.mu.Unlock()
		return nil
	}
	n := putRTP(buf[:], &p.out)
	n += copy(buf[n:], payload)
	p.out.marker = false
	p.out.seq++
	p.out.ts += mixer.NarrowFrameSamples
	p.sent.packets++
	p.sent.octets += uint32(len(payload))
	p.sent.lastTS = p.out.ts
	dst := p.remote
	p.mu.Unlock()
	if done != nil {
		done()
	}
	_, err := p.rtp.WriteToUDPAddrPort(buf[:n], dst)
	return err
}

// framePayloadLocked picks what to send: the next prompt frame if a prompt
// plays, else payload, else silence (written into the tail of buf). It
// returns the prompt's completion callback when this is its last frame.
func (p *mediaPort) framePayloadLocked(buf *[maxRTP]byte, payload []byte) ([]byte, func()) {
	const frame = mixer.NarrowFrameSamples
	if len(p.prompt) > 0 {
		f := p.prompt[:min(frame, len(p.prompt))]
		p.prompt = p.prompt[len(f):]
		if len(p.prompt) == 0 {
			done := p.promptDone
			p.promptDone = nil
			return f, done
		}
		return f, nil
	}
	if payload != nil {
		return payload, nil
	}
	s := buf[maxRTP-frame:]
	for i := range s {
		s[i] = p.silence
	}
	return s, nil
}

// play replaces what the phone hears with audio (pre-encoded in the call's
// codec) until it ends; done runs once, on the sending goroutine, when its
// last frame has gone out, or at once for an empty prompt. A new prompt cuts
// the current one short (its done never runs).
func (p *mediaPort) play(audio []byte, done func()) {
	p.mu.Lock()
	p.prompt, p.promptDone = audio, done
	p.mu.Unlock()
	if len(audio) == 0 && done != nil {
		done()
	}
}

// stopPrompt cuts the current prompt short.
func (p *mediaPort) stopPrompt() { p.play(nil, nil) }

// idle reports how long since the peer's last accepted packet, measured
// from start when none arrived yet.
func (p *mediaPort) idle(now, start int64) time.Duration {
	last := p.lastRecv.Load()
	if last == 0 {
		last = start
	}
	return time.Duration(now - last)
}
