package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// readmeNginxSite is the nginx site the README shows.
func readmeNginxSite(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- nginx site: tested by TestNginxSite")
	_, block, ok2 := strings.Cut(rest, "```nginx\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("no nginx site in the README")
	}
	return block
}

// startNginx runs Debian's nginx with the README's site on
// 127.0.0.1:port, its certificate and key those given, proxying to
// upstream, until the test ends.
func startNginx(t *testing.T, site string, port int, cert, key, upstream string) {
	t.Helper()
	bin := lookNginx(t)
	dir := t.TempDir()
	for from, to := range map[string]string{
		"listen 443 ssl;": fmt.Sprintf("listen 127.0.0.1:%d ssl;", port),
		"/etc/letsencrypt/live/confd.example.org/fullchain.pem": cert,
		"/etc/letsencrypt/live/confd.example.org/privkey.pem":   key,
		"http://127.0.0.1:8080":                                 "http://" + upstream,
	} {
		if !strings.Contains(site, from) {
			t.Fatalf("the README's site has no %q", from)
		}
		site = strings.ReplaceAll(site, from, to)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the workers read what the test's root-owned temporary files hold
	}
	conf := filepath.Join(dir, "nginx.conf")
	writeFile(t, conf, fmt.Sprintf(`%s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
%[3]s
}
`, user, dir, site))
	errorLog := func() string { log, _ := os.ReadFile(filepath.Join(dir, "error.log")); return string(log) }
	runDaemon(t, "nginx", errorLog, func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, bin, "-p", dir, "-c", conf)
}

func lookNginx(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	return lookTool(t, "nginx", "nginx")
}

// TestNginxSite: the README's nginx site, run by Debian's nginx on
// loopback in front of confd's plain HTTP listener, serves the meeting page
// and carries the Verto websocket (WSS) to a login; it does not forward
// Host, so confd admits the page's origin through web.public_origin, and
// without it refuses the websocket. /config.json names the public host in
// the TURN URLs.
func TestNginxSite(t *testing.T) {
	site := readmeNginxSite(t)
	port := freeLoopbackPort(t)
	origin := "https://confd.example.org:" + strconv.Itoa(port)
	certDir := t.TempDir()
	probe := Config{DataDir: certDir}
	if _, _, err := certificate(&probe); err != nil { // a self-signed pair for nginx
		t.Fatal(err)
	}
	withOrigin := startTestApp(t, func(c *Config) {
		c.Web.PublicOrigin = origin
		listen := "127.0.0.1:0"
		c.TURN = &TURNConfig{Listen: &listen}
	})
	without := startTestApp(t, nil)
	nginxWith, nginxWithout := port, freeLoopbackPort(t)
	startNginx(t, site, nginxWith, filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem"), withOrigin.addrs["http"].String())
	startNginx(t, site, nginxWithout, filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem"), without.addrs["http"].String())

	// Every request goes to nginx on loopback, under the public name.
	dialNginx := func(port int) func(ctx context.Context, network, _ string) (net.Conn, error) {
		return func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(port))
		}
	}
	tlsCfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test's self-signed certificate
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dialNginx(nginxWith), TLSClientConfig: tlsCfg}}
	defer client.CloseIdleConnections()
	res, err := client.Get(origin + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "<html") {
		t.Fatalf("GET %s/ through nginx = %d %.100q", origin, res.StatusCode, body)
	}
	servers := clientICE(t, client, origin)
	if len(servers) != 1 || !strings.HasPrefix(servers[0].URLs[0], "turn:confd.example.org:") {
		t.Errorf("/config.json through nginx: %+v, want TURN URLs naming confd.example.org", servers)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	wss := "wss://confd.example.org:" + strconv.Itoa(port) + "/verto"
	d := websocket.Dialer{NetDialContext: dialNginx(nginxWith), TLSClientConfig: tlsCfg, HandshakeTimeout: 30 * time.Second}
	ws, resp, err := d.DialContext(ctx, wss, http.Header{"Origin": {origin}})
	if err != nil {
		t.Fatalf("WSS through nginx with the page's origin: %v (%v)", err, statusOf(resp))
	}
	defer ws.Close()
	login := func(id int, params map[string]any) map[string]any {
		_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		if err := ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": id, "method": "login", "params": params}); err != nil {
			t.Fatal(err)
		}
		var reply map[string]any
		if err := ws.ReadJSON(&reply); err != nil {
			t.Fatal(err)
		}
		return reply
	}
	login(1, map[string]any{})
	if r := login(2, map[string]any{"login": "proxied@localhost", "passwd": "guest"}); r["result"] == nil {
		t.Fatalf("login through nginx: %v", r)
	} else if b, _ := json.Marshal(r["result"]); !strings.Contains(string(b), `"logged in"`) {
		t.Errorf("login result %s", b)
	}

	// The same site in front of a confd that was not told the origin.
	d.NetDialContext = dialNginx(nginxWithout)
	wss = "wss://confd.example.org:" + strconv.Itoa(nginxWithout) + "/verto"
	if ws, resp, err := d.DialContext(ctx, wss, http.Header{"Origin": {"https://confd.example.org:" + strconv.Itoa(nginxWithout)}}); err == nil {
		ws.Close()
		t.Error("without web.public_origin the proxied websocket was admitted")
	} else if statusOf(resp) != http.StatusForbidden {
		t.Errorf("without web.public_origin: %v (%d), want 403", err, statusOf(resp))
	}
}

func statusOf(r *http.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}
