package vertotest

import (
	"errors"
	"io"
	"os"
	"time"

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

// writeNext sends the next frame of the loop.
func (c *ivfCamera) writeNext() error {
	frame := c.frames[c.next]
	c.next = (c.next + 1) % len(c.frames)
	return c.track.WriteSample(media.Sample{Data: frame, Duration: c.interval})
}
