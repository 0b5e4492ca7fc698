package vertotest

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
)

// ivfCamera is a real VP8 camera for browsers to decode: the frames of an
// IVF file, looped, packetized by pion (with picture IDs).
type ivfCamera struct {
	track    *webrtc.TrackLocalStaticSample
	frames   [][]byte
	interval time.Duration
	next     int
	// wantKey is set by a key frame request (PLI, FIR): the next frame
	// sent is the file's next key frame, as an encoder answers one.
	wantKey atomic.Bool
}

func newIVFCamera(path, streamID string) (*ivfCamera, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, hdr, err := ivfreader.NewWith(f)
	if err != nil {
		return nil, err
	}
	cam := &ivfCamera{interval: time.Second * time.Duration(hdr.TimebaseNumerator) / time.Duration(hdr.TimebaseDenominator)}
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		cam.frames = append(cam.frames, frame)
	}
	if len(cam.frames) == 0 || cam.interval <= 0 {
		return nil, errors.New("ivf: no frames")
	}
	cam.track, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "camera", streamID)
	return cam, err
}

// writeNext sends the next frame of the loop, or skips ahead to a key
// frame when one was asked for.
func (c *ivfCamera) writeNext() error {
	if c.wantKey.Swap(false) {
		for i := range c.frames {
			if k := (c.next + i) % len(c.frames); c.frames[k][0]&1 == 0 { // VP8's P bit 0: a key frame
				c.next = k
				break
			}
		}
	}
	frame := c.frames[c.next]
	c.next = (c.next + 1) % len(c.frames)
	return c.track.WriteSample(media.Sample{Data: frame, Duration: c.interval})
}

// readRTCP answers key frame requests until the sender closes.
func (c *ivfCamera) readRTCP(s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				c.wantKey.Store(true)
			}
		}
	}
}
