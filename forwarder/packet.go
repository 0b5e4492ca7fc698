package forwarder

import (
	"github.com/pion/rtp"

	"github.com/confd/confd/forwarder/vp8"
)

// MaxPacketSize is the largest RTP packet the forwarder handles; larger ones
// are dropped and counted.
const MaxPacketSize = 1500

// Packet is one parsed inbound RTP packet as handed to Sinks. It and
// everything it points to are owned by the Receiver's reader goroutine and
// valid only during the Sink call: a Sink that keeps any of it must copy.
type Packet struct {
	Header  *rtp.Header
	Payload []byte
	// VP8 is the parsed payload descriptor (video only).
	VP8 vp8.Descriptor
	// Keyframe is true on the first packet of a VP8 key frame.
	Keyframe bool
	// Arrival is when the packet was read, in nanoseconds of a monotonic clock.
	Arrival int64
	// Source is the Receiver the packet came from, Layer its simulcast
	// layer there (0 is the smallest).
	Source *Receiver
	Layer  int
}

// Scratch is per-goroutine working space for rewriting one outgoing packet.
// The goroutine that calls a Sink owns it; a DownTrack never keeps it, so two
// Receivers feeding one DownTrack during a switch cannot race on it.
type Scratch struct {
	Header rtp.Header
	Buf    [MaxPacketSize]byte
	// resend holds a packet read back from a cache for a NACK, before it
	// is rewritten into Buf.
	resend struct {
		raw [MaxPacketSize]byte
		hdr rtp.Header
		pkt Packet
	}
}

// Sink receives a Receiver's packets: a DownTrack, or an audio mixer input.
type Sink interface {
	// WriteRTP handles p; p and out are valid only during the call.
	WriteRTP(p *Packet, out *Scratch)
}
