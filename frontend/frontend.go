// Package frontend serves confd's browser client: plain ES modules with no
// build step, embedded in the binary. verto.js is the Verto client and
// conference.js the conference channels; app.js and the modules it imports
// are the meeting UI; embed.js is the script other sites load to embed a
// meeting in an iframe (/embed/<room>).
//
// The meeting page may be framed only by confd's own pages, /embed/ pages
// also by the origins in Options.EmbedOrigins: the Content-Security-Policy
// header's frame-ancestors says so to the browser.
package frontend

import (
	"embed"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
)

//go:embed static
var static embed.FS

// Options configures the handler.
type Options struct {
	// EmbedOrigins may frame /embed/<room> ("https://site.example"); "*"
	// lets any site frame it.
	EmbedOrigins []string
}

// Handler serves the web client with no embedding sites.
func Handler() http.Handler { return New(Options{}) }

// New serves the web client: the meeting page at /, the embeddable page at
// /embed/<room>, and the static files.
func New(o Options) http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	page, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err)
	}
	files := http.FileServer(http.FS(sub))
	embedAncestors := FrameAncestors(o.EmbedOrigins)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		servePage(w, r, page, "'self'")
	})
	mux.HandleFunc("GET /embed/{room}", func(w http.ResponseWriter, r *http.Request) {
		servePage(w, r, page, embedAncestors)
	})
	mux.HandleFunc("GET /embed.js", func(w http.ResponseWriter, r *http.Request) {
		// Loaded by other sites' pages.
		w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
	mux.Handle("/", files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		mux.ServeHTTP(w, r)
	})
}

// FrameAncestors is the CSP frame-ancestors source list for origins:
// confd's own pages, plus each origin ("*" allows any page).
func FrameAncestors(origins []string) string {
	list := []string{"'self'"}
	for _, o := range origins {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "*" {
			return "*"
		}
		if o != "" {
			list = append(list, o)
		}
	}
	return strings.Join(list, " ")
}

var plainHost = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$`)

// servePage writes the meeting page with its security policy: scripts,
// styles and connections from confd only, framed only by ancestors.
func servePage(w http.ResponseWriter, r *http.Request, page []byte, ancestors string) {
	connect := "'self'"
	if plainHost.MatchString(r.Host) {
		// Older browsers do not count ws: and wss: as 'self'.
		connect += " ws://" + r.Host + " wss://" + r.Host
	}
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
		"media-src 'self' blob: mediastream:; connect-src " + connect + "; object-src 'none'; " +
		"base-uri 'none'; form-action 'self'; frame-ancestors " + ancestors
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	if ancestors == "'self'" {
		h.Set("X-Frame-Options", "SAMEORIGIN")
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(page)
}
