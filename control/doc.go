// Package control is the operators' control API: JSON over HTTP under
// /api/v1 on the web listeners, for software that drives confd (lists
// rooms and members, creates and closes dynamic rooms, acts on members and
// rooms as a moderator would, mints join tokens, streams events). The
// endpoints are documented in openapi.yaml, served as /api/v1/openapi.json.
//
// Every request but the document's carries an API key ("Authorization:
// Bearer <key>"), compared in constant time; the key's name, never the
// key, goes into the audit log. Moderator actions go through the room's
// own command path (room.Room.Operate), which audits them and reports them
// as moderator_action events; what is not a command (closing a room, a
// system chat message, recording) is audited with room.Room.Audit.
//
// Errors are {"error": code, "message": text}: 400 for bad JSON or fields,
// 401 without a valid key, 404 for an unknown room or member, 409 for a
// conflict (a taken number, a configured room, already recording), 413 for
// a body over the limit, 501 for what this server lacks (a recorder, a
// token secret). A refused request changes nothing.
//
// Goroutines: none of its own. Handlers run on net/http's goroutines; the
// event stream's handler (GET /events) lives as long as its client and
// ends when the events.Bus closes, before the HTTP servers shut down.
package control
