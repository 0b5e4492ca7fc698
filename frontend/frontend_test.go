package frontend

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, srv *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	res, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return res, string(body)
}

func TestServesFilesWithTypes(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	cases := []struct {
		path, file, mime string
	}{
		{"/", "index.html", "text/html"},
		{"/embed/3500", "index.html", "text/html"},
		{"/app.js", "app.js", "text/javascript"},
		{"/verto.js", "verto.js", "text/javascript"},
		{"/conference.js", "conference.js", "text/javascript"},
		{"/embed.js", "embed.js", "text/javascript"},
		{"/style.css", "style.css", "text/css"},
		{"/favicon.svg", "favicon.svg", "image/svg+xml"},
	}
	for _, c := range cases {
		t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
			res, body := get(t, srv, c.path)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status %d", c.path, res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.mime) {
				t.Errorf("GET %s: Content-Type %q, want %s", c.path, ct, c.mime)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("GET %s: X-Content-Type-Options %q, want nosniff", c.path, got)
			}
			want, err := static.ReadFile("static/" + c.file)
			if err != nil {
				t.Fatal(err)
			}
			if body != string(want) {
				t.Errorf("GET %s: body differs from the embedded %s", c.path, c.file)
			}
		})
	}
}

func TestMissingFileIs404(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	if res, _ := get(t, srv, "/no-such-file.js"); res.StatusCode != http.StatusNotFound {
		t.Errorf("status %d, want 404", res.StatusCode)
	}
}

var (
	attrRef   = regexp.MustCompile(`\b(?:src|href)="([^"]+)"`)
	jsImport  = regexp.MustCompile(`(?m)^\s*import\b[^'"]*['"](\.[^'"]+)['"]`)
	htmlID    = regexp.MustCompile(`\bid="([^"]+)"`)
	appLookup = regexp.MustCompile(`\$\('([^']+)'\)`)
)

// TestReferencesResolve checks that every local file the page names (in
// index.html and in the modules' imports) is served as what it claims to be.
func TestReferencesResolve(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	page, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	if !strings.Contains(html, `<script type="module" src="/app.js">`) {
		t.Error("index.html does not load /app.js as a module (absolute: /embed/<room> serves the same page)")
	}
	var refs []string
	for _, m := range attrRef.FindAllStringSubmatch(html, -1) {
		u, err := url.Parse(m[1])
		if err != nil {
			t.Errorf("bad reference %q: %v", m[1], err)
			continue
		}
		if u.Scheme != "" || u.Host != "" || u.Path == "" {
			continue // external, data: or fragment-only
		}
		if !strings.HasPrefix(u.Path, "/") {
			t.Errorf("index.html references %q relatively; /embed/<room> needs absolute paths", u.Path)
		}
		refs = append(refs, strings.TrimPrefix(u.Path, "/"))
	}
	for _, want := range []string{"app.js", "style.css"} {
		if !contains(refs, want) {
			t.Errorf("index.html does not reference %s", want)
		}
	}
	seen := map[string]bool{}
	for len(refs) > 0 {
		ref := strings.TrimPrefix(refs[0], "./")
		refs = refs[1:]
		if seen[ref] {
			continue
		}
		seen[ref] = true
		res, body := get(t, srv, "/"+ref)
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s is referenced but GET gives status %d", ref, res.StatusCode)
			continue
		}
		if strings.HasSuffix(ref, ".js") {
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
				t.Errorf("%s: Content-Type %q; browsers refuse modules that are not JavaScript", ref, ct)
			}
			for _, m := range jsImport.FindAllStringSubmatch(body, -1) {
				refs = append(refs, m[1])
			}
		}
	}
	if !seen["verto.js"] {
		t.Error("no module imports verto.js")
	}
}

