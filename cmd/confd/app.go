package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/confd/confd/control"
	"github.com/confd/confd/dialin"
	"github.com/confd/confd/events"
	"github.com/confd/confd/frontend"
	"github.com/confd/confd/medianet"
	"github.com/confd/confd/netmux"
	"github.com/confd/confd/peer"
	"github.com/confd/confd/recorder"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling"
	"github.com/confd/confd/turnserver"
	"github.com/confd/confd/whip"
)

// app is one running confd: rooms, the Verto endpoint and the web servers.
type app struct {
	cfg   Config
	log   *zap.Logger
	rooms *room.Rooms
	media *peer.Media
	verto *signalling.Server
	sip   *dialin.Server // nil when no SIP listener is configured

	events   *events.Bus        // webhooks and event streams (api.go)
	api      *control.API       // nil while no API key is configured
	recorder *recorder.Recorder // nil without recording.dir (recording.go)
	whip     *whip.Server       // broadcasters and audiences (whip.go)
	cluster  *clusterNode       // nil without cluster.redis (cluster.go)

	// One port (oneport.go): the media network, the HTTPS port's sorter
	// and the built-in TURN server (nil when off).
	mnet      *medianet.Net
	mux       *netmux.Mux
	turn      *turnserver.Server
	freshCert bool

	servers []*http.Server
	addrs   map[string]net.Addr // "https", "http" → bound address
	wg      sync.WaitGroup
}

func newApp(cfg Config, log *zap.Logger) (*app, error) {
	mnet, err := newMediaNet(cfg)
	if err != nil {
		return nil, err
	}
	// Every room's mixer sends a tick's packets in one burst.
	rooms, err := room.New(cfg.roomConfigs(), log.Named("room"), room.WithBurst(mnet))
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, rooms: rooms, mnet: mnet, addrs: map[string]net.Addr{}}
	if err := a.newOnePort(); err != nil {
		return nil, err
	}
	if a.media, err = peer.NewMedia(a.mediaConfig()); err != nil {
		a.closeOnePort()
		return nil, err
	}
	if err := a.newTURN(); err != nil {
		a.closeOnePort()
		a.media.Close()
		return nil, err
	}
	vc := cfg.vertoConfig()
	vc.ICEServers = func(host string) any { return a.iceServers(host) }
	a.verto = signalling.NewServer(vc, rooms, a.media, log.Named("verto"))
	if err := a.newRecorder(); err != nil {
		a.closeOnePort()
		a.media.Close()
		return nil, err
	}
	if err := a.newOperators(); err != nil {
		return nil, err
	}
	a.newBroadcast()
	if cfg.sipEnabled() || cfg.sipWebSocket() {
		dc, err := cfg.sipConfig()
		if err != nil {
			return nil, err
		}
		if cfg.sipWebSocket() {
			v := cfg.vertoConfig()
			dc.WebSocket = dialin.WebSocket{CheckOrigin: a.verto.CheckOrigin, MessageRate: v.MessageRate, MessageBurst: v.MessageBurst,
				Media: a.media}
		}
		if a.sip, err = dialin.New(dc, rooms, log.Named("sip")); err != nil {
			return nil, err
		}
	}
	a.newCluster()
	return a, nil
}

// handler routes websocket upgrades on any path to Verto (as FreeSWITCH
// does), or to SIP over WebSocket when they ask for the subprotocol sip,
// and everything else to the web UI.
func (a *app) handler() http.Handler {
	r := chi.NewRouter()
	trusted, _ := a.cfg.Web.trustedProxies() // checked when the config was loaded
	r.Use(netmux.WithTLS, func(next http.Handler) http.Handler { return forwarded(trusted, next) })
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if isUpgrade(req) && a.sip != nil && dialin.IsSIPWebSocket(req) {
				a.sip.ServeWebSocket(w, req)
				return
			}
			if isUpgrade(req) {
				a.verto.ServeHTTP(w, req)
				return
			}
			next.ServeHTTP(w, req)
		})
	})
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	r.Get("/config.json", a.clientConfig)
	if !a.cfg.Metrics.Disabled {
		allow, _ := a.cfg.Metrics.allowed() // checked when the config was loaded
		r.Get("/metrics", a.metricsHandler(allow))
	}
	r.Handle("/verto", a.verto)
	r.Mount(control.Prefix, a.apiHandler())
	a.whip.Mount(r)
	r.Mount("/", frontend.New(frontend.Options{EmbedOrigins: a.cfg.Web.EmbedOrigins}))
	return a.clusterHandler(r)
}

func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && headerHas(r.Header.Values("Connection"), "upgrade")
}

// clientConfig tells the web client how to reach confd.
func (a *app) clientConfig(w http.ResponseWriter, r *http.Request) {
	rooms := make([]map[string]any, 0, len(a.cfg.Rooms))
	for _, r := range a.cfg.Rooms {
		// pin: the pre-join form asks for one (the PIN itself stays here).
		rooms = append(rooms, map[string]any{"number": r.Number, "name": r.Name, "pin": r.PIN != ""})
	}
	ice := a.iceServers(r.Host)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"domain": a.cfg.Verto.Domain, "iceServers": ice, "rooms": rooms})
}

// start binds the listeners and serves in the background.
func (a *app) start() (bool, error) {
	a.events.Start()
	h := a.handler()
	if a.mux != nil {
		a.serveOn("https", a.mux.HTTP(), h) // TLS terminated by the mux
	}
	if a.cfg.Listen.HTTP != "" {
		l, err := net.Listen("tcp", a.cfg.Listen.HTTP)
		if err != nil {
			return false, err
		}
		a.serveOn("http", l, a.debugHandler(h))
	}
	if a.sip != nil {
		if err := a.sip.Start(); err != nil {
			return false, err
		}
	}
	if err := a.joinCluster(); err != nil {
		return false, err
	}
	return a.freshCert, nil
}

func (a *app) serveOn(name string, l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: zap.NewStdLog(a.log.Named(name)), ConnContext: netmux.ConnContext}
	a.servers = append(a.servers, srv)
	a.addrs[name] = l.Addr()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("server stopped", zap.String("listener", name), zap.Error(err))
		}
	}()
}

// shutdown ends every call (verto.bye, SIP BYE), closes the sessions and
// waits for the phones' BYEs; then the event streams end and the webhooks
// get their last events; the HTTPS port stops taking connections, the
// servers stop, the TURN server ends its allocations, and the media
// sockets close.
func (a *app) shutdown(ctx context.Context) {
	a.drainCluster(ctx)
	a.rooms.Close()
	a.verto.Shutdown(ctx)
	a.whip.Shutdown(ctx)
	if a.sip != nil {
		a.sip.Shutdown(ctx)
	}
	if a.recorder != nil {
		a.recorder.Close(ctx) // before the events: recording_finished goes out
	}
	a.events.Close(ctx) // before the servers: a stream's handler lives until then
	if a.mux != nil {
		_ = a.mux.Close() // no new connections on the shared port
	}
	for _, s := range a.servers {
		_ = s.Shutdown(ctx)
	}
	a.wg.Wait()
	a.closeOnePort()
	a.media.Close()
	a.leaveCluster(ctx)
}

// closeOnePort ends the TURN server and the HTTPS port's sorter.
func (a *app) closeOnePort() {
	if a.turn != nil {
		if err := a.turn.Close(5 * time.Second); err != nil {
			a.log.Warn("turn server", zap.Error(err))
		}
	}
	if a.mux != nil {
		_ = a.mux.Close()
	}
}

func headerHas(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
