// Package room is confd's control plane: rooms by number and name, their
// members, the video floor and which publisher fills which of a member's
// video slots. It wires forwarder.Receivers to forwarder.DownTracks but never
// touches a packet, and it reaches members only through the small Member
// interface, so it knows neither Verto nor SIP.
//
// Rooms are configured, or dynamic: created and removed by an operator
// while the server runs (Rooms.Create, Rooms.Remove). Operators' software
// follows what happens through an ActivitySink (joins, leaves, mutes, hands,
// floors, chat, recording, moderator actions), and acts through Operate, the
// moderator commands of Run under an API key's name; both audit the same way.
//
// A Recorder (package recorder) records rooms: a moderator's "recording"
// command and the API call it, and a room with Config.Record asks it to
// record each meeting. While it records, it sees the room through a Tap
// (activity and cameras); every member's row says the room is recorded.
// A room with Config.Echo is the echo test (echo.go).
//
// Concurrency: each Room has one mutex guarding its members and slots.
// Member methods (Notify, Close), the Observer and the ActivitySink are
// called with it held and must not block; the forwarder calls made under it
// (DownTrack.SetSource) take only their own small locks and never write to
// the network. Its only goroutines are the
// join and leave tones: one per tone, about half a second each, feeding a
// mixer input; the Room owns them, and Close stops and waits for them
// before closing the mixer.
package room
