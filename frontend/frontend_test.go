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
		{"/app.js", "app.js", "text/javascript"},
		{"/verto.js", "verto.js", "text/javascript"},
		{"/style.css", "style.css", "text/css"},
		{"/favicon.svg", "favicon.svg", "image/svg+xml"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
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
	if !strings.Contains(html, `<script type="module" src="app.js">`) {
		t.Error("index.html does not load app.js as a module")
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
		refs = append(refs, u.Path)
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

// TestAppElementsExist checks that every element app.js looks up by id is
// in index.html, so a renamed id fails here rather than in a browser.
func TestAppElementsExist(t *testing.T) {
	page, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	app, err := static.ReadFile("static/app.js")
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
	lookups := appLookup.FindAllStringSubmatch(string(app), -1)
	if len(lookups) == 0 {
		t.Fatal("found no element lookups in app.js")
	}
	for _, m := range lookups {
		if !ids[m[1]] {
			t.Errorf("app.js looks up #%s, which index.html does not have", m[1])
		}
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
