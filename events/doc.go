// Package events tells operators' software what happens in rooms: each
// room.Activity becomes an Event, POSTed as JSON to the configured
// webhooks (signed with HMAC-SHA256, retried with backoff for a bounded
// time) and written to the open event streams (Server-Sent Events).
//
// Nothing here ever makes a room wait. The Bus is the rooms'
// room.ActivitySink: under a room's lock it only builds the event and
// offers it to each webhook's bounded queue and each stream's bounded
// buffer, without blocking. A full webhook queue drops the new event and
// counts it (logged later by the sender); a stream whose client falls a
// whole buffer behind is dropped. All I/O happens on the goroutines below.
//
// Goroutines and ownership:
//
//	goroutine        count               owner                 stops on
//	hook.run         1 per webhook       the Bus (Start/Close) Close: tries what is queued once, until Close's context ends
//	Stream.ServeHTTP 1 per event stream  net/http (the request) client gone, dropped as slow, or Bus.Close
//
// Close ends the streams first (their handlers return, so the HTTP
// servers can shut down), then waits for the senders.
package events
