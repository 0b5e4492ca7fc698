// Command stocksfu is the baseline of confd's end-to-end benchmark
// (bench/e2e): the smallest forwarding server stock pion makes, to measure
// confd against on the same load in the same run.
//
// Every track a client publishes feeds one webrtc.TrackLocalStaticRTP,
// named after the track's ID (its a=msid), which every PeerConnection that
// receives it binds: the fan-out of pion's broadcast example. The codecs
// and interceptors are pion's defaults (NACK responder and generator,
// RTCP reports, TWCC feedback). Audio is forwarded as it is, every
// member's to every member that asks for it: there is no mixer, no
// bandwidth estimate and no layer selection.
//
// The one endpoint is
//
//	POST /join/<room>?recv=<track>,<track>,…
//
// with an SDP offer (application/sdp). The answer binds the named tracks,
// in order, to the offer's sections that receive (by kind: a name starting
// with "video" is VP8, any other Opus), and it is complete: ICE gathering
// has finished, so nobody trickles. A track is made when first named,
// either by a publisher or by a receiver that joins before it.
//
// It listens on 127.0.0.1 only, gathers on loopback only, and prints
// "listening on 127.0.0.1:PORT" once it accepts requests. SIGTERM or
// SIGINT ends it.
//
// Goroutines: the HTTP server's; per published track one forwarding loop
// and per bound sender one RTCP drain, both ending when their
// PeerConnection closes (pion's reads fail then). A PeerConnection closes
// when its ICE fails or the process ends; nothing outlives the process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "HTTP address (loopback)")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "stocksfu:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	api, err := newAPI()
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if ip := l.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		_ = l.Close()
		return fmt.Errorf("%s is not a loopback address", l.Addr())
	}
	s := &server{api: api, rooms: map[string]*room{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /join/{room}", s.join)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Printf("listening on %s\n", l.Addr())
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newAPI is pion as its examples set it up, restricted to loopback: the
// default codecs and interceptors.
func newAPI() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, reg); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

type server struct {
	api   *webrtc.API
	mu    sync.Mutex
	rooms map[string]*room
}

// room holds its tracks by name.
type room struct {
	mu     sync.Mutex
	tracks map[string]*webrtc.TrackLocalStaticRTP
}

func (s *server) room(name string) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[name]
	if r == nil {
		r = &room{tracks: map[string]*webrtc.TrackLocalStaticRTP{}}
		s.rooms[name] = r
	}
	return r
}

// track is the room's track called name, made on first use.
func (r *room) track(name string) (*webrtc.TrackLocalStaticRTP, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.tracks[name]; t != nil {
		return t, nil
	}
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	if strings.HasPrefix(name, "video") {
		codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	}
	t, err := webrtc.NewTrackLocalStaticRTP(codec, name, "stocksfu")
	if err != nil {
		return nil, err
	}
	r.tracks[name] = t
	return t, nil
}

func (s *server) join(w http.ResponseWriter, req *http.Request) {
	offer, err := io.ReadAll(io.LimitReader(req.Body, 4<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var recv []string
	if q := req.URL.Query().Get("recv"); q != "" {
		recv = strings.Split(q, ",")
	}
	ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
	defer cancel()
	answer, err := s.answer(ctx, s.room(req.PathValue("room")), string(offer), recv)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/sdp")
	_, _ = io.WriteString(w, answer)
}

// answer makes the PeerConnection for offer: its published tracks feed
// the room's, and the room's tracks named in recv go out on it.
func (s *server) answer(ctx context.Context, r *room, offer string, recv []string) (string, error) {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", err
	}
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { forward(r, remote) })
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateFailed {
			_ = pc.Close()
		}
	})
	sdp, err := negotiate(ctx, pc, r, offer, recv)
	if err != nil {
		_ = pc.Close()
		return "", err
	}
	return sdp, nil
}

func negotiate(ctx context.Context, pc *webrtc.PeerConnection, r *room, offer string, recv []string) (string, error) {
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", err
	}
	for _, name := range recv {
		t, err := r.track(name)
		if err != nil {
			return "", err
		}
		sender, err := pc.AddTrack(t)
		if err != nil {
			return "", fmt.Errorf("track %s: %w", name, err)
		}
		go drainRTCP(sender)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return pc.LocalDescription().SDP, nil
}

// forward copies what a client publishes into the room's track of the
// same name, until its PeerConnection closes.
func forward(r *room, remote *webrtc.TrackRemote) {
	local, err := r.track(remote.ID())
	if err != nil {
		return
	}
	buf := make([]byte, 1500)
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			return
		}
		if _, err := local.Write(buf[:n]); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			return
		}
	}
}

// drainRTCP reads a sender's RTCP, as pion requires for its interceptors
// to see it, until its PeerConnection closes.
func drainRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}
