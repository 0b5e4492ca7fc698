package recorder

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/mixer"
	"github.com/confd/confd/room"
)

// How often the recording's goroutine looks up from its queue: to check
// its limits and the free space, to choose each camera's layer again, and
// to bring timeline.json up to date on disk (a crash loses at most that
// much of it).
const (
	housekeeping  = time.Second
	timelineEvery = 30 * time.Second
)

// controlQueue bounds the activities and camera changes waiting; a room
// makes a few a second at most.
const controlQueue = 256

// recording is one room being recorded, from Start to its end.
type recording struct {
	rc    *Recorder
	room  *room.Room
	dir   string
	log   *zap.Logger
	start int64     // mixer.Now at the recording's 0
	wall  time.Time // the wall time then

	q       *queue
	ctl     chan control
	dropped atomic.Uint64
	budget  budget

	mix      mixTap
	roomTap  *roomTap
	tapMu    sync.Mutex // attach and detach
	detached bool

	stop     chan struct{} // closed to stop: by Stop, or by the goroutine itself
	stopOnce sync.Once
	done     chan struct{} // closed when the goroutine has closed every file
	reason   string        // why it stopped on its own; set by the goroutine before done

	// Owned by the goroutine.
	tl       timeline
	silence  []byte // one 20 ms Opus frame of silence
	mixFile  *audioTrack
	inputs   map[int]*audioTrack
	order    []int // members in the order their audio began
	cameras  map[int]*videoTrack
	all      []*videoTrack // every camera recorded, in order
	per      map[int]int   // files made per member, for their names
	lastTick int64
}

func newRecording(rc *Recorder, r *room.Room, dir string, wall time.Time) (*recording, error) {
	rec := &recording{
		rc: rc, room: r, dir: dir, wall: wall,
		log: rc.cfg.Log.With(zap.String("room", r.Number()), zap.String("dir", dir)),
		q:   newQueue(rc.cfg.Queue), ctl: make(chan control, controlQueue),
		stop: make(chan struct{}), done: make(chan struct{}),
		inputs: map[int]*audioTrack{}, cameras: map[int]*videoTrack{}, per: map[int]int{},
	}
	rec.budget.limit = rc.cfg.MaxBytes
	rec.start = mixer.Now()
	rec.mix = mixTap{rec: rec}
	rec.roomTap = &roomTap{rec: rec, sinks: map[*forwarder.Receiver]*videoSink{}}
	rec.tl = timeline{Room: roomInfo{Number: r.Number(), Name: r.Name()}, Started: wall.UTC(), Files: []fileInfo{}, Events: []event{}}
	enc, err := mixer.NewEncoder(mixer.CodecOpus)
	if err != nil {
		return nil, err
	}
	var pcm [mixer.FrameSamples]int16
	buf := make([]byte, mixer.MaxPayload)
	n, err := enc.Encode(pcm[:], buf)
	if err != nil {
		return nil, err
	}
	rec.silence = buf[:n]
	if rec.mixFile, err = newAudioTrack(dir, "mix.ogg", &rec.budget); err != nil {
		return nil, err
	}
	return rec, rec.tl.write(dir)
}

// take is a free queue entry for a tap; nil, counted, when the queue is full.
func (rec *recording) take() *entry {
	e := rec.q.get()
	if e == nil {
		rec.dropped.Add(1)
	}
	return e
}

// post hands c to the goroutine, or drops and counts it.
func (rec *recording) post(c control) {
	select {
	case rec.ctl <- c:
	default:
		rec.dropped.Add(1)
	}
}

// attach installs the taps, unless the recording already ended; the
// members in the room now join the timeline at 0. It runs before the
// goroutine starts, which then owns the timeline.
func (rec *recording) attach() {
	rec.tapMu.Lock()
	defer rec.tapMu.Unlock()
	if rec.detached {
		return
	}
	members := rec.room.SetTap(rec.roomTap)
	for _, m := range members {
		rec.tl.add(joined(0, m))
		rec.stateAtStart(m.ID)
	}
	rec.room.Mixer().SetTap(rec.mix)
}

