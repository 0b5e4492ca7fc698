package recorder

import (
	"encoding/binary"
	"fmt"

	"github.com/at-wat/ebml-go/mkvcore"
	"github.com/at-wat/ebml-go/webm"

	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/room"
)

// maxFrameBytes bounds one VP8 frame being put together; a larger one is
// dropped (a 1080p key frame is a few hundred KB).
const maxFrameBytes = 4 << 20

// cuesSpace is what a WebM file reserves for its cues (the seek index),
// about one per cluster: 16 KB holds several hours of them.
const cuesSpace = 16 << 10

// videoTrack is one camera or screen share: VP8 frames put together from
// the packets of one simulcast layer (RFC 7741), written to a WebM file
// from the first key frame on. It prefers the best layer the camera
// sends, and moves to another one only at a key frame of it.
type videoTrack struct {
	sink *videoSink
	name string
	dir  string

	file   *file
	w      webm.BlockWriteCloser
	closed bool
	width  int
	height int

	cur, target int // the layer recorded, and the one to move to (-1: any)

	// The frame being put together.
	bufs    [2][]byte // ebml-go takes a frame's bytes to its own goroutine: two alternate
	which   int
	frame   []byte
	inFrame bool
	broken  bool // a packet of it was lost
	frameTS uint32
	frameAt int64
	key     bool
	nextSeq uint16
	haveSeq bool
	needKey bool

	// Timestamps: the RTP clock (90 kHz) extended, placed on the
	// recording's clock at the first frame of each layer.
	lastTS        uint32
	ext           int64 // RTP ticks since the base frame
	baseMS        int64
	lastMS        int64
	firstMS       int64
	frames        int
	written       bool
	needRebase    bool
	keyframeAsked int64
}

func newVideoTrack(s *videoSink, dir string, nth int) *videoTrack {
	kind := "camera"
	if s.member.Kind == room.KindScreen {
		kind = "screen"
	}
	name := fmt.Sprintf("member-%d-%s.webm", s.member.ID, kind)
	if nth > 1 {
		name = fmt.Sprintf("member-%d-%s-%d.webm", s.member.ID, kind, nth)
	}
	return &videoTrack{sink: s, name: name, dir: dir, cur: -1, target: -1, needKey: true}
}

// bestLayer is the highest layer that sends; -1 when none does yet.
func bestLayer(layers []forwarder.LayerInfo) int {
	best := -1
	for _, l := range layers {
		if l.Active && l.Index > best {
			best = l.Index
		}
	}
	return best
}

// choose re-evaluates the layer to record: the best that sends. Until a
// layer is recorded, any layer's key frame will do; a move asks for a key
// frame of the new layer.
func (v *videoTrack) choose(now int64) {
	best := bestLayer(v.sink.recv.Layers())
	var mask uint32
	switch {
	case best < 0 && v.cur < 0:
		mask = 1<<forwarder.MaxLayers - 1 // nothing sends yet: packet picks the best that comes
	case best < 0 || best == v.cur:
		v.target = v.cur
		mask = 1 << v.cur
	default:
		v.target = best
		mask = 1 << best
		if v.cur >= 0 {
			mask |= 1 << v.cur
		}
	}
	v.sink.mask.Store(mask)
	v.sink.recv.Want(v.sink, mask)
	if v.target != v.cur || v.needKey {
		v.askKeyframe(now)
	}
}

// askKeyframe asks the camera for a key frame of the layer wanted, at
// most once a second (the Receiver throttles its PLIs too).
func (v *videoTrack) askKeyframe(now int64) {
	if now-v.keyframeAsked < 1e9 && v.keyframeAsked != 0 {
		return
	}
	v.keyframeAsked = now
	if v.target >= 0 {
		v.sink.recv.RequestLayerKeyframe(v.target)
	} else {
		v.sink.recv.RequestKeyframe()
	}
}

// packet takes one packet of the camera.
func (v *videoTrack) packet(e *entry, rec *recording) error {
	if v.closed {
		return nil
	}
	layer := int(e.layer)
	if v.w == nil && layer > v.target {
		// Before the file is made, the best layer seen sending is the one
		// to start on: a simulcast camera's layers begin a moment apart,
		// the smallest first, and the file's header takes the size of its
		// first key frame.
		v.target, v.keyframeAsked = layer, 0
		v.askKeyframe(e.at)
	}
	if layer != v.cur {
		if !e.key || layer != v.target {
			return nil
		}
		v.switchTo(layer)
	}
	if v.haveSeq && e.seq != v.nextSeq {
		v.broken, v.needKey = true, true // a loss: the frame, and those after it until a key frame, are lost
		v.askKeyframe(e.at)
	}
	v.haveSeq, v.nextSeq = true, e.seq+1
	if e.start {
		v.inFrame, v.broken, v.key = true, false, e.key
		v.frameTS, v.frameAt = e.ts, e.at
		v.frame = v.bufs[v.which][:0]
	}
	if !v.inFrame {
		return nil
	}
	if e.ts != v.frameTS || len(v.frame)+e.n > maxFrameBytes {
		v.broken = true
	}
	if !v.broken {
		v.frame = append(v.frame, e.payload()...)
	}
	if !e.flag {
		return nil
	}
	v.inFrame = false
	if v.broken || (v.needKey && !v.key) {
		return nil
	}
	return v.writeFrame(rec)
}

