package vertotest

import (
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/forwarder/forwardertest"
	"github.com/confd/confd/forwarder/vp8"
)

// Packet is one received video packet, reduced to what tests check.
type Packet struct {
	SSRC      uint32
	Seq       uint16
	TS        uint32
	Start     bool   // first packet of a frame (S bit, partition 0)
	Keyframe  bool   // first packet of a key frame
	PictureID uint16 //
	Source    uint32 // the publisher's SSRC, read from the frame's payload; 0 when not a frame start
	Frame     uint32 // the publisher's frame number, read from the frame's payload, when Source is set
	TID       uint8  // VP8 temporal layer
	Arrival   time.Time
}

// Stream records one slot's packets.
type Stream struct {
	MID  string
	mu   sync.Mutex
	pkts []Packet
}

func (c *Call) onTrack(track *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	if track.Kind() != webrtc.RTPCodecTypeVideo {
		c.listen(track)
		return
	}
	mid := ""
	for _, tr := range c.PC().GetTransceivers() {
		if tr.Receiver() == r {
			mid = tr.Mid()
		}
	}
	s := &Stream{MID: mid}
	c.mu.Lock()
	c.streams[mid] = s
	c.mu.Unlock()
	s.record(track)
}

func drain(t *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := t.Read(buf); err != nil {
			return
		}
	}
}

func (s *Stream) record(track *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		hl, err := h.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		s.add(h, buf[hl:n])
	}
}

func (s *Stream) add(h rtp.Header, payload []byte) {
	p := Packet{SSRC: h.SSRC, Seq: h.SequenceNumber, TS: h.Timestamp, Arrival: time.Now()}
	var d vp8.Descriptor
	if d.Unmarshal(payload) == nil {
		p.Start = d.Start && d.PartitionID == 0
		p.Keyframe = d.Keyframe
		p.PictureID = d.PictureID
		p.TID = d.TID
		if p.Start {
			p.Source, p.Frame, _ = forwardertest.FrameOf(payload, &d)
		}
	}
	s.mu.Lock()
	s.pkts = append(s.pkts, p)
	s.mu.Unlock()
}

// Packets is a copy of what the slot received.
func (s *Stream) Packets() []Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Packet(nil), s.pkts...)
}

// Sources lists the publisher SSRCs seen, in order of first appearance.
// Retransmissions (packets behind the highest sequence number) do not
// count: they repeat the past.
func (s *Stream) Sources() []uint32 {
	return sourcesOf(s.Packets())
}

func sourcesOf(pkts []Packet) []uint32 {
	var out []uint32
	var highest uint16
	for i, p := range pkts {
		if i > 0 && int16(p.Seq-highest) <= 0 {
			continue
		}
		highest = p.Seq
		if p.Source != 0 && (len(out) == 0 || out[len(out)-1] != p.Source) {
			out = append(out, p.Source)
		}
	}
	return out
}

// CurrentSource is the publisher whose frame started last.
func (s *Stream) CurrentSource() uint32 {
	src := s.Sources()
	if len(src) == 0 {
		return 0
	}
	return src[len(src)-1]
}

// Check verifies that the slot is one continuous stream: one SSRC, a key
// frame first and at every change of source (unless packets before the
// change are missing: the key frame may be among them), sequence numbers
// +1 (a gap counts as loss, a packet behind the highest one must fill such
// a gap), timestamps never going back. It returns the number of packets
// lost.
func (s *Stream) Check() (lost int, err error) {
	pkts := s.Packets()
	if len(pkts) == 0 {
		return 0, fmt.Errorf("slot %s: no packets", s.MID)
	}
	if !pkts[0].Keyframe {
		return 0, fmt.Errorf("slot %s: first packet (seq %d) is not a key frame start", s.MID, pkts[0].Seq)
	}
	c := checker{highest: pkts[0], src: pkts[0].Source, missing: map[uint16]bool{}}
	for i, p := range pkts[1:] {
		if err := c.next(p); err != nil {
			return 0, fmt.Errorf("slot %s packet %d: %w", s.MID, i+1, err)
		}
	}
	return len(c.missing), nil
}

type checker struct {
	highest Packet
	src     uint32
	missing map[uint16]bool
}

func (c *checker) next(p Packet) error {
	if p.SSRC != c.highest.SSRC {
		return fmt.Errorf("SSRC changed from %d to %d", c.highest.SSRC, p.SSRC)
	}
	d := int16(p.Seq - c.highest.Seq)
	switch {
	case d <= 0 && c.missing[p.Seq]:
		delete(c.missing, p.Seq) // a retransmission filling a gap
		return nil
	case d <= 0:
		return fmt.Errorf("seq %d after %d: duplicate or reordered", p.Seq, c.highest.Seq)
	}
	for s := c.highest.Seq + 1; s != p.Seq; s++ {
		c.missing[s] = true
	}
	if int32(p.TS-c.highest.TS) < 0 {
		return fmt.Errorf("timestamp went back from %d to %d", c.highest.TS, p.TS)
	}
	if p.Source != 0 && p.Source != c.src {
		// The key frame may be among packets still missing (lost on the
		// way, maybe retransmitted later).
		if !p.Keyframe && len(c.missing) == 0 {
			return fmt.Errorf("source switched from %d to %d without a key frame", c.src, p.Source)
		}
		c.src = p.Source
	}
	c.highest = p
	return nil
}

// LongestFreeze is the longest time between two frame starts received,
// from the first frame on.
func (s *Stream) LongestFreeze() time.Duration {
	var last time.Time
	var worst time.Duration
	for _, p := range s.Packets() {
		if !p.Start {
			continue
		}
		if !last.IsZero() {
			worst = max(worst, p.Arrival.Sub(last))
		}
		last = p.Arrival
	}
	return worst
}

// SwitchGaps is, for every change of source in the slot, the time between
// the last frame of the old source and the first of the new one on the
// slot's own RTP clock (VP8's 90 kHz): how much of the picture the switch
// left out. It is media time, not arrival time, so a busy machine that
// delivers late does not make a switch look worse than it is.
func (s *Stream) SwitchGaps() []time.Duration {
	var gaps []time.Duration
	var last Packet
	var highest uint16
	for i, p := range s.Packets() {
		if i > 0 && int16(p.Seq-highest) <= 0 {
			continue // a retransmission
		}
		highest = p.Seq
		if !p.Start || p.Source == 0 {
			continue
		}
		if last.Source != 0 && p.Source != last.Source {
			gaps = append(gaps, time.Duration(int32(p.TS-last.TS))*time.Second/90000)
		}
		last = p
	}
	return gaps
}

// SourcesSince lists the sources of the frames that started after the
// first n packets, in order of first appearance.
func (s *Stream) SourcesSince(n int) []uint32 {
	pkts := s.Packets()
	return sourcesOf(pkts[min(n, len(pkts)):])
}
