package peer

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/confd/confd/bwe"
	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v4"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/forwarder"
)

// MediaConfig is how browsers' media reaches confd: the ports and
// addresses every PeerConnection gathers on.
type MediaConfig struct {
	// UDPPortMin and UDPPortMax bound the ports ICE gathers on (0: any).
	UDPPortMin, UDPPortMax uint16
	// UDPMux, when set ("0.0.0.0:8443" style), carries every call on that one UDP port.
	UDPMux string
	// ICETCP, when set, also offers ICE over TCP on that address.
	ICETCP string
	// PublicIPs are this host's public addresses (1:1 NAT): server-reflexive
	// candidates beside the host ones, or with PublicIPsReplace instead of
	// them.
	PublicIPs        []string
	PublicIPsReplace bool
	// Net, when set, is the network pion gathers on (confd's medianet:
	// loopback binds in tests, the media sockets the TURN relay may reach).
	Net transport.Net
	// ICETCPListener, when set, carries ICE over TCP instead of a listener
	// of its own on ICETCP (the HTTPS port's share, from netmux).
	ICETCPListener net.Listener
	// IncludeLoopback offers loopback candidates (useful for browsers on the same host).
	IncludeLoopback bool
	// LoopbackOnly gathers on loopback only (tests).
	LoopbackOnly bool
	// ICEDisconnected is how long a PeerConnection hears nothing from its
	// client before it counts as disconnected (default 5 s), ICEFailed how
	// long before it fails and the call is hung up (default 25 s), and
	// ICEKeepalive how often confd checks the path with a binding request,
	// its consent check (default 5 s, RFC 7675's interval; pion's is 2 s).
	ICEDisconnected, ICEFailed, ICEKeepalive time.Duration
}

// ICE liveness defaults: pion's own timeouts, and consent checks at RFC
// 7675's 5 s where pion would check every 2 s. A client's own checks and
// RTCP keep the path's last-heard time fresh in between, and pion looks at
// it on the same 5 s round.
const (
	defaultICEDisconnected = 5 * time.Second
	defaultICEFailed       = 25 * time.Second
	defaultICEKeepalive    = 5 * time.Second
)

// Payload types confd offers. Browsers accept whatever the answer names.
const (
	payloadTypeVP8  = 96
	payloadTypeOpus = 111
	// RFC 4733 key presses beside Opus, at its clock rate and at the
	// 8 kHz browsers also offer (SIP clients press keys with them).
	payloadTypeDTMF48 = 110
	payloadTypeDTMF8  = 126
)

// mimeTypeDTMF is RFC 4733's telephone-event.
const mimeTypeDTMF = "audio/telephone-event"

// Media builds the PeerConnections of every peer: one pion API, with the
// codecs, interceptors and network settings they share, and the shared UDP
// and TCP muxes when configured.
type Media struct {
	api    *webrtc.API
	closer []func() error
	// bwe hands the bandwidth estimator the interceptor registry makes for
	// a PeerConnection to the NewPeerConnection call that built it.
	bwe bweHandoff
	// burst, when the Net offers it, is held across each video packet's
	// fan-out (forwarder.ReceiverConfig.Burst).
	burst forwarder.Burster
}

// NewMedia makes the pion API: VP8 and Opus (with RFC 4733 key presses), an explicit interceptor
// registry (NACK generation toward publishers and RTCP reports; NACKs from
// subscribers are served by the forwarder from its packet cache, so no
// per-sender retransmission buffer is registered), and AEAD-GCM SRTP first.
func NewMedia(cfg MediaConfig) (*Media, error) {
	me, err := newMediaEngine()
	if err != nil {
		return nil, err
	}
	m := &Media{}
	if b, ok := cfg.Net.(forwarder.Burster); ok {
		m.burst = b
	}
	clock := newReportClock(reportInterval, m.burst)
	m.closer = append(m.closer, clock.close)
	reg, err := newInterceptors(me, &m.bwe, clock)
	if err != nil {
		m.Close()
		return nil, err
	}
	se, err := m.settings(cfg)
	if err != nil {
		m.Close()
		return nil, err
	}
	m.api = webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	return m, nil
}

func newMediaEngine() (*webrtc.MediaEngine, error) {
	me := &webrtc.MediaEngine{}
	videoFB := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}, {Type: "goog-remb"}}
	codecs := []struct {
		p    webrtc.RTPCodecParameters
		kind webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: payloadTypeOpus}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTypeDTMF, ClockRate: 48000, SDPFmtpLine: "0-15"}, PayloadType: payloadTypeDTMF48}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTypeDTMF, ClockRate: 8000, SDPFmtpLine: "0-15"}, PayloadType: payloadTypeDTMF8}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFB}, PayloadType: payloadTypeVP8}, webrtc.RTPCodecTypeVideo},
	}
	for _, c := range codecs {
		if err := me.RegisterCodec(c.p, c.kind); err != nil {
			return nil, fmt.Errorf("register %s: %w", c.p.MimeType, err)
		}
	}
	// RFC 6464 audio levels let the mixer rank talkers without decoding.
	ext := webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}
	if err := me.RegisterHeaderExtension(ext, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	// Simulcast publishers tag each encoding with its rid (RFC 8851,
	// RFC 8852 RtpStreamId and RepairedRtpStreamId) and the MID.
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		return nil, err
	}
	return me, nil
}

