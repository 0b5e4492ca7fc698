// Command confd is a conference server: browsers over WebRTC with Verto
// signalling, in rooms whose video is forwarded to every member's slots.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func main() {
	path := flag.String("config", os.Getenv("CONFD_CONFIG"), "configuration file (YAML; default: $CONFD_CONFIG, else built-in defaults)")
	flag.Parse()
	if err := run(*path); err != nil {
		fmt.Fprintln(os.Stderr, "confd:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	a, err := newApp(cfg, log)
	if err != nil {
		return err
	}
	fresh, err := a.start()
	if err != nil {
		a.shutdown(context.Background())
		return err
	}
	a.announce(fresh)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Shutdown)
	defer cancel()
	a.shutdown(sctx)
	log.Info("stopped")
	return nil
}

// announce prints where to point a browser.
func (a *app) announce(freshCert bool) {
	fmt.Println("confd is running.")
	for _, name := range []string{"http", "https"} {
		if addr, ok := a.addrs[name]; ok {
			fmt.Printf("  open %s://%s/  (Verto websocket: %s://%s/verto)\n", name, hostPort(addr), map[string]string{"http": "ws", "https": "wss"}[name], hostPort(addr))
		}
	}
	for _, l := range []struct{ name, addr string }{{"udp", a.cfg.Listen.SIPUDP}, {"tcp", a.cfg.Listen.SIPTCP}} {
		if a.sip != nil && l.addr != "" {
			fmt.Printf("  SIP (%s): %s — dial a room number, e.g. sip:3500@<this host>\n", l.name, l.addr)
		}
	}
	if a.sip != nil && a.cfg.sipWebSocket() {
		fmt.Println("  SIP over WebSocket (JsSIP, SIP.js): the same ws:// and wss:// addresses, subprotocol sip")
	}
	fmt.Printf("  rooms: %s\n", strings.Join(roomNumbers(a.cfg), ", "))
	if freshCert {
		fmt.Printf("  made a self-signed certificate in %s (your browser will ask you to accept it)\n", a.cfg.DataDir)
	}
}

func hostPort(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() || ip.IsLoopback() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func roomNumbers(c Config) []string {
	var out []string
	for _, r := range c.Rooms {
		out = append(out, r.Number)
	}
	return out
}

func newLogger(c LogConfig) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	zc := zap.NewProductionConfig()
	if c.Format != "json" {
		zc = zap.NewDevelopmentConfig()
		zc.DisableStacktrace = true
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	return zc.Build()
}
