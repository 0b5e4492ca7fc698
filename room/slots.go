package room

import (
	"cmp"
	"slices"
)

// reassignLocked recomputes every viewer's slots and switches the ones that
// changed. A viewer whose assignment changed is notified.
func (r *Room) reassignLocked() {
	ranked := r.rankedLocked()
	for _, v := range r.members {
		if len(v.slots) > 0 && r.reassignViewerLocked(v, ranked) {
			r.notifySlotsLocked(v, ranked)
		}
	}
	r.reassignAudienceLocked(ranked)
}

// rankedLocked orders the publishers by relevance: the video floor first
// (the audio floor when it publishes), then by how recently each spoke,
// then by how recently each started publishing. Before anyone has spoken,
// the most recent publisher holds the video floor.
func (r *Room) rankedLocked() []*Participant {
	ranked := slices.DeleteFunc(slices.Clone(r.publishers), func(p *Participant) bool { return p.videoMuted || p.waiting })
	slices.SortStableFunc(ranked, func(a, b *Participant) int { return cmp.Compare(b.lastTalk, a.lastTalk) })
	// Reserved members come right after the floor; then the floor itself is
	// placed: a screen share beats a moderator's forced floor, which beats
	// the loudest speaker.
	slices.SortStableFunc(ranked, func(a, b *Participant) int {
		return cmp.Compare(reserved(b), reserved(a))
	})
	for _, f := range []*Participant{r.floor, r.forcedFloor, r.screenLocked()} {
		if i := slices.Index(ranked, f); i > 0 {
			ranked = slices.Insert(slices.Delete(ranked, i, i+1), 0, f)
		}
	}
	return ranked
}

// screenLocked is the most recent presenter (a screen share or a
// broadcaster) that is publishing.
func (r *Room) screenLocked() *Participant {
	for _, p := range r.publishers {
		if p.Info.Kind.presents() && !p.videoMuted && !p.waiting {
			return p
		}
	}
	return nil
}

// notifyAllSlotsLocked re-sends every viewer's slots (a banner changed).
func (r *Room) notifyAllSlotsLocked() {
	ranked := r.rankedLocked()
	for _, v := range r.members {
		if len(v.slots) > 0 {
			r.notifySlotsLocked(v, ranked)
		}
	}
}

func (r *Room) reassignViewerLocked(v *Participant, ranked []*Participant) bool {
	cur := make([]int, len(v.slots))
	pins := make([]int, len(v.slots))
	for i, s := range v.slots {
		if s.filler != nil {
			cur[i] = s.filler.ID
		}
		pins[i] = s.pinned
	}
	var cands []int
	for _, p := range ranked {
		if p != v && !v.waiting {
			cands = append(cands, p.ID)
		}
	}
	if r.cfg.Echo {
		cands = echoCandidates(v, ranked)
	}
	next := assign(cur, cands, pins)
	if slices.Equal(cur, next) {
		return false
	}
	for i, id := range next {
		r.fillLocked(&v.slots[i], id)
	}
	return true
}

func (r *Room) fillLocked(s *slot, id int) {
	var p *Participant
	if id != 0 {
		p = r.memberLocked(id)
	}
	s.filler = p
	if p == nil {
		s.track.SetSource(nil)
		return
	}
	s.track.SetSource(p.camera)
}

func (r *Room) notifySlotsLocked(v *Participant, ranked []*Participant) {
	ev := SlotsEvent{Slots: make([]SlotView, len(v.slots))}
	var floor *Participant
	if len(ranked) > 0 {
		floor = ranked[0]
	}
	for i, s := range v.slots {
		sv := SlotView{Index: i, MID: s.mid}
		if s.filler != nil {
			sv.MemberID, sv.Name, sv.Banner = s.filler.ID, s.filler.Info.Name, s.filler.banner
			sv.Rank = slices.Index(ranked, s.filler)
			sv.Floor = s.filler == floor
			sv.Pinned = s.pinned == s.filler.ID
		}
		ev.Slots[i] = sv
	}
	v.member.Notify(ev)
}

// assign decides which publisher fills each of a viewer's slots.
//
// cur holds the current filler per slot, cands the publishers the viewer
// may see, most relevant first (cands[0] holds the video floor), and pins
// the member each slot is pinned to (0: none). IDs are non-zero; 0 means an
// empty slot. The rules, in order:
//  1. a pinned member who publishes fills its slot;
//  2. the most relevant remaining candidates are shown, as many as there
//     are unpinned slots;
//  3. slot 0, if not pinned, shows the most relevant of them (the floor);
//  4. a shown member stays in the slot it already had, so that people
//     coming and going do not reshuffle everyone's tiles;
//  5. the rest fill the free slots in order of relevance.
func assign(cur, cands, pins []int) []int {
	out := make([]int, len(cur))
	used := map[int]bool{}
	for i, p := range pins {
		if p != 0 && slices.Contains(cands, p) && !used[p] {
			out[i], used[p] = p, true
		}
	}
	shown := pickShown(out, cands, used)
	place := func(i, id int) {
		out[i], used[id] = id, true
	}
	if len(out) > 0 && out[0] == 0 && len(shown) > 0 {
		place(0, shown[0])
	}
	for i, id := range cur {
		if out[i] == 0 && id != 0 && !used[id] && slices.Contains(shown, id) {
			place(i, id)
		}
	}
	for _, id := range shown {
		if used[id] {
			continue
		}
		if i := slices.Index(out, 0); i >= 0 {
			place(i, id)
		}
	}
	return out
}

// pickShown returns the most relevant unused candidates, one per free slot.
func pickShown(out, cands []int, used map[int]bool) []int {
	free := 0
	for _, id := range out {
		if id == 0 {
			free++
		}
	}
	var shown []int
	for _, c := range cands {
		if len(shown) == free {
			break
		}
		if !used[c] {
			shown = append(shown, c)
		}
	}
	return shown
}

func reserved(p *Participant) int {
	if p.reservation != "" {
		return 1
	}
	return 0
}