// switchTo starts recording layer at one of its key frames.
func (v *videoTrack) switchTo(layer int) {
	v.cur, v.target = layer, layer
	v.sink.mask.Store(1 << layer)
	v.sink.recv.Want(v.sink, 1<<layer)
	v.haveSeq, v.inFrame, v.needKey = false, false, true
	v.needRebase = true
}

// writeFrame writes the frame just completed.
func (v *videoTrack) writeFrame(rec *recording) error {
	if v.key {
		v.needKey = false
		if err := v.open(rec); err != nil {
			return err
		}
	}
	if v.w == nil {
		return nil
	}
	ms := v.timestamp(rec)
	v.bufs[v.which] = v.frame
	v.which ^= 1
	if _, err := v.w.Write(v.key, ms, v.frame); err != nil {
		return err
	}
	v.frames++
	return v.file.failed()
}

// timestamp places the frame on the recording's clock, in milliseconds:
// where the first frame of the layer arrived, plus the RTP time since it.
// Timestamps never go back, across layer switches neither.
func (v *videoTrack) timestamp(rec *recording) int64 {
	arrived := (v.frameAt - rec.start) / 1e6
	switch {
	case !v.written:
		v.baseMS = max(arrived, 0)
		v.firstMS = v.baseMS
	case v.needRebase:
		v.baseMS = max(arrived, v.lastMS+1)
	default:
		v.ext += int64(int32(v.frameTS - v.lastTS))
	}
	if !v.written || v.needRebase {
		v.ext = 0
		v.written, v.needRebase = true, false
	}
	v.lastTS = v.frameTS
	ms := max(v.baseMS+v.ext/90, v.lastMS)
	v.lastMS = ms
	return ms
}

// open creates the file at the first key frame, whose size it takes.
func (v *videoTrack) open(rec *recording) error {
	w, h, ok := vp8KeyframeSize(v.frame)
	if !ok {
		return nil
	}
	if v.w != nil {
		return nil // a later key frame; the size may change (a layer switch), which players follow
	}
	f, err := createFile(v.dir, v.name, &rec.budget)
	if err != nil {
		return err
	}
	tracks := []webm.TrackEntry{{
		Name: "video", TrackNumber: 1, TrackUID: 1, CodecID: "V_VP8", TrackType: 1,
		Video: &webm.Video{PixelWidth: uint64(w), PixelHeight: uint64(h)},
	}}
	ws, err := webm.NewSimpleBlockWriter(lenient{f}, tracks,
		mkvcore.WithSegmentInfo(&webm.Info{TimecodeScale: 1e6, MuxingApp: "confd", WritingApp: "confd"}),
		mkvcore.WithBlockInterceptor(nil), mkvcore.WithSeekHead(true), mkvcore.WithCues(cuesSpace),
		mkvcore.WithOnErrorHandler(func(error) {}), mkvcore.WithOnFatalHandler(func(error) {}))
	if err != nil {
		_ = f.Close()
		return err
	}
	v.file, v.w, v.width, v.height = f, ws[0], w, h
	return nil
}

// vp8KeyframeSize reads a key frame's size from its header (RFC 6386
// §9.1: a 3-byte frame tag, the start code 9d 01 2a, then 14-bit width
// and height).
func vp8KeyframeSize(frame []byte) (int, int, bool) {
	if len(frame) < 10 || frame[0]&1 != 0 || frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return 0, 0, false
	}
	return int(binary.LittleEndian.Uint16(frame[6:]) & 0x3fff), int(binary.LittleEndian.Uint16(frame[8:]) & 0x3fff), true
}

// close finishes the file, once.
func (v *videoTrack) close() error {
	if v.w == nil || v.closed {
		return nil
	}
	v.closed = true
	_ = v.w.Close() // writes the cues and the duration, and closes the file
	return v.file.Close()
}

// info describes the file for the timeline; false when none was written.
func (v *videoTrack) info() (fileInfo, bool) {
	if v.w == nil {
		return fileInfo{}, false
	}
	kind := "camera"
	if v.sink.member.Kind == room.KindScreen {
		kind = "screen"
	}
	return fileInfo{File: v.name, Kind: kind, Member: v.sink.member.ID, Start: float64(v.firstMS) / 1000,
		Duration: float64(v.lastMS-v.firstMS) / 1000, Width: v.width, Height: v.height, Frames: v.frames}, true
}
