// Package whip serves broadcasters and audiences over HTTP: WHIP (RFC
// 9725) publishers at POST /whip/<room>, who join the room as members of
// kind stream (their video takes the presentation, their audio is mixed),
// and WHEP players at POST /whep/<room>, who are the room's audience (the
// video floor on one track, the mix as a listener hears it; not members).
// Each session is a resource (Location, ETag) around one peer.Peer:
// DELETE ends it, PATCH trickles candidates or restarts ICE, OPTIONS
// answers CORS and lists the ICE servers.
//
// Publishers authenticate with a join token for the room or the room's
// stream key; viewers with a join token, or with nothing where the room is
// open (rooms[].whep). Refusals are JSON {error, message}: 400 a
// malformed offer, 401 no or a bad token, 403 a room that forbids it, 404
// an unknown room or session, 413 a body over the limit, 415 a wrong
// content type, 422 an offer with nothing usable, 429 too many sessions.
// A refused request leaves nothing behind: its peer, if one was made, has
// shut before the answer is written.
//
// Goroutines:
//
//	goroutine          count                       owner, who waits      stops on
//	session shut       1 per ended session         Server (Shutdown)     the peer has shut
//	session close      1 per session the room ends Server (Shutdown)     the session ended
//	Shutdown's waiter  1 per Shutdown              Shutdown              the sessions ended, or ctx
//
// The peers' own goroutines are package peer's.
package whip
