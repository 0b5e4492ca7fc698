package control

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"

	"github.com/confd/confd/room"
)

func testAPI(t *testing.T) *API {
	t.Helper()
	rs, err := room.New([]room.Config{{Number: "3500"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	a, err := New(Config{Keys: []Key{{Name: "ops", Key: "0123456789abcdef"}}, Rooms: rs})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func loadDoc(t *testing.T, a *API) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(a.openapi)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI 3: %v", err)
	}
	return doc
}

// TestOpenAPIMatchesRoutes: the document is valid OpenAPI 3, every route
// the router serves is documented with its method, and every documented
// operation is routed.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	a := testAPI(t)
	doc := loadDoc(t, a)
	var routed []string
	err := chi.Walk(a.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed = append(routed, method+" "+strings.TrimSuffix(route, "/"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(routed)
	slices.Sort(documented)
	for _, r := range routed {
		if !slices.Contains(documented, r) {
			t.Errorf("%s is routed but not documented", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routed, d) {
			t.Errorf("%s is documented but not routed", d)
		}
	}
	if len(routed) < 20 {
		t.Errorf("only %d routes: %v", len(routed), routed)
	}
	// Every operation but the document's own needs a key and says what a
	// missing one gets.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if path == "/openapi.json" {
				continue
			}
			if op.Responses.Value("401") == nil {
				t.Errorf("%s %s does not document 401", method, path)
			}
			if op.Security != nil && len(*op.Security) == 0 {
				t.Errorf("%s %s is documented without a key", method, path)
			}
		}
	}
}