// stateAtStart puts in the timeline what a member present at the start
// is doing then (later changes come as they happen).
func (rec *recording) stateAtStart(id int) {
	p := rec.room.Participant(id)
	if p == nil {
		return
	}
	yes := true
	if p.Talking() {
		rec.tl.add(event{Type: "talking", Member: id, Talking: &yes})
	}
	if p.Muted() {
		rec.tl.add(event{Type: "mute", Member: id, Muted: &yes})
	}
	if p.HandRaised() {
		rec.tl.add(event{Type: "hand", Member: id, Raised: &yes})
	}
}

// detach takes the taps off the room, its mixer and its cameras, for
// good; what they queued before is still written.
func (rec *recording) detach() {
	rec.tapMu.Lock()
	defer rec.tapMu.Unlock()
	if rec.detached {
		return
	}
	rec.detached = true
	rec.room.Mixer().SetTap(nil)
	rec.room.SetTap(nil)
	rec.roomTap.detach()
}

// end asks the goroutine to finish.
func (rec *recording) end() { rec.stopOnce.Do(func() { close(rec.stop) }) }

// run is the recording's goroutine: it drains the queue into the files
// until stopped, an error or a limit, then closes every file.
func (rec *recording) run() {
	defer close(rec.done)
	tick := time.NewTicker(housekeeping)
	defer tick.Stop()
	lastTimeline := time.Now()
	var err error
	for err == nil {
		select {
		case <-rec.stop:
			rec.drain()
			rec.finish(nil)
			return
		case e := <-rec.q.full:
			err = rec.handle(e)
			rec.q.release(e)
		case c := <-rec.ctl:
			err = rec.control(c)
		case <-tick.C:
			err = rec.housekeep()
			if err == nil && time.Since(lastTimeline) >= timelineEvery {
				lastTimeline = time.Now()
				err = rec.writeTimeline("")
			}
		}
	}
	rec.finish(err)
}

// drain writes what the taps queued before they were detached.
func (rec *recording) drain() {
	for {
		select {
		case e := <-rec.q.full:
			_ = rec.handle(e)
			rec.q.release(e)
		case c := <-rec.ctl:
			_ = rec.control(c)
		default:
			return
		}
	}
}

// finish closes every file and writes the timeline. When the recording
// stopped on its own (err), it takes itself off the room, which then
// reports recording_finished with the reason.
func (rec *recording) finish(err error) {
	if err != nil {
		rec.reason = reasonOf(err)
		rec.log.Error("recording stopped", zap.Error(err))
		rec.rc.forget(rec)
		rec.detach()
		rec.end()
		rec.drain()
	}
	var closeErr error
	closeErr = errors.Join(closeErr, rec.mixFile.close())
	for _, id := range rec.order {
		closeErr = errors.Join(closeErr, rec.inputs[id].close())
	}
	for _, v := range rec.all {
		closeErr = errors.Join(closeErr, v.close())
	}
	if closeErr != nil && err == nil {
		rec.log.Error("recording: closing its files", zap.Error(closeErr))
		if rec.reason == "" {
			rec.reason = reasonOf(closeErr)
		}
	}
	if werr := rec.writeTimeline(rec.reason); werr != nil {
		rec.log.Error("recording: writing the timeline", zap.Error(werr))
	}
	if err != nil {
		rec.room.EndRecording(rec.reason)
	}
	rec.log.Info("recording finished", zap.Int64("bytes", rec.budget.used.Load()), zap.Uint64("dropped", rec.dropped.Load()))
}

// reasonOf is what recording_finished says of err: the limit or the
// trouble, never a path.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, ErrDiskFull), errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "disk full"
	case errors.Is(err, ErrTooLarge):
		return "size limit reached"
	case errors.Is(err, ErrTooLong):
		return "duration limit reached"
	}
	return "write error"
}

