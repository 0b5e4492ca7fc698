// Package signalling is confd's Verto endpoint: JSON-RPC 2.0 over a
// websocket (see docs/protocol.md). It authenticates clients, turns
// verto.invite into a room member with a pion PeerConnection, maps event
// channels onto rooms, and detaches and reattaches calls across reconnects.
//
// Goroutines and ownership:
//
//	goroutine          count            owns                                  stops on
//	Session.readLoop   1 per websocket  reads frames, per-connection rate limit  read error / session end
//	Session.writeLoop  1 per websocket  every write to the socket                  outbound queue closed / write error
//	Session.loop       1 per websocket  session state: login, calls, replies       session context cancelled
//	Call.setup         1 per offer      building one answer (ICE gathering)       answer posted or failure
//	track readers      see forwarder    published media                           PeerConnection closed
//
// Everything that changes a Session's state runs on its loop; other
// goroutines post closures to it. Writes go through a bounded queue: a
// client too slow to drain it is disconnected rather than allowed to stall
// the server.
package signalling
