// Package signalling is confd's Verto endpoint: JSON-RPC 2.0 over a
// websocket (see docs/protocol.md). It authenticates clients, turns
// verto.invite into a room member with a pion PeerConnection, maps event
// channels onto rooms, and detaches and reattaches calls across reconnects.
//
// Goroutines and ownership:
//
//	goroutine          count            owns                                       stops on
//	Session.readLoop   1 per websocket  reads frames, rate limit; discards while   read error; client's close frame or
//	                                    the socket closes                          2 s after the close frame went out
//	Session.writeLoop  1 per websocket  data frames and the close frame written,   queue closed and reader done /
//	                                    then closing the connection                write error / client stalled
//	Session.loop       1 per websocket  session state: login, calls, replies       session context cancelled
//	Call.setup         1 per offer      building one answer (ICE gathering)        answer posted or failure
//	track readers      see forwarder    published media                            PeerConnection closed
//
// Everything that changes a Session's state runs on its loop; other
// goroutines post closures to it. Writes go through a bounded queue: a
// client too slow to drain it is disconnected (its connection closed by
// whoever finds the queue full) rather than allowed to stall the server.
// gorilla writes its own control replies (pong, the close echo, 1009 for a
// frame over the hard limit) from the reader, which it allows.
package signalling
