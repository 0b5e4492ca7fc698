package mixer

import "slices"

// selector picks the speakers: the loudest few talking members, with
// hysteresis so that they do not flap. It runs on the mixer goroutine.
type selector struct {
	max      int
	speakers []*Member // at most max, in no particular order
	// A challenger replaces the quietest speaker only after being louder by
	// swapMargin for swapTicks ticks in a row.
	challenger *Member
	streak     int
	floor      *Member
	floorRival *Member
	floorRun   int
}

const (
	swapMargin = 6  // dB
	swapTicks  = 5  // 100 ms
	floorTicks = 25 // 500 ms: the floor (video too) moves only for a sustained louder voice
	floorGap   = 3  // dB
)

func newSelector(n int) *selector {
	return &selector{max: n, speakers: make([]*Member, 0, n)}
}

// update recomputes the speakers from the members' activity this tick.
func (s *selector) update(members []*Member) {
	s.dropQuiet()
	for len(s.speakers) < s.max {
		c := s.loudestCandidate(members)
		if c == nil {
			break
		}
		s.speakers = append(s.speakers, c)
	}
	s.challenge(members)
	s.updateFloor()
}

// dropQuiet removes speakers that stopped talking, were muted or left.
func (s *selector) dropQuiet() {
	kept := s.speakers[:0]
	for _, sp := range s.speakers {
		if sp.vad.talking && sp.mixable() {
			kept = append(kept, sp)
		}
	}
	for i := len(kept); i < len(s.speakers); i++ {
		s.speakers[i] = nil // do not keep a member that left reachable
	}
	s.speakers = kept
}

// loudestCandidate is the loudest talking member that is not a speaker.
func (s *selector) loudestCandidate(members []*Member) *Member {
	var best *Member
	for _, mb := range members {
		if !mb.vad.talking || !mb.mixable() || s.isSpeaker(mb) {
			continue
		}
		if best == nil || mb.vad.score > best.vad.score {
			best = mb
		}
	}
	return best
}

func (s *selector) challenge(members []*Member) {
	if len(s.speakers) < s.max {
		s.challenger, s.streak = nil, 0
		return
	}
	c := s.loudestCandidate(members)
	q := s.quietest()
	if c == nil || q < 0 || c.vad.score < s.speakers[q].vad.score+swapMargin {
		s.challenger, s.streak = nil, 0
		return
	}
	if c != s.challenger {
		s.challenger, s.streak = c, 0
	}
	if s.streak++; s.streak >= swapTicks {
		s.speakers[q] = c
		s.challenger, s.streak = nil, 0
	}
}

func (s *selector) quietest() int {
	q := -1
	for i, sp := range s.speakers {
		if q < 0 || sp.vad.score < s.speakers[q].vad.score {
			q = i
		}
	}
	return q
}

// updateFloor keeps the floor with its holder while it speaks, unless another
// speaker is clearly louder for floorTicks.
func (s *selector) updateFloor() {
	loudest := s.loudestSpeaker()
	switch {
	case loudest == nil:
		s.floorRival, s.floorRun = nil, 0
		return // the floor stays with the last speaker through silence
	case s.floor == nil || !s.isSpeaker(s.floor):
		s.floor, s.floorRival, s.floorRun = loudest, nil, 0
		return
	case loudest == s.floor || loudest.vad.score < s.floor.vad.score+floorGap:
		s.floorRival, s.floorRun = nil, 0
		return
	}
	if loudest != s.floorRival {
		s.floorRival, s.floorRun = loudest, 0
	}
	if s.floorRun++; s.floorRun >= floorTicks {
		s.floor, s.floorRival, s.floorRun = loudest, nil, 0
	}
}

func (s *selector) loudestSpeaker() *Member {
	var best *Member
	for _, sp := range s.speakers {
		if best == nil || sp.vad.score > best.vad.score {
			best = sp
		}
	}
	return best
}

func (s *selector) isSpeaker(mb *Member) bool {
	for _, sp := range s.speakers {
		if sp == mb {
			return true
		}
	}
	return false
}

// forget removes a member that left.
func (s *selector) forget(mb *Member) {
	for i, sp := range s.speakers {
		if sp == mb {
			s.speakers = slices.Delete(s.speakers, i, i+1) // the tail is zeroed: no stale *Member kept
			break
		}
	}
	if s.floor == mb {
		s.floor = nil
	}
	if s.challenger == mb {
		s.challenger, s.streak = nil, 0
	}
	if s.floorRival == mb {
		s.floorRival, s.floorRun = nil, 0
	}
}
