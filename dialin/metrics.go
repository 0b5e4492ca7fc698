package dialin

// Metrics are the SIP endpoint's figures for the server's metrics.
type Metrics struct {
	Calls      int    // up or being set up
	CallsTotal uint64 // calls taken since start
	// BadRTP counts the RTP packets dropped as malformed or from an
	// address the call did not latch to.
	BadRTP uint64
}

// Metrics reports the calls and the dropped RTP.
func (s *Server) Metrics() Metrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := Metrics{Calls: len(s.calls), CallsTotal: s.callsTotal, BadRTP: s.badEnded}
	for _, c := range s.calls {
		if c.port != nil {
			m.BadRTP += c.port.bad.Load()
		}
	}
	return m
}
