// Package cluster is how confd nodes that share a Redis (or Valkey) share
// the rooms: each node registers itself (its ID, the URL the others reach
// it at, its load) under a key with a TTL it keeps refreshing; a room lives
// on one node, placed by its first join on the least loaded live node with
// an atomic claim (SET NX), and kept there by that node's refreshes while
// it has members. A node that dies stops refreshing: its entry and its
// rooms' expire within the TTL, and the next join places each room again.
// There is no consensus of confd's own: Redis's single-key atomicity is
// all the agreement there is.
//
// A node that loses Redis keeps the rooms it holds; joins for any other
// room fail with ErrUnavailable until it is back, when the node registers
// again by itself.
//
// Goroutines:
//
//	goroutine      count       owner    stops on
//	Cluster.run    1 per node  Cluster  Close
package cluster