func newInterceptors(me *webrtc.MediaEngine, bwe *bweHandoff, clock *reportClock) (*interceptor.Registry, error) {
	reg := &interceptor.Registry{}
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, err
	}
	reg.Add(lazyNACKFactory{gen})
	reg.Add(reports{clock})
	if err := configureBWE(me, reg, bwe); err != nil {
		return nil, err
	}
	return reg, nil
}

func (m *Media) settings(cfg MediaConfig) (webrtc.SettingEngine, error) {
	se := webrtc.SettingEngine{}
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback || cfg.LoopbackOnly)
	se.SetICETimeouts(orDefault(cfg.ICEDisconnected, defaultICEDisconnected), orDefault(cfg.ICEFailed, defaultICEFailed),
		orDefault(cfg.ICEKeepalive, defaultICEKeepalive))
	if cfg.LoopbackOnly {
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	if cfg.Net != nil {
		se.SetNet(cfg.Net)
	}
	if len(cfg.PublicIPs) > 0 {
		if err := publicIPs(&se, cfg); err != nil {
			return se, err
		}
	}
	if cfg.UDPPortMin != 0 || cfg.UDPPortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return se, fmt.Errorf("udp port range: %w", err)
		}
	}
	if err := m.muxes(&se, cfg); err != nil {
		return se, err
	}
	return se, nil
}

func (m *Media) muxes(se *webrtc.SettingEngine, cfg MediaConfig) error {
	log := logging.NewDefaultLoggerFactory().NewLogger("ice")
	if cfg.UDPMux != "" {
		ap, err := netip.ParseAddrPort(cfg.UDPMux)
		if err != nil {
			return fmt.Errorf("udp mux address %q: %w", cfg.UDPMux, err)
		}
		var conn net.PacketConn
		if cfg.Net != nil {
			conn, err = cfg.Net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
		} else {
			conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
		}
		if err != nil {
			return fmt.Errorf("udp mux: %w", err)
		}
		mux := webrtc.NewICEUDPMux(log, conn)
		se.SetICEUDPMux(mux)
		m.closer = append(m.closer, mux.Close)
	}
	if cfg.ICETCP != "" || cfg.ICETCPListener != nil {
		l := cfg.ICETCPListener
		if l == nil {
			var err error
			if l, err = net.Listen("tcp", cfg.ICETCP); err != nil {
				return fmt.Errorf("ice tcp: %w", err)
			}
		}
		mux := webrtc.NewICETCPMux(log, l, 8)
		se.SetICETCPMux(mux)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6})
		m.closer = append(m.closer, mux.Close)
	}
	return nil
}

// publicIPs announces a 1:1 NAT's public addresses. By default they are
// server-reflexive candidates beside the host ones (RFC 8445 §5.1.1.2),
// so that clients on the server's own network keep its host addresses
// and need no hairpin through the router. pion attaches a
// server-reflexive candidate to a UDP socket of its own, so with a shared
// UDP mux (whose one port is the point) and for ICE over TCP, the public
// address is one more host candidate on that socket instead.
func publicIPs(se *webrtc.SettingEngine, cfg MediaConfig) error {
	if cfg.PublicIPsReplace {
		se.SetNAT1To1IPs(cfg.PublicIPs, webrtc.ICECandidateTypeHost)
		return nil
	}
	var rules []webrtc.ICEAddressRewriteRule
	if cfg.UDPMux == "" {
		rules = append(rules, webrtc.ICEAddressRewriteRule{External: cfg.PublicIPs, AsCandidateType: webrtc.ICECandidateTypeSrflx})
	}
	if cfg.UDPMux != "" || cfg.ICETCP != "" || cfg.ICETCPListener != nil {
		rules = append(rules, webrtc.ICEAddressRewriteRule{
			External: cfg.PublicIPs, AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteAppend,
		})
	}
	if err := se.SetICEAddressRewriteRules(rules...); err != nil {
		return fmt.Errorf("public ips: %w", err)
	}
	return nil
}

// newPeerConnection makes a PeerConnection and returns its send-side
// bandwidth estimator (nil if the registry made none).
func (m *Media) newPeerConnection() (*webrtc.PeerConnection, *bwe.Estimator, error) {
	m.bwe.mu.Lock()
	defer m.bwe.mu.Unlock()
	m.bwe.last = nil
	pc, err := m.api.NewPeerConnection(webrtc.Configuration{SDPSemantics: webrtc.SDPSemanticsUnifiedPlan})
	est := m.bwe.last
	m.bwe.last = nil
	return pc, est, err
}

// Close releases the shared UDP and TCP muxes and stops the report clock.
func (m *Media) Close() {
	for _, c := range m.closer {
		_ = c()
	}
	m.closer = nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
