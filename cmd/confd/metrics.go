package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/confd/confd/bwe"
	"github.com/confd/confd/dialin"
	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling"
)

// MetricsConfig is the /metrics endpoint (Prometheus text format).
type MetricsConfig struct {
	// Disabled turns the endpoint off.
	Disabled bool `yaml:"disabled"`
	// Allow lists the client networks that may read it (CIDR or single
	// address); default loopback only. Behind a reverse proxy the client
	// is the proxy.
	Allow []string `yaml:"allow"`
}

// allowed parses Allow, with its default.
func (c MetricsConfig) allowed() ([]netip.Prefix, error) {
	nets := c.Allow
	if nets == nil {
		nets = []string{"127.0.0.0/8", "::1/128"}
	}
	out := make([]netip.Prefix, 0, len(nets))
	for _, n := range nets {
		if !strings.Contains(n, "/") {
			a, err := netip.ParseAddr(n)
			if err != nil {
				return nil, fmt.Errorf("metrics.allow: %q is not an address or a network", n)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return nil, fmt.Errorf("metrics.allow: %q is not an address or a network", n)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// metricsHandler serves confd's state in the Prometheus text exposition
// format (version 0.0.4) to the allowed networks; others get 403.
func (a *app) metricsHandler(allow []netip.Prefix) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !clientAllowed(r.RemoteAddr, allow) {
			http.Error(w, "metrics are not served to this address", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		bw := bufio.NewWriter(w)
		a.writeMetrics(bw)
		if err := bw.Flush(); err != nil {
			a.log.Debug("metrics write", zap.Error(err))
		}
	}
}

func clientAllowed(remote string, allow []netip.Prefix) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// writeMetrics writes every metric family once, its samples together.
func (a *app) writeMetrics(w *bufio.Writer) {
	e := &expo{w: w}
	e.family("confd_build_info", "gauge", "Always 1; the labels name the Go version.")
	e.sample("confd_build_info", 1, "go", runtime.Version())

	a.writeRoomMetrics(e)
	vm := a.verto.Metrics()
	e.family("confd_verto_sessions", "gauge", "Logged-in Verto websocket sessions.")
	e.sample("confd_verto_sessions", float64(vm.Sessions))
	writeCallMetrics(e, vm.Calls)
	var sm dialin.Metrics
	if a.sip != nil {
		sm = a.sip.Metrics()
	}
	e.single("confd_sip_calls", "gauge", "SIP calls up or being set up.", float64(sm.Calls))
	e.single("confd_sip_calls_total", "counter", "SIP calls taken since start.", float64(sm.CallsTotal))
	e.single("confd_sip_rtp_dropped_total", "counter", "RTP packets from phones dropped as malformed or from an unlatched address.", float64(sm.BadRTP))
	a.writeEventMetrics(e)
	pubs, viewers := a.whip.Sessions()
	e.family("confd_whip_sessions", "gauge", "WHIP publishers and WHEP viewers, by kind.")
	e.sample("confd_whip_sessions", float64(pubs), "kind", "whip")
	e.sample("confd_whip_sessions", float64(viewers), "kind", "whep")
	if a.mnet != nil {
		bs := a.mnet.BurstStats()
		e.single("confd_media_bursts_total", "counter", "Bursts of media (a mixer tick, a video packet's fan-out) sent with one sendmmsg.", float64(bs.Bursts))
		e.single("confd_media_burst_datagrams_total", "counter", "Datagrams sent in those bursts.", float64(bs.Datagrams))
		e.single("confd_media_burst_errors_total", "counter", "Datagrams of bursts the kernel refused.", float64(bs.Errors))
	}
	a.writeRecordingMetrics(e)
	a.writeOnePortMetrics(e)
	a.writeClusterMetrics(e)
}

func (a *app) writeRoomMetrics(e *expo) {
	rooms := a.rooms.All()
	ms := make([]room.Metrics, len(rooms))
	for i, r := range rooms {
		ms[i] = r.Metrics()
	}
	e.family("confd_room_members", "gauge", "Members in a room, by kind, the lobby included.")
	for i := range ms {
		for k, n := range ms[i].Members {
			e.sample("confd_room_members", float64(n), "room", ms[i].Number, "kind", room.Kind(k).String())
		}
	}
	for _, f := range roomFamilies {
		e.family(f.name, f.kind, f.help)
		for i := range ms {
			e.sample(f.name, f.value(&ms[i]), "room", ms[i].Number)
		}
	}
}

// roomFamilies are the per-room metrics after the member counts.
var roomFamilies = []metricFamily[room.Metrics]{
	{"confd_room_waiting", "gauge", "Members waiting in the room's lobby.", false,
		func(m *room.Metrics) float64 { return float64(m.Waiting) }},
	{"confd_room_viewers", "gauge", "WHEP viewers watching the room (not members).", false,
		func(m *room.Metrics) float64 { return float64(m.Viewers) }},
	{"confd_room_publishers", "gauge", "Members sending video.", false,
		func(m *room.Metrics) float64 { return float64(m.Publishing) }},
	{"confd_room_talking", "gauge", "Members the mixer hears talking now.", false,
		func(m *room.Metrics) float64 { return float64(m.Talking) }},
	{"confd_room_locked", "gauge", "1 when a moderator locked the room.", false,
		func(m *room.Metrics) float64 { return b2f(m.Locked) }},
	{"confd_mixer_ticks_total", "counter", "20 ms mixing ticks run.", false,
		func(m *room.Metrics) float64 { return float64(m.Mixer.Ticks) }},
	{"confd_mixer_ticks_skipped_total", "counter", "Ticks skipped after a stall longer than the catch-up limit.", false,
		func(m *room.Metrics) float64 { return float64(m.Mixer.Skipped) }},
	{"confd_mixer_ticks_parked_total", "counter", "Ticks (of the total) that passed while the room was silent and its mixer slept.", false,
		func(m *room.Metrics) float64 { return float64(m.Mixer.Parked) }},
	{"confd_mixer_dtx_skips_total", "counter", "Silent frames not sent to listeners (Opus DTX).", false,
		func(m *room.Metrics) float64 { return float64(m.Mixer.DTXSkips) }},
	{"confd_mixer_encodes_total", "counter", "Audio frames encoded.", false,
		func(m *room.Metrics) float64 { return float64(m.Mixer.Encodes) }},
	{"confd_mixer_write_errors_total", "counter", "Mixed frames that failed to reach a listener.", false,
		func(m *room.Metrics) float64 { return float64(m.Mixer.WriteErrors) }},
	{"confd_mixer_latency_p50_seconds", "gauge", "Median time the mixer adds to a voice, since start.", false,
		func(m *room.Metrics) float64 { return m.LatencyP50.Seconds() }},
	{"confd_mixer_latency_p99_seconds", "gauge", "99th percentile of the time the mixer adds to a voice, since start.", false,
		func(m *room.Metrics) float64 { return m.LatencyP99.Seconds() }},
}

// writeCallMetrics writes each call's downlink, slots and camera layers.
func writeCallMetrics(e *expo, calls []signalling.CallMetrics) {
	e.family("confd_call_detached", "gauge", "1 while a call waits for its client to reconnect.")
	for i := range calls {
		c := &calls[i]
		e.sample("confd_call_detached", b2f(c.Detached), callLabels(c)...)
	}
	e.family("confd_downlink_estimate_bps", "gauge", "A call's downlink estimate its video slots share, in bits per second.")
	for i := range calls {
		c := &calls[i]
		e.sample("confd_downlink_estimate_bps", float64(c.Estimate), callLabels(c)...)
	}
	for _, f := range []struct {
		name, help string
		value      func(bwe.Stats) uint64
	}{
		{"confd_downlink_feedback_total", "Transport-wide feedback messages a call's estimate took in.", func(s bwe.Stats) uint64 { return s.Feedbacks }},
		{"confd_downlink_feedback_refused_total", "Transport-wide feedback messages refused as malformed.", func(s bwe.Stats) uint64 { return s.Refused }},
		{"confd_downlink_feedback_unknown_total", "Packets feedback reported on that confd had not sent (or no longer remembered).", func(s bwe.Stats) uint64 { return s.Unknown }},
	} {
		e.family(f.name, "counter", f.help)
		for i := range calls {
			c := &calls[i]
			e.sample(f.name, float64(f.value(c.Feedback)), callLabels(c)...)
		}
	}
	for _, f := range slotFamilies {
		e.family(f.name, f.kind, f.help)
		for i := range calls {
			c := &calls[i]
			for j := range c.Slots {
				s := &c.Slots[j]
				labels := append(callLabels(c), "slot", strconv.Itoa(s.Slot))
				if f.rid {
					labels = append(labels, "rid", s.RID)
				}
				e.sample(f.name, f.value(s), labels...)
			}
		}
	}
	for _, f := range layerFamilies {
		e.family(f.name, f.kind, f.help)
		for i := range calls {
			c := &calls[i]
			for j := range c.Camera {
				l := &c.Camera[j]
				e.sample(f.name, f.value(l), append(callLabels(c), "layer", strconv.Itoa(l.Index), "rid", l.RID)...)
			}
		}
	}
}

type metricFamily[T any] struct {
	name, kind, help string
	rid              bool // add the forwarded layer's rid as a label
	value            func(*T) float64
}

// slotFamilies are the per-slot metrics: what each subscriber's slot
// forwards now and where it is heading (-1: nothing).
var slotFamilies = []metricFamily[signalling.SlotMetrics]{
	{"confd_slot_layer", "gauge", "The simulcast layer a slot forwards (0 smallest; -1 none).", true,
		func(s *signalling.SlotMetrics) float64 { return float64(s.Current.Spatial) }},
	{"confd_slot_temporal_layer", "gauge", "The highest VP8 temporal layer a slot forwards (-1 none).", false,
		func(s *signalling.SlotMetrics) float64 { return float64(temporal(s.Current)) }},
	{"confd_slot_target_layer", "gauge", "The simulcast layer a slot is switching to (-1 none).", false,
		func(s *signalling.SlotMetrics) float64 { return float64(s.Target.Spatial) }},
	{"confd_slot_target_temporal_layer", "gauge", "The temporal layer a slot is heading to (-1 none).", false,
		func(s *signalling.SlotMetrics) float64 { return float64(temporal(s.Target)) }},
	{"confd_slot_render_width", "gauge", "The width the client draws a slot at, in pixels (0: not told).", false,
		func(s *signalling.SlotMetrics) float64 { return float64(s.Width) }},
	{"confd_slot_render_height", "gauge", "The height the client draws a slot at, in pixels (0: not told).", false,
		func(s *signalling.SlotMetrics) float64 { return float64(s.Height) }},
	{"confd_slot_packets_total", "counter", "RTP packets a slot forwarded.", false,
		func(s *signalling.SlotMetrics) float64 { return float64(s.Packets) }},
	{"confd_slot_bytes_total", "counter", "RTP bytes a slot forwarded.", false,
		func(s *signalling.SlotMetrics) float64 { return float64(s.Bytes) }},
	{"confd_slot_layer_switches_total", "counter", "Source or layer switches of a slot.", false,
		func(s *signalling.SlotMetrics) float64 { return float64(s.Switches) }},
	{"confd_slot_nacks_total", "counter", "NACKs the subscriber sent for a slot.", false,
		func(s *signalling.SlotMetrics) float64 { return float64(s.NACKs) }},
	{"confd_slot_retransmits_total", "counter", "Packets a slot resent for NACKs.", false,
		func(s *signalling.SlotMetrics) float64 { return float64(s.Retransmits) }},
	{"confd_slot_keyframe_requests_total", "counter", "Key frame requests (PLI/FIR) the subscriber sent for a slot.", false,
		func(s *signalling.SlotMetrics) float64 { return float64(s.KeyframeRequests) }},
	{"confd_slot_frames_dropped_total", "counter", "Frames of the forwarded layer left out for their temporal layer.", false,
		func(s *signalling.SlotMetrics) float64 { return float64(s.FramesDropped) }},
	{"confd_slot_padding_bytes_total", "counter", "Padding bytes a slot sent to probe bandwidth.", false,
		func(s *signalling.SlotMetrics) float64 { return float64(s.PaddingBytes) }},
}

// layerFamilies are the per-layer metrics of each published camera.
var layerFamilies = []metricFamily[forwarder.LayerInfo]{
	{"confd_camera_layer_bitrate_bps", "gauge", "A camera layer's bitrate over the last second, all temporal layers.", false,
		func(l *forwarder.LayerInfo) float64 { return float64(l.Bitrate[top(l)]) }},
	{"confd_camera_layer_fps", "gauge", "A camera layer's frame rate over the last second, all temporal layers.", false,
		func(l *forwarder.LayerInfo) float64 { return l.FPS[top(l)] }},
	{"confd_camera_layer_width", "gauge", "A camera layer's width at its last key frame.", false,
		func(l *forwarder.LayerInfo) float64 { return float64(l.Width) }},
	{"confd_camera_layer_height", "gauge", "A camera layer's height at its last key frame.", false,
		func(l *forwarder.LayerInfo) float64 { return float64(l.Height) }},
	{"confd_camera_layer_active", "gauge", "1 while a camera layer is arriving.", false,
		func(l *forwarder.LayerInfo) float64 { return b2f(l.Active) }},
	{"confd_camera_layer_paused", "gauge", "1 while confd has asked the publisher to pause a layer nobody watches.", false,
		func(l *forwarder.LayerInfo) float64 { return b2f(l.Paused) }},
	{"confd_camera_layer_packets_total", "counter", "RTP packets received on a camera layer.", false,
		func(l *forwarder.LayerInfo) float64 { return float64(l.Packets) }},
	{"confd_camera_layer_keyframes_total", "counter", "Key frames received on a camera layer.", false,
		func(l *forwarder.LayerInfo) float64 { return float64(l.Keyframes) }},
	{"confd_camera_layer_dropped_total", "counter", "Packets of a camera layer dropped as unparseable.", false,
		func(l *forwarder.LayerInfo) float64 { return float64(l.Dropped) }},
}

func callLabels(c *signalling.CallMetrics) []string {
	return []string{"room", c.Room, "member", strconv.Itoa(c.MemberID), "call", c.CallID}
}

// temporal is -1 for a paused layer, whatever its Temporal says.
func temporal(l forwarder.Layer) int {
	if l.Spatial < 0 {
		return -1
	}
	return l.Temporal
}

// top is the highest temporal layer seen on l.
func top(l *forwarder.LayerInfo) int {
	return min(max(l.TIDs, 1), forwarder.MaxTemporalLayers) - 1
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// expo writes the Prometheus text format: a family's HELP and TYPE lines,
// then its samples.
type expo struct {
	w *bufio.Writer
}

func (e *expo) family(name, kind, help string) {
	fmt.Fprintf(e.w, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, kind)
}

// single writes a family of one unlabelled sample.
func (e *expo) single(name, kind, help string, v float64) {
	e.family(name, kind, help)
	e.sample(name, v)
}

// sample writes one line; labels are name, value pairs.
func (e *expo) sample(name string, v float64, labels ...string) {
	e.w.WriteString(name)
	if len(labels) > 0 {
		e.w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				e.w.WriteByte(',')
			}
			e.w.WriteString(labels[i])
			e.w.WriteString(`="`)
			e.w.WriteString(escapeLabel(labels[i+1]))
			e.w.WriteByte('"')
		}
		e.w.WriteByte('}')
	}
	e.w.WriteByte(' ')
	e.w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	e.w.WriteByte('\n')
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