// tickOf is the recording's tick of a time on the mixer's clock, rounded:
// the mixer's ticks are exactly a frame apart. A tick due before the
// start (a late mixer runs its ticks after their time) counts as the
// first.
func (rec *recording) tickOf(at int64) int64 {
	return max(0, (at-rec.start+frameNanos/2)/frameNanos)
}

func (rec *recording) seconds(at int64) float64 { return seconds(max(at-rec.start, 0)) }

// handle writes one entry.
func (rec *recording) handle(e *entry) error {
	switch e.kind {
	case entryMix:
		return rec.mixFile.write(rec.tickOf(e.at), e.payload(), rec.silence)
	case entryInput:
		return rec.input(e)
	case entryTalking:
		talking := e.flag
		rec.tl.add(event{T: rec.seconds(e.at), Type: "talking", Member: e.id, Talking: &talking})
	case entryVideo:
		if v := rec.cameras[e.id]; v != nil {
			return v.packet(e, rec)
		}
	}
	return nil
}

// input writes a member's frame to its own file: a browser's Opus as it
// came, a phone's G.711 transcoded, silence while its voice is kept out
// of the mix or was lost.
func (rec *recording) input(e *entry) error {
	a := rec.inputs[e.id]
	if a == nil {
		var err error
		if a, err = newAudioTrack(rec.dir, fmt.Sprintf("member-%d.ogg", e.id), &rec.budget); err != nil {
			return err
		}
		rec.inputs[e.id] = a
		rec.order = append(rec.order, e.id)
	}
	payload := rec.silence
	switch {
	case !e.flag:
	case e.codec != mixer.CodecOpus:
		p, err := a.transcode(e.codec, e.status, e.payload())
		if err != nil {
			return err
		}
		payload = p
	case e.status == mixer.FramePlay:
		payload = e.payload()
	}
	return a.write(rec.tickOf(e.at), payload, rec.silence)
}

// control takes an activity or a camera change.
func (rec *recording) control(c control) error {
	switch {
	case c.activity != nil:
		if ev, ok := eventOf(rec.seconds(c.at), c.activity); ok {
			rec.tl.add(ev)
		}
		if a := rec.inputs[c.activity.Member.ID]; a != nil && c.activity.Kind == room.MemberLeft {
			return a.close() // a member who comes back has a new ID: its file is done
		}
	case c.started != nil:
		s := c.started
		rec.per[s.member.ID]++
		v := newVideoTrack(s, rec.dir, rec.per[s.member.ID])
		rec.cameras[s.stream] = v
		rec.all = append(rec.all, v)
		v.choose(c.at)
	case c.ended != nil:
		if v := rec.cameras[c.ended.stream]; v != nil {
			delete(rec.cameras, c.ended.stream)
			return v.close()
		}
	}
	return nil
}

// housekeep checks the limits and the disk and chooses the cameras'
// layers again.
func (rec *recording) housekeep() error {
	now := mixer.Now()
	if time.Duration(now-rec.start) >= rec.rc.cfg.MaxDuration {
		return ErrTooLong
	}
	if free, ok := freeBytes(rec.dir); ok && free < rec.rc.cfg.MinFreeBytes {
		return fmt.Errorf("%w: %d bytes free", ErrDiskFull, free)
	}
	for _, v := range rec.cameras {
		v.choose(now)
	}
	return nil
}

// writeTimeline brings timeline.json up to date.
func (rec *recording) writeTimeline(reason string) error {
	tl := rec.tl
	tl.Duration = rec.seconds(mixer.Now())
	tl.StoppedBy = reason
	tl.Dropped = rec.dropped.Load()
	tl.Files = []fileInfo{rec.mixFile.info("mix", 0)}
	for _, id := range rec.order {
		tl.Files = append(tl.Files, rec.inputs[id].info("audio", id))
	}
	for _, v := range rec.all {
		if fi, ok := v.info(); ok {
			tl.Files = append(tl.Files, fi)
		}
	}
	if isClosed(rec.stop) {
		tl.Ended = time.Now().UTC()
	}
	return tl.write(rec.dir)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
