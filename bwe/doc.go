// Package bwe is confd's send-side bandwidth estimate of a subscriber's
// downlink, from the subscriber's transport-wide congestion control
// feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01) by the
// method of draft-ietf-rmcat-gcc-02: a delay detector (delay.go) whose
// verdict drives an increase-and-decrease rate controller, bounded by a
// loss controller (rate.go).
//
// One Estimator serves one PeerConnection. Its two sides meet in the
// history of sent packets (history.go), made when the first stream to be
// numbered binds (Start), so an audio-only member holds none:
//
//   - the packet path numbers each packet (Stamp) and records when it
//     went and its size (Sent): no lock, no allocation, and the
//     extension's two octets live in the history, not in a buffer per
//     packet;
//   - the feedback path parses each feedback message in place
//     (ParseFeedback, into the Estimator's scratch), matches its packets
//     against the history, takes each packet in once however often it is
//     reported (a receiver reports a range again after a late packet, and
//     a packet reported missing that comes after all is no loss) and
//     renews the estimate, all on the goroutine that read the RTCP, under
//     the Estimator's lock. Nothing in it writes to the network.
//
// The estimate is told to the one function OnTarget set, on that same
// goroutine; Target and Congestion read it at any time without the lock.
//
// Goroutines: none. Every call runs on its caller's goroutine.
package bwe
