// Package recorder records rooms to disk, in process and without a
// browser: the room's mix and each member's own audio as Ogg/Opus, each
// camera and screen share as WebM (VP8), and a timeline.json of what
// happened, all under Config.Dir/<room>/<start time>/.
//
// A recording taps the room where its media already passes, and nothing
// on those paths waits for the disk:
//
//   - the mixer's Tap (mixer.Mixer.SetTap) hands over, each tick on the
//     mixer goroutine, the mix as listeners hear it (Opus) and every
//     member's input frame as it was sent (browsers' Opus, phones' G.711);
//   - a forwarder.Sink on each camera's Receiver (room.Tap tells of
//     them) copies the packets of the layer being recorded, on the
//     layer's reader goroutine;
//   - the room's Tap hands over joins, leaves, mutes, hands and floors,
//     under the room's lock.
//
// Each of them copies into the recording's bounded queue of preallocated
// entries and returns; when the queue is full the packet is dropped and
// counted (Stats). The recording's own goroutine drains the queue and does
// all the work: Ogg pages, G.711 to Opus transcoding, VP8 frames from RTP
// (RFC 7741), WebM blocks and the timeline. A write error, a full disk or
// a limit (Config.MaxDuration, MaxBytes) stops the recording: the room
// carries on, and recording_finished says why.
//
// Time: every file and the timeline are on one clock, the recording's,
// which starts at 0 when it starts (the mixer's Now clock less the start).
// An audio file has one 20 ms Opus frame per mixer tick from its first one
// on, silence filling what a member did not send; a WebM's blocks carry
// the camera's RTP timestamps from its first key frame on. timeline.json
// gives where each file starts on the recording's clock. A WebM's header
// has the size of its first key frame; a camera whose best layer changes
// later (a browser's simulcast grows as its bandwidth estimate does) goes
// on in the new size, which players follow.
//
// Files are named by member IDs only, never by what members call
// themselves; directories are created 0700 and files 0600.
//
// Goroutines and ownership:
//
//	goroutine            count                   owner       stops on
//	Recorder.run         1 per Recorder          the Recorder  Close
//	recording.run        1 per recording         the Recorder (Start; Stop and Close wait)  Stop, an error or a limit, Close
//	WebM block writer    2 per WebM file (ebml-go)  its file, closed by recording.run  the file closed
//
// Recorder.run carries out the starts and stops rooms ask for under their
// locks (Request: every meeting of a room configured to record), so that
// no room lock is held while the disk is touched.
package recorder