// TestAppElementsExist checks that every element the UI modules look up by
// id is in index.html, so a renamed id fails here rather than in a browser.
func TestAppElementsExist(t *testing.T) {
	page, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range htmlID.FindAllStringSubmatch(string(page), -1) {
		if ids[m[1]] {
			t.Errorf("index.html: duplicate id %q", m[1])
		}
		ids[m[1]] = true
	}
	entries, err := static.ReadDir("static")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		src, err := static.ReadFile("static/" + name)
		if err != nil {
			t.Fatal(err)
		}
		lookups := appLookup.FindAllStringSubmatch(string(src), -1)
		total += len(lookups)
		for _, m := range lookups {
			if !ids[m[1]] {
				t.Errorf("%s looks up #%s, which index.html does not have", name, m[1])
			}
		}
	}
	if total < 50 {
		t.Errorf("found only %d element lookups in the modules; is the pattern still right?", total)
	}
}

// TestIconsExist checks that every sprite icon the page and the modules use
// is defined.
func TestIconsExist(t *testing.T) {
	page, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	symbols := map[string]bool{}
	for _, m := range regexp.MustCompile(`<symbol id="i-([a-z-]+)"`).FindAllStringSubmatch(string(page), -1) {
		symbols[m[1]] = true
	}
	uses := regexp.MustCompile(`href="#i-([a-z-]+)"`).FindAllStringSubmatch(string(page), -1)
	entries, err := static.ReadDir("static")
	if err != nil {
		t.Fatal(err)
	}
	iconCall := regexp.MustCompile(`\bicon\('([a-z-]+)'|\bicon: '([a-z-]+)'|'#i-([a-z-]+)'`)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".js") {
			continue
		}
		src, err := static.ReadFile("static/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range iconCall.FindAllStringSubmatch(string(src), -1) {
			uses = append(uses, []string{m[0], m[1] + m[2] + m[3]})
		}
	}
	for _, u := range uses {
		if !symbols[u[1]] {
			t.Errorf("icon %q is used but index.html has no symbol i-%s", u[1], u[1])
		}
	}
}

// TestPagePolicy: the meeting page is framed by confd's own pages only; an
// /embed/ page also by the configured origins; both keep scripts,
// styles and connections to confd.
func TestPagePolicy(t *testing.T) {
	srv := httptest.NewServer(New(Options{EmbedOrigins: []string{"https://site.example", "http://localhost:8000/"}}))
	defer srv.Close()
	res, _ := get(t, srv, "/")
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'self'") || strings.Contains(csp, "site.example") {
		t.Errorf("/: CSP %q, want frame-ancestors 'self' only", csp)
	}
	if got := res.Header.Get("X-Frame-Options"); got != "SAMEORIGIN" {
		t.Errorf("/: X-Frame-Options %q, want SAMEORIGIN", got)
	}
	for _, want := range []string{"script-src 'self'", "object-src 'none'", "connect-src 'self' ws://" + strings.TrimPrefix(srv.URL, "http://")} {
		if !strings.Contains(csp, want) {
			t.Errorf("/: CSP %q lacks %q", csp, want)
		}
	}
	res, _ = get(t, srv, "/embed/3500")
	csp = res.Header.Get("Content-Security-Policy")
	if !strings.HasSuffix(csp, "frame-ancestors 'self' https://site.example http://localhost:8000") {
		t.Errorf("/embed/3500: CSP %q, want the configured origins in frame-ancestors", csp)
	}
	if got := res.Header.Get("X-Frame-Options"); got != "" {
		t.Errorf("/embed/3500: X-Frame-Options %q would forbid the configured origins", got)
	}
	if res, _ := get(t, srv, "/embed/3500/extra"); res.StatusCode != http.StatusNotFound {
		t.Errorf("/embed/3500/extra: status %d, want 404", res.StatusCode)
	}
	res, _ = get(t, srv, "/embed.js")
	if got := res.Header.Get("Cross-Origin-Resource-Policy"); got != "cross-origin" {
		t.Errorf("/embed.js: Cross-Origin-Resource-Policy %q, want cross-origin", got)
	}
	if got := FrameAncestors([]string{"*"}); got != "*" {
		t.Errorf(`FrameAncestors(["*"]) = %q, want *`, got)
	}
	if got := FrameAncestors(nil); got != "'self'" {
		t.Errorf("FrameAncestors(nil) = %q, want 'self'", got)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.TrimPrefix(v, "./") == s {
			return true
		}
	}
	return false
}
