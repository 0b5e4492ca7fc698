package room

// Row is a member as the participant list shows it.
type Row struct {
	ID       int
	Key      string // the endpoint's key for the member (a Verto callID, a SIP Call-ID)
	Name     string
	Number   string // caller ID as shown (phones' numbers come masked from their endpoint)
	Kind     Kind
	Role     Role
	UserData map[string]any // what the client attached to its call (verto userVariables)

	Muted, ModMuted, Deaf, Held bool
	Talking, Floor              bool // audio: talking now; holds the audio floor
	Energy                      int  // loudness score 0..127 when it last started or stopped talking
	Hand                        bool // hand raised
	Waiting                     bool // in the lobby, waiting to be admitted

	HasVideo, VideoMuted    bool
	VideoFloor, FloorLocked bool // shown as the video floor; the floor was forced onto it by a moderator
	ScreenShare             bool
	Reservation, Banner     string

	Recording bool // the room is being recorded: every row says so, for every member to see
}

// RowAction says what happened to a row.
type RowAction int

// Row actions, as the participant list protocol has them.
const (
	RowAdd RowAction = iota
	RowModify
	RowDel
)

// Observer follows a room's participant list and chat. Its methods are
// called with the room's lock held, in the order things happened, and must
// not block; Snapshot calls its function under the same lock, so a snapshot
// and the events after it never overlap or leave a gap.
type Observer interface {
	RowChanged(r *Room, action RowAction, row Row)
	Chat(r *Room, msg ChatMessage)
	RoomClosed(r *Room)
}

// Observe sets the observer of every room, and of the dynamic rooms
// created after (once, before serving).
func (rs *Rooms) Observe(o Observer) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.obs = o
	for _, r := range rs.list {
		r.mu.Lock()
		r.obs = r.observerFor(o)
		r.mu.Unlock()
	}
}

// Snapshot calls f with the current rows, in join order, under the room's
// lock: events that f does not see are delivered to the observer after it.
func (r *Room) Snapshot(f func(rows []Row)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rows := make([]Row, 0, len(r.members))
	for _, p := range r.members {
		if !r.cfg.Echo { // the echo test's callers do not see one another
			rows = append(rows, r.rowLocked(p))
		}
	}
	f(rows)
}

// Row is the member's current row.
func (p *Participant) Row() Row {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	return p.room.rowLocked(p)
}

func (r *Room) rowLocked(p *Participant) Row {
	ranked := r.rankedLocked()
	return Row{
		ID: p.ID, Key: p.Info.Key, Name: p.Info.Name, Number: p.Info.Number, Kind: p.Info.Kind, Role: p.Info.Role,
		UserData: p.Info.UserData,
		Muted:    p.muted, ModMuted: p.modMuted, Deaf: p.deaf, Held: p.held,
		Talking: p.talking, Floor: r.floor == p, Energy: p.energy, Hand: p.hand, Waiting: p.waiting,
		HasVideo: p.camera != nil || p.videoMuted, VideoMuted: p.videoMuted,
		VideoFloor: len(ranked) > 0 && ranked[0] == p, FloorLocked: r.forcedFloor == p,
		ScreenShare: p.Info.Kind == KindScreen,
		Reservation: p.reservation, Banner: p.banner,
		Recording: r.recording,
	}
}

// changedLocked tells the observer about every member whose row changed.
// Changes to one member can move others (the floor), so all are compared;
// rows are small and rooms change a few times a second at most.
func (r *Room) changedLocked() {
	r.floorsLocked(r.rankedLocked())
	for _, p := range r.members {
		row := r.rowLocked(p)
		if p.lastRow != nil && rowsEqual(*p.lastRow, row) {
			continue
		}
		p.lastRow = &row
		if r.obs != nil {
			r.obs.RowChanged(r, RowModify, row)
		}
	}
}

// rowsEqual compares two rows of one member field by field. UserData is
// the member's own, set at its join and never changed, so it is not
// compared. (A test sets each field in turn to check none is missed.)
func rowsEqual(a, b Row) bool {
	return a.ID == b.ID && a.Key == b.Key && a.Name == b.Name && a.Number == b.Number &&
		a.Kind == b.Kind && a.Role == b.Role &&
		a.Muted == b.Muted && a.ModMuted == b.ModMuted && a.Deaf == b.Deaf && a.Held == b.Held &&
		a.Talking == b.Talking && a.Floor == b.Floor && a.Energy == b.Energy && a.Hand == b.Hand &&
		a.Waiting == b.Waiting && a.HasVideo == b.HasVideo && a.VideoMuted == b.VideoMuted &&
		a.VideoFloor == b.VideoFloor && a.FloorLocked == b.FloorLocked && a.ScreenShare == b.ScreenShare &&
		a.Reservation == b.Reservation && a.Banner == b.Banner && a.Recording == b.Recording
}

func (r *Room) addedLocked(p *Participant) {
	row := r.rowLocked(p)
	p.lastRow = &row
	if r.obs != nil {
		r.obs.RowChanged(r, RowAdd, row)
	}
}

func (r *Room) removedLocked(p *Participant) {
	if r.obs != nil && p.lastRow != nil {
		r.obs.RowChanged(r, RowDel, *p.lastRow)
	}
}

// observerFor is the observer the room reports to: none for the echo
// test, whose callers do not see one another.
func (r *Room) observerFor(o Observer) Observer {
	if r.cfg.Echo {
		return nil
	}
	return o
}
