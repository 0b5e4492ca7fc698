package recorder

import (
	"fmt"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"

	"github.com/confd/confd/mixer"
)

// frameNanos is one mixer tick.
const frameNanos = int64(mixer.FrameMillis) * 1e6

// audioTrack is one Ogg/Opus file (pion's oggwriter): the mix, or one
// member's own audio. It holds one 20 ms frame per tick from its first
// one on; ticks it was not given (a member detached, a tick the mixer
// skipped) become silence, so that its time stays the recording's.
type audioTrack struct {
	name  string
	file  *file
	ogg   *oggwriter.Writer
	track *oggwriter.Track
	pkt   rtp.Packet

	started bool
	closed  bool  // the member left: nothing more is written
	first   int64 // the recording's tick of the file's first frame
	next    int64 // the tick the next frame is for

	// A phone's G.711, transcoded to Opus.
	dec      mixer.Decoder
	decCodec mixer.Codec
	enc      mixer.Encoder
	pcm      [mixer.FrameSamples]int16
	out      [mixer.MaxPayload]byte
}

const oggSSRC = 1 // one stream per file: any number will do

func newAudioTrack(dir, name string, b *budget) (*audioTrack, error) {
	f, err := createFile(dir, name, b)
	if err != nil {
		return nil, err
	}
	w, err := oggwriter.NewWriter(f, oggwriter.WithSampleRate(mixer.SampleRate), oggwriter.WithChannelCount(1),
		oggwriter.WithVendor("confd"), oggwriter.WithSeekableOutput(f))
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	tr, err := w.NewTrack(oggSSRC)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	a := &audioTrack{name: name, file: f, ogg: w, track: tr}
	a.pkt.SSRC = oggSSRC
	return a, nil
}

// write puts payload (one Opus frame) at tick, after silence for the
// ticks missed since the last one. A tick already written is ignored.
func (a *audioTrack) write(tick int64, payload []byte, silence []byte) error {
	if a.closed {
		return nil
	}
	if !a.started {
		a.started, a.first, a.next = true, tick, tick
	}
	if tick < a.next {
		return nil
	}
	for ; a.next < tick; a.next++ {
		if err := a.writeFrame(silence); err != nil {
			return err
		}
	}
	a.next++
	return a.writeFrame(payload)
}

func (a *audioTrack) writeFrame(payload []byte) error {
	a.pkt.Payload = payload
	if err := a.track.WriteRTP(&a.pkt); err != nil {
		return fmt.Errorf("%s: %w", a.name, err)
	}
	return nil
}

// transcode turns a phone's frame into Opus: decoded (or concealed when
// it was lost) and encoded again.
func (a *audioTrack) transcode(codec mixer.Codec, status mixer.FrameStatus, payload []byte) ([]byte, error) {
	if a.dec == nil || a.decCodec != codec {
		dec, err := mixer.NewDecoder(codec)
		if err != nil {
			return nil, err
		}
		a.dec, a.decCodec = dec, codec
	}
	if a.enc == nil {
		enc, err := mixer.NewEncoder(mixer.CodecOpus)
		if err != nil {
			return nil, err
		}
		a.enc = enc
	}
	var err error
	if status == mixer.FramePlay {
		_, err = a.dec.Decode(payload, a.pcm[:])
	} else {
		_, err = a.dec.Conceal(a.pcm[:])
	}
	if err != nil {
		clear(a.pcm[:])
	}
	n, err := a.enc.Encode(a.pcm[:], a.out[:])
	if err != nil {
		return nil, err
	}
	return a.out[:n], nil
}

// close writes the end of the stream and closes the file, once.
func (a *audioTrack) close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	err := a.ogg.Close() // closes the file too
	if ferr := a.file.Close(); err == nil {
		err = ferr
	}
	return err
}

// info describes the file for the timeline.
func (a *audioTrack) info(kind string, member int) fileInfo {
	fi := fileInfo{File: a.name, Kind: kind, Member: member}
	if a.started {
		fi.Start = seconds(a.first * frameNanos)
		fi.Duration = seconds((a.next - a.first) * frameNanos)
	}
	return fi
}
