package control

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
)

// keyring holds the API keys as SHA-256 digests: every candidate is
// compared with every key in constant time and of constant length, so the
// time taken says nothing of a key's content, length or position.
type keyring []keyEntry

type keyEntry struct {
	name   string
	digest [sha256.Size]byte
}

func newKeyring(keys []Key) (keyring, error) {
	var kr keyring
	seen := map[string]bool{}
	for _, k := range keys {
		switch {
		case k.Name == "":
			return nil, fmt.Errorf("api.keys: every key needs a name")
		case seen[k.Name]:
			return nil, fmt.Errorf("api.keys: the name %q is used twice", k.Name)
		case len(k.Key) < MinKeyBytes:
			return nil, fmt.Errorf("api.keys: key %q is shorter than %d bytes", k.Name, MinKeyBytes)
		}
		seen[k.Name] = true
		kr = append(kr, keyEntry{name: k.Name, digest: sha256.Sum256([]byte(k.Key))})
	}
	return kr, nil
}

// match returns the name of the key that candidate is, looking at every
// key whatever the outcome.
func (kr keyring) match(candidate string) (string, bool) {
	d := sha256.Sum256([]byte(candidate))
	var name string
	found := 0
	for _, k := range kr {
		eq := subtle.ConstantTimeCompare(d[:], k.digest[:])
		if eq == 1 {
			name = k.name
		}
		found |= eq
	}
	return name, found == 1
}

type ctxKey struct{}

// keyName is the name of the key the request authenticated with.
func keyName(r *http.Request) string {
	name, _ := r.Context().Value(ctxKey{}).(string)
	return name
}

// authenticate admits requests that carry a configured key as
// "Authorization: Bearer <key>"; others get 401, whatever they asked for.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		name, ok := "", false
		if strings.EqualFold(scheme, "Bearer") && token != "" {
			name, ok = a.keys.match(strings.TrimSpace(token))
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="confd"`)
			writeError(w, http.StatusUnauthorized, "a valid API key is required: Authorization: Bearer <key>")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, name)))
	})
}
