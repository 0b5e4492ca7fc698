// Package forwarder moves video RTP from publishers to subscriber slots.
//
// A Receiver owns one published track. It has one layer per simulcast
// encoding (RFC 8853: one rid, one SSRC; a single-layer track has one),
// each read by its own goroutine into a buffer allocated once: the RTP
// header and the VP8 payload descriptor are parsed in place, the packet is
// stored in the layer's preallocated cache (for NACK replay), counted per
// VP8 temporal layer (bitrate, frame rate, key frames, size) and handed to
// each Sink on a copy-on-write list.
//
// A DownTrack is one subscriber slot: a webrtc.TrackLocal with a fixed
// outgoing SSRC whose source Receiver can change at any time. Its Selector
// picks, packet by packet, the simulcast layer and the temporal layers to
// forward, changing spatial layer only at a key frame of the new one; its
// Munger rewrites sequence numbers, timestamps, VP8 picture ID and
// TL0PICIDX so that the slot stays one continuous stream across source and
// layer switches. A slot forwards the smallest layer that covers the size
// its viewer renders it at (SetRenderSize), within the limit its
// subscriber's Allocator sets from the downlink estimate. When no slot
// wants a layer for PauseAfter, the Receiver tells the publisher to stop
// sending it (OnActiveLayers).
//
// Goroutines and ownership:
//
//	goroutine              count                   owns                                        stops on
//	Receiver.readLoop      1 per published layer    receive buffer, header, Packet, Scratch      Read error or Close
//	Receiver.controlLoop   1 per published track    PLI throttle per layer, layer pausing        Close
//	DownTrack.ServeRTCP    1 per RTPSender          RTCP buffer, NACK scratch                    Read error (sender closed)
//	Allocator.Run          1 per subscriber         layer choice of its slots                    its stop channel
//
// The caller reads each published layer's RTCP and passes its sender
// reports to Receiver.SenderReport (signalling does it on one goroutine
// per layer); a layer switch uses them to place the new layer's timestamps.
//
// The packet path allocates nothing, takes only the DownTrack's small mutex
// (never across a write) and logs nothing; errors on it are counted.
//
// This package imports none of room, signalling, mixer or dialin.
package forwarder
