// Package medianet is the network confd's WebRTC media gathers on: a
// pion transport.Net (set with the SettingEngine's SetNet) over the
// standard library that knows which sockets are confd's media.
//
//   - Every UDP socket pion opens through it (host candidates, the
//     server-reflexive sockets of public_ips, the shared UDP mux) is
//     counted by port while it is open, so [Net.Own] can say, packet by
//     packet and without allocating or locking, whether an address is one
//     of confd's live media sockets. The built-in TURN server relays to
//     those alone.
//   - [Net.OwnIP] says whether an IP is one confd gathers on: an address
//     of this host (loopback only with LoopbackOnly; loopback included
//     with IncludeLoopback) or a configured public address.
//   - With LoopbackOnly, a socket asked for on the unspecified address
//     (pion's server-reflexive sockets are) is bound to loopback instead,
//     so tests bind nothing else.
//   - A server-reflexive socket for an IP family without a public address
//     is refused: pion would announce the socket's own address for it.
//
// The media sockets keep pion's allocation-free read and write path: they
// offer ReadFromAddrPort and WriteToAddrPort as a *net.UDPConn does.
//
// Between [Net.Hold] and [Net.Release] the media sockets queue what is
// written to them and the last Release sends each queue with one sendmmsg
// (burst.go): a mixer tick or a video packet's fan-out is one system call.
//
// It starts no goroutines; a burst is sent by the goroutine that releases
// it or fills its queue. The interface list is read again at most every
// [refreshEvery] when pion gathers, so an address that appears later is
// used and owned.
package medianet
