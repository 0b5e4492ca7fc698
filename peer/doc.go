// Package peer is one browser's WebRTC PeerConnection in a room, whatever
// signalling brought it (Verto today; SIP over a websocket and WHIP attach
// to the same Peer). It owns the pion side of a member:
//
//   - the pion API and its settings ([Media]): VP8 and Opus, an explicit
//     interceptor registry (NACK generation towards publishers, started
//     when a camera binds; RTCP reports, less the receiver reports that
//     repeat the last; transport-wide CC both ways on video; confd's own
//     send-side estimate (package bwe), which numbers each video packet
//     with no lock or allocation and takes in feedback on the goroutine
//     that read it), SRTP profiles with AEAD-GCM first, ICE ports, NAT
//     addresses and the shared UDP and TCP muxes;
//   - publishing: the microphone into the room's mix, the camera as a
//     forwarder.Receiver with a layer per simulcast rid, and the sender
//     reports that line those layers up;
//   - subscribing: a DownTrack per video slot, the downlink estimate and
//     the Allocator that shares it among the slots, and the mix's audio
//     track;
//   - negotiation: answering an offer, answering a re-offer on the same
//     PeerConnection, offering afresh after the client lost its connection
//     (with the camera's simulcast rids asked for again), detaching and
//     closing.
//
// The membership (the room and the participant there) is one value,
// replaced whole when a moderator moves the member. The Peer is the room's
// [room.Member]; what the signalling must do (tell the client about its
// slots or layers, hang up) reaches it through the [Signal] it gave.
//
// Goroutines (each started by the Peer's spawn and counted in its
// WaitGroup, so Shut waits for all of them):
//
//	goroutine                 count                     started in          stops on
//	Allocator.Run             1 per PeerConnection      newPC               the PeerConnection closed, Shut
//	old PeerConnection close  1 per replaced or detached PeerConnection  newPC, Detach  pion's Close returned
//	DownTrack.ServeRTCP       1 per slot sender         addSender           sender read error (PeerConnection closed)
//	drainRTCP                 1 per mix audio sender    addSender           sender read error
//	drainReceiverRTCP         1 per microphone          onTrack             RTCP read error (PeerConnection closed)
//	onTrack                   1 per track the client sends  watch (pion's OnTrack)  the track ends: for audio the reader
//	                                                    returns, for video the Receiver is done
//	readSenderReports         1 per camera layer (rid)  onTrack, onSimulcastTrack  RTCP read error (PeerConnection closed)
//	delayLine.fill            1 per camera layer in the echo test  onTrack, onSimulcastTrack  the track's read error
//
// One more belongs to the Media:
//
//	goroutine                 count                     started in          stops on
//	reportClock.run           1 per Media               NewMedia            Media.Close
//
// The report clock ticks once a second and, on its own goroutine, has
// every PeerConnection write its RTCP reports (confd's own sender and
// receiver reports, reports.go) as one compound packet, the round held in
// bursts: a server of idle members wakes once a second for all of their
// reports, not once per member.
//
// For video, onTrack starts a forwarder.Receiver, whose own goroutines
// (a reader per layer, the key-frame and pause loop) the forwarder owns;
// onTrack waits for them through the Receiver's Done.
//
// The packet paths (the microphone into the mix, the mix out, video in and
// out) allocate nothing, take no lock across a network write and log
// nothing per packet.
package peer
