package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/pion/webrtc/v4"
)

// metric is what a load's cost is divided by.
type metric int

const (
	perPacket       metric = iota // server CPU per media packet the counted peers received
	perMemberSecond               // server CPU per counted member and second
	perViewerSecond               // server CPU added by the counted viewers, per viewer and second
)

// load is one scene, set up alike on both servers: first the base
// peers (measured alone when the metric is perViewerSecond), then the
// counted ones, whose receipts or numbers the cost is divided by.
type load struct {
	name   string // as -loads names it: fanout50, mixed50, idle50, whep50
	title  string
	n      int // the counted peers
	metric metric
	// base and counted return the roles for a server: the peers that make
	// the scene, then the peers measured.
	base, counted func(serverKind) []role
	// waitMedia waits, before the warm-up, until every counted peer has
	// received media; false for scenes where nothing is sent to them.
	waitMedia bool
	// expect, when set, is the media packets a second each counted peer
	// would receive if the server delivered everything it is given to
	// (0: nothing to compare with).
	expect func(serverKind) float64
	// stockSkip, when set, is why the stock server does not run this
	// load.
	stockSkip string
	// floor: measure what a bare sender pays for the packets confd's
	// counted peers received (floor.go).
	floor bool
}

// packetsPerSecond is the rate of a source that sends every interval.
func packetsPerSecond(interval time.Duration) float64 {
	return float64(time.Second) / float64(interval)
}

// forwardAllLimit is the largest audio room the stock server runs: it
// forwards every member's audio to every other member on a section of
// its own, n·(n-1) bound tracks, which past 50 members this machine
// cannot even set up (200 members: 39,800 tracks, a 199-section offer
// per member; when tried, joining them had not finished after 10 CPU-minutes).
const forwardAllLimit = 50

// Directions of the offer's sections.
const (
	sendonly = webrtc.RTPTransceiverDirectionSendonly
	recvonly = webrtc.RTPTransceiverDirectionRecvonly
	sendrecv = webrtc.RTPTransceiverDirectionSendrecv
)

const (
	audio = webrtc.RTPCodecTypeAudio
	video = webrtc.RTPCodecTypeVideo
)

// talkerHz are the tones of the talking members, one each.
var talkerHz = []float64{300, 500, 700}

// fanout is one camera watched by n viewers, video only: the publisher
// sends the camera alone, each viewer receives one video section. confd
// shows the publisher in each viewer's one slot; the stock server binds
// the camera's track to every viewer.
func fanout(n int) load {
	return load{
		name: fmt.Sprintf("fanout%d", n), title: fmt.Sprintf("video fan-out 1→%d", n), n: n, metric: perPacket, waitMedia: true, floor: true,
		expect: func(serverKind) float64 { return cameraRate() },
		base: func(serverKind) []role {
			return []role{{name: "publisher", sections: []section{{kind: video, dir: sendonly, src: sendCamera, track: "video-0"}}}}
		},
		counted: func(serverKind) []role {
			rs := make([]role, n)
			for i := range rs {
				rs[i] = role{name: fmt.Sprintf("viewer%d", i), sections: []section{{kind: video, dir: recvonly}}, recv: []string{"video-0"}}
			}
			return rs
		},
	}
}

// mixed is an audio room of n members, each sending Opus 50 times a
// second: three talk (a tone each), the others send encoded silence as
// an unmuted browser microphone in a quiet room does. confd mixes; the
// stock server forwards every member's audio to every other member, on
// n-1 audio sections per member.
func mixed(n int) load {
	l := audioRoom(n, func(i int) (source, float64) {
		if i < len(talkerHz) {
			return sendTone, talkerHz[i]
		}
		return sendSilence, 0
	})
	l.name, l.title, l.waitMedia, l.floor = fmt.Sprintf("mixed%d", n), fmt.Sprintf("mixed audio room of %d, 3 talkers", n), true, true
	l.expect = func(k serverKind) float64 {
		if k == kindStock {
			return float64(n-1) * packetsPerSecond(audioInterval)
		}
		return packetsPerSecond(audioInterval)
	}
	return l
}

