// Package dialin lets phones join rooms over SIP (RFC 3261) with G.711
// audio: trunks, desk phones and softphones dial a room's number, enter its
// PIN if it has one, and become room members whose voice goes through the
// room's mixer like a browser's.
//
// Each call is three objects:
//
//   - the dialog: a sipgo.DialogServerSession (responses, ACK, BYE, CANCEL,
//     re-INVITE, INFO), driven by the handlers in handlers.go;
//   - the call (call.go, loop.go, pin.go, keypad.go, member.go): the
//     orchestration, which owns the room membership, the PIN, keypad
//     controls, prompts, timeouts and how the call ends; it is the
//     room.Member;
//   - the media port (media.go, rtcp.go): an RTP/RTCP socket pair from a
//     port range, symmetric RTP, payload-type demux (codec → the mixer
//     input, telephone-event → the RFC 4733 decoder), the packetizer the
//     mixer writes to, and RTCP reports.
//
// Browsers calling over SIP on a websocket (RFC 7118: JsSIP, SIP.js)
// share the stack: the web listeners hand their websocket upgrades to
// ServeWebSocket (ws.go), which checks the Origin and the connection
// limits and passes the connection to sipgo's WS transport (through
// wsReassembler, wsframe.go, which gives sipgo each fragmented or binary
// message as one text frame), whose messages go through the read filter (the websocket's gate: rate, size,
// wire check). A browser's INVITE is a webCall (webcall.go): the dialog
// and a peer.Peer, the room's member, which answers the WebRTC offer;
// re-INVITE and UPDATE renegotiate it, INFO and RFC 4733 keys (from the
// peer's audio reader) drive the same keypad table as phones'
// (keypad.go). REGISTER keeps bindings (register.go). In a cluster, a
// browser's INVITE for a room on another node hands its websocket over to
// a pipe to that node (wsrelay.go), which serves it from then on.
//
// Offer/answer (RFC 3264) lives in sdp.go as pure functions with a fuzz
// target; admission (trunk networks, digest auth, per-source INVITE rate)
// in guard.go, the PIN lockout in lockout.go.
//
// In front of sipgo sits the gate (gate.go, wire.go, wirecheck.go,
// wiresyntax.go, fuzzed): every message is read and judged before sipgo
// sees it, malformed requests get a stateless 4xx, malformed ACKs and
// responses are dropped. Over UDP it is the socket sipgo reads (it also
// learns each datagram's destination on a socket bound to every address,
// udpdst.go); over TCP and TLS a streamConn per connection (stream.go)
// frames messages itself under Config.Limits: sizes, the read, idle,
// handshake and write deadlines, connections per address and in all.
// Each request that passes carries the address it arrived on, which the
// call's Contact, SDP and RTP socket follow (arrival.go).
//
// Goroutines and ownership:
//
//	goroutine              count                 owner    owns                                      stops on
//	sipgo request handler  1 per request         sipgo    nothing long-lived: sends the final       handler return
//	                                                      response (for a 200, waits for the ACK)
//	call.run               1 per answered call   Server   the call's phase, membership, PIN,        BYE either way, kick,
//	                                                      keypad, prompt pacing out of the mix,     shutdown, RTP timeout
//	                                                      RTCP reports and timeouts
//	mediaPort.readRTP      1 per call            call     the receive buffer, DTMF decoder state;   socket closed
//	                                                      pushes into the mixer input
//	mediaPort.readRTCP     1 per call            call     the RTCP receive buffer                   socket closed
//	sipgo transports       1 per listener        Server   the listening sockets (UDP: also the      Shutdown
//	                                                      reading, through the gate); for
//	                                                      websockets, the accept loop of
//	                                                      wsListener (started in Start)
//	webCall.run            1 per answered        Server   the browser call's hangup, moves and      BYE either way, kick,
//	                       browser call                   keypad; shuts its peer at the end         ICE failure, shutdown
//	sipgo WS reader        1 per websocket       sipgo    the connection's frames; the read         close by either side,
//	                                                      filter runs on it                         a flood, Shutdown
//	wsPipe.run             1 per websocket       Server   the client's socket and the websocket     either side closing,
//	                       relayed to the                 to the room's node; copies the node's     Shutdown (closePipes,
//	                       room's node                    octets to the client, gives the           waited for)
//	                                                      connection's place back at the end
//	wsPipe.up              1 per relayed         run      copies the client's octets to the         either side closing
//	                       websocket                      room's node                               (run waits for it)
//	sipgo stream reader    1 per TCP/TLS conn    sipgo    the connection's streamConn: framing     a limit (closed by
//	                                                      buffers, TLS handshake                    streamConn), peer
//	                                                                                                close, Shutdown
//	                                                                                                (waited for)
//
// sipgo calls a handler on its own goroutine and terminates the
// transaction when the handler returns, so every handler sends its final
// response before returning. The INVITE handler stays until the 200 is
// ACKed (or the caller cancels while it rings), then hands the call to
// call.run (a browser's to webCall.run) and returns. The peer's own
// goroutines are package peer's.
//
// The room calls Notify and Close with its lock held; the call only queues
// them (a buffered channel, never a blocking send). The mixer calls the
// media port's WriteFrame on its goroutine every 20 ms: it builds the RTP
// header under a small lock and writes the UDP packet after unlocking, and
// so does the call goroutine when it paces prompts outside the mix, each
// with its own buffer. The RTP path allocates nothing and logs nothing per
// packet.
package dialin
