// Package turnserver is confd's built-in TURN server (RFC 8656) on
// pion/turn: UDP and TCP on the TURN port, and TURN over TLS on the HTTPS
// port (the connections netmux sorts to it, TLS already terminated).
//
// It is not an open relay. It relays only to confd's own media, as its
// [Policy] (medianet) says:
//
//   - CreatePermission and ChannelBind to an IP that is not one of
//     confd's media IPs get 403;
//   - every relayed packet, either way, must be to or from one of
//     confd's live media sockets (IP and port), else it is dropped and
//     counted;
//   - relays are UDP only (an Allocate for TCP gets 442), and their
//     sockets bind the relay IP (loopback by default: the relay talks to
//     confd on this machine and nothing else can reach it).
//
// Credentials are the TURN REST scheme ([Credentials]; coturn's
// use-auth-secret): minted per session from the secret, expiring after
// CredentialTTL. A wrong credential gets 401, and so does an expired one
// for a new allocation; an allocation made in time may go on refreshing
// with it until the call ends. The secret is never logged.
//
// Limits, each in [Config] with its default: allocations in all, per
// credential and per client IP (486 past them); bandwidth per allocation
// each way (a token bucket; packets over it are dropped and counted); TCP
// and TLS connections in all and per IP (closed past them); the time to a
// TCP client's first request and its idle time.
//
// The packet path: ChannelData and Send indications pass the request
// filter untouched; the relay socket checks the peer with [Policy.Own]
// (allocation-free and lock-free) and its bucket, and reads into pion's
// buffer. confd's code on this path allocates nothing, takes no lock
// across a network write and logs nothing.
//
// Goroutines, all pion's (started by New, ended by Close):
//
//	goroutine                  count                      stops on
//	UDP read loop              1 per TURN UDP socket      the socket closes (Close)
//	accept loop                1 per TCP or TLS listener  the listener closes (Close)
//	client connection loop     1 per TCP or TLS client    the connection closes: the client, the
//	                                                      idle deadline, Close (which closes them)
//	relay loop                 1 per allocation           its relay socket closes: expiry, the
//	                                                      client's connection gone, Close
//
// Close closes the listeners and the client connections, then waits
// until pion has closed every relay socket and client connection, the
// last thing its goroutines do (a test checks that none is left).
package turnserver