// idle is n members connected with a microphone section that sends
// nothing (muted), and no video: what a member costs for being there.
func idle(n int) load {
	l := audioRoom(n, func(int) (source, float64) { return sendNothing, 0 })
	l.name, l.title = fmt.Sprintf("idle%d", n), fmt.Sprintf("idle members: %d, silent, no video", n)
	return l
}

// audioRoom is n audio-only members, member i sending what src says.
func audioRoom(n int, src func(i int) (source, float64)) load {
	skip := ""
	if n > forwardAllLimit {
		skip = fmt.Sprintf("forward-all needs %d tracks for %d members", n*(n-1), n)
	}
	return load{
		n: n, metric: perMemberSecond, stockSkip: skip,
		base: func(serverKind) []role { return nil },
		counted: func(k serverKind) []role {
			rs := make([]role, n)
			for i := range rs {
				s, hz := src(i)
				own := fmt.Sprintf("audio-%d", i)
				r := role{name: fmt.Sprintf("member%d", i), sections: []section{{kind: audio, dir: sendrecv, src: s, hz: hz, track: own}}}
				if k == kindStock {
					// Every other member's audio: the first on the
					// microphone's section, the rest on their own.
					for j := range n {
						if j != i {
							r.recv = append(r.recv, fmt.Sprintf("audio-%d", j))
						}
					}
					for range n - 2 {
						r.sections = append(r.sections, section{kind: audio, dir: recvonly})
					}
				}
				rs[i] = r
			}
			return rs
		},
	}
}

// whep is n WHEP viewers of a room where two members talk, each with a
// tone and a camera (and one slot, in which each sees the other). confd's
// viewers get the floor's video and the room's mix; the stock server's
// get the first talker's video and both talkers' audio. The cost is what
// the viewers add to the two talkers alone, measured first.
func whep(n int) load {
	return load{
		name: fmt.Sprintf("whep%d", n), title: fmt.Sprintf("WHEP viewers: %d, two members talking", n), n: n,
		metric: perViewerSecond, waitMedia: true,
		expect: func(k serverKind) float64 {
			if k == kindStock {
				return cameraRate() + 2*packetsPerSecond(audioInterval)
			}
			return cameraRate() + packetsPerSecond(audioInterval)
		},
		base: func(serverKind) []role {
			rs := make([]role, 2)
			for i := range rs {
				other := 1 - i
				rs[i] = role{name: fmt.Sprintf("talker%d", i), sections: []section{
					{kind: audio, dir: sendrecv, src: sendTone, hz: talkerHz[i], track: fmt.Sprintf("audio-%d", i)},
					{kind: video, dir: sendrecv, src: sendCamera, track: fmt.Sprintf("video-%d", i)},
				}, recv: []string{fmt.Sprintf("audio-%d", other), fmt.Sprintf("video-%d", other)}}
			}
			return rs
		},
		counted: func(k serverKind) []role {
			rs := make([]role, n)
			for i := range rs {
				r := role{name: fmt.Sprintf("viewer%d", i), whep: true, sections: []section{{kind: audio, dir: recvonly}, {kind: video, dir: recvonly}}}
				if k == kindStock {
					r.sections = []section{{kind: audio, dir: recvonly}, {kind: audio, dir: recvonly}, {kind: video, dir: recvonly}}
					r.recv = []string{"audio-0", "audio-1", "video-0"}
				}
				rs[i] = r
			}
			return rs
		},
	}
}

// defaultSizes are the room sizes a run measures unless -sizes says
// otherwise: 200 is left out, as on two shared cores the load generator
// cannot receive a 1→200 fan-out (31,000 SRTP packets a second) and the
// stock server cannot set up a 200-member forward-all room.
var defaultSizes = []int{10, 50}

// allLoads is every load for the given sizes, in the order a run
// measures them; the WHEP load runs with 50 viewers when 50 is a size,
// else with the largest.
func allLoads(sizes []int) []load {
	var ls []load
	for _, n := range sizes {
		ls = append(ls, fanout(n))
	}
	for _, n := range sizes {
		ls = append(ls, mixed(n))
	}
	for _, n := range sizes {
		ls = append(ls, idle(n))
	}
	if len(sizes) > 0 {
		w := slices.Max(sizes)
		if slices.Contains(sizes, 50) {
			w = 50
		}
		ls = append(ls, whep(w))
	}
	return ls
}
