package forwarder

import "time"

// senderReportMaxAge is how long after its arrival a sender report still
// places a layer's timestamps on the publisher's wall clock. Browsers send
// one per layer about every second; a report older than this belongs to a
// layer that stalled or to a clock confd no longer trusts.
const senderReportMaxAge = 10 * time.Second

// senderReportMaxSilence is how long a layer may have sent no packet and
// its sender report still be kept. A report of a silent layer (paused,
// stalled, or not started) carries an RTP timestamp extrapolated across
// the silence, which need not match the timestamps the layer resumes
// with.
const senderReportMaxSilence = time.Second

// senderReportMaxLead bounds how far beyond the elapsed-time rule a
// timestamp placed by sender reports may land at a switch. The two agree
// to within the publisher's send jitter and confd's queueing; a larger
// lead means a report does not describe the stream it names.
const senderReportMaxLead = 2 * time.Second

// senderReportMaxLeadTicks is senderReportMaxLead at 90 kHz.
const senderReportMaxLeadTicks = int64(senderReportMaxLead) * videoClockRate / int64(time.Second)

// senderReportMaxSpan bounds the distance between the NTP times of the
// two reports a switch compares, in NTP units (2^-32 s). Both are fresh,
// so they lie seconds apart; anything wider is a broken report, and
// keeping the span small keeps the tick conversion from overflowing.
const senderReportMaxSpan = int64(time.Minute/time.Second) << 32

// SenderReport is what one RTCP sender report (RFC 3550 §6.4.1) tells
// about a layer's clock: the RTP timestamp of the layer that corresponds
// to an instant of the publisher's wall clock, and when confd received it.
// The zero value is no report.
type SenderReport struct {
	// NTP is the report's 64-bit NTP timestamp (RFC 3550 §4): seconds in
	// the high 32 bits, the fraction in the low 32. Only differences
	// between two reports of one publisher are used, taken modulo 2^64,
	// so the rollover of the NTP era changes nothing. 0 means no wall
	// clock (RFC 3550 §6.4.1 lets such a sender send 0).
	NTP uint64
	// RTP is the layer's RTP timestamp at that instant.
	RTP uint32
	// Arrival is when confd received the report, on the Receiver's clock
	// (nanoseconds, as Packet.Arrival).
	Arrival int64
}

// usable reports whether s may place timestamps at now: it is a report
// with a wall clock, received less than senderReportMaxAge before now.
// A report stamped a little after now (its reader goroutine read the
// clock after the packet's) is as good as one stamped at now.
func (s SenderReport) usable(now int64) bool {
	return s.NTP != 0 && now-s.Arrival < int64(senderReportMaxAge)
}

// ntpTicks converts the NTP interval from a to b into 90 kHz ticks,
// rounded to the nearest tick; false when the two are more than
// senderReportMaxSpan apart.
func ntpTicks(a, b uint64) (int64, bool) {
	d := int64(b - a)
	if d > senderReportMaxSpan || d < -senderReportMaxSpan {
		return 0, false
	}
	const half = int64(1) << 31
	n := d * videoClockRate
	if n < 0 {
		return -((-n + half) >> 32), true
	}
	return (n + half) >> 32, true
}

// layerTSOffset is what to add to a timestamp of the layer described by
// to so that it reads on the timeline of the layer described by from: the
// same capture instant gets the same timestamp on both. A timestamp t of
// to's layer was taken at wall time to.NTP + (t - to.RTP)/90000 s; from's
// layer reads that instant as from.RTP + (wall - from.NTP) * 90000, so
// the offset is from.RTP - to.RTP + (to.NTP - from.NTP) * 90000.
func layerTSOffset(from, to SenderReport) (uint32, bool) {
	ticks, ok := ntpTicks(from.NTP, to.NTP)
	if !ok {
		return 0, false
	}
	return from.RTP - to.RTP + uint32(ticks), true
}
