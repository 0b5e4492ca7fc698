// Package signalling is confd's Verto endpoint: JSON-RPC 2.0 over a
// websocket (see docs/protocol.md). It authenticates clients, turns
// verto.invite into a Call (the Verto dialog) around a peer.Peer (the
// room member and its WebRTC media), maps event channels onto rooms, and
// detaches and reattaches calls across reconnects.
//
// Goroutines and ownership:
//
//	goroutine                 count                  owner, who waits                       stops on
//	Session.readLoop          1 per websocket        Session.run                            read error / session end, after
//	                                                                                        discarding until the client's close
//	                                                                                        frame or 2 s after ours went out
//	Session.writeLoop         1 per websocket        Session.run                            queue closed, close frame written and
//	                                                                                        the reader done / write error / the
//	                                                                                        client stalled (closed at once)
//	Session.loop              1 per websocket        Server.ServeHTTP (runs it)              session context cancelled
//	Session.spawn             1 per answer, re-offer, attach answer, reattach offers,
//	                          takeover wait, speed-test report
//	                                                 Session.run (work WaitGroup)           done, or the session's context ends
//	call shut (Call.end)      1 per ended call       the Server's call registry: the call   peer.Shut returned; it unregisters
//	                                                 stays in Server.calls until it ends,    the call
//	                                                 and Shutdown waits for that
//	Call.endDetached          1 per detached call the room closes
//	                                                 the Server's call registry, as above   the call ended
//	detach timer (AfterFunc)  1 per detached call    the Server (stopped by takeDetached)    fires once: the call ends
//	memory release timer      1 per Server at most   the Server (wg: Shutdown stops it      fires once: collects and returns
//	(AfterFunc)                                      or waits for it)                       free memory (releaseMemory)
//	Shutdown's waiter         1 per Shutdown         Shutdown                               every session ended, or ctx
//	Session.runRelay          1 per session relayed to the room's node (relay.go)
//	                                                 Session.run (work WaitGroup)           the session's context, a relay socket error
//	relay reader (relayRead)  1 per relayed session  runRelay, which waits for it           the relay socket closed
//
// The peer's own goroutines (media readers, RTCP, the Allocator) are listed
// in package peer.
//
// Everything that changes a Session's state runs on its loop; other
// goroutines post closures to it. Writes go through a bounded queue: a
// client too slow to drain it is disconnected (its connection closed by
// whoever finds the queue full) rather than allowed to stall the server.
// gorilla writes its own control replies (pong, the close echo, 1009 for a
// frame over the hard limit) from the reader, which it allows.
package signalling
