// Package forwarder moves video RTP from publishers to subscriber slots.
//
// A Receiver owns one published track: it reads every packet into a buffer
// it allocated once, parses the RTP header and the VP8 payload descriptor in
// place, stores the packet in a preallocated cache (for NACK replay) and
// hands it to each Sink on a copy-on-write list. A DownTrack is one
// subscriber slot: a webrtc.TrackLocal with a fixed outgoing SSRC whose
// source Receiver can change at any time. Its Munger rewrites sequence
// numbers, timestamps, VP8 picture ID and TL0PICIDX so that the slot stays
// one continuous stream across source switches, and a switch only takes
// effect on a key frame of the new source.
//
// Goroutines and ownership:
//
//	goroutine             count                 owns                                    stops on
//	Receiver.readLoop     1 per published track  receive buffer, header, Packet, Scratch  Read error or Close
//	Receiver.keyframeLoop 1 per published track  PLI throttle state, upstream RTCP writes   Close
//	DownTrack.ServeRTCP   1 per RTPSender        RTCP buffer, NACK scratch                  Read error (sender closed)
//
// The packet path allocates nothing, takes only the DownTrack's small mutex
// (never across a write) and logs nothing; errors on it are counted.
//
// This package imports none of room, signalling, mixer or dialin.
package forwarder
