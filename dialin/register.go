package dialin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// Registration bounds: a table a scan cannot grow without limit.
const (
	maxBindingsPerAOR = 10
	maxBindings       = 10000
	defaultExpires    = time.Hour // a REGISTER that asks for no lifetime
)

// registrar holds the REGISTER bindings (RFC 3261 §10): for each
// address of record (an account's login, or a guest's name), its
// contacts and when each expires. JsSIP and SIP.js register before they
// call; confd only needs the binding to answer them, since it never calls
// a browser, but it keeps them as asked, and lets them expire.
type registrar struct {
	mu    sync.Mutex
	byAOR map[string]map[string]time.Time // AOR → contact URI → expiry
	n     int
}

func newRegistrar() *registrar { return &registrar{byAOR: map[string]map[string]time.Time{}} }

// binding is one contact of an address of record and its lifetime left.
type binding struct {
	Contact string
	Expires time.Duration
}

// update applies a REGISTER's contacts for aor at now (an expiry of 0
// removes one; wildcard removes them all) and returns the bindings left.
func (r *registrar) update(aor string, contacts []string, expires []time.Duration, wildcard bool, now time.Time) ([]binding, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(aor, now)
	set := r.byAOR[aor]
	if wildcard {
		r.n -= len(set)
		delete(r.byAOR, aor)
		return nil, nil
	}
	for i, c := range contacts {
		_, had := set[c]
		switch {
		case expires[i] == 0:
			if had {
				delete(set, c)
				r.n--
			}
		case !had && (len(set) >= maxBindingsPerAOR || r.n >= maxBindings):
			return nil, errTooManyBindings
		default:
			if set == nil {
				set = map[string]time.Time{}
				r.byAOR[aor] = set
			}
			if !had {
				r.n++
			}
			set[c] = now.Add(expires[i])
		}
	}
	if len(set) == 0 {
		delete(r.byAOR, aor)
	}
	return r.listLocked(aor, now), nil
}

var errTooManyBindings = errors.New("dialin: too many registrations")

// Bindings lists aor's live registrations.
func (r *registrar) bindings(aor string, now time.Time) []binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(aor, now)
	return r.listLocked(aor, now)
}

func (r *registrar) listLocked(aor string, now time.Time) []binding {
	var out []binding
	for c, exp := range r.byAOR[aor] {
		out = append(out, binding{Contact: c, Expires: exp.Sub(now).Round(time.Second)})
	}
	return out
}

// pruneLocked drops aor's expired bindings.
func (r *registrar) pruneLocked(aor string, now time.Time) {
	set := r.byAOR[aor]
	for c, exp := range set {
		if !now.Before(exp) {
			delete(set, c)
			r.n--
		}
	}
	if set != nil && len(set) == 0 {
		delete(r.byAOR, aor)
	}
}

// Registered lists the contacts registered for aor (a login) now and
// their lifetimes left.
func (s *Server) Registered(aor string) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, b := range s.binds.bindings(strings.ToLower(aor), time.Now()) {
		out[b.Contact] = b.Expires
	}
	return out
}

// onRegister answers a browser's REGISTER over a websocket (RFC 3261
// §10.3); phones' REGISTERs get 405, as before. The account's digest (or
// a guest, where guests are allowed, under a name that is no account's),
// then the bindings as asked, each expiring within the configured bounds.
func (s *Server) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	if !isWebSocket(req) {
		s.onNoRoute(req, tx)
		return
	}
	now := time.Now()
	who, err := s.admitBrowser(req, now)
	if err != nil {
		s.refuse(req, tx, nil, err)
		return
	}
	aor := ""
	if to := req.To(); to != nil {
		aor = strings.ToLower(to.Address.User)
	}
	switch {
	case aor == "":
		s.refuse(req, tx, nil, reject(400, "Bad Request", errors.New("no user in To")))
		return
	case who.user != nil && !strings.EqualFold(who.user.Login, aor):
		s.refuse(req, tx, nil, reject(403, "Forbidden", errors.New("an account registers its own address only")))
		return
	case who.user == nil && s.guard.user(aor) != nil:
		s.refuse(req, tx, nil, reject(403, "Forbidden", errors.New("a guest may not register an account's address")))
		return
	}
	contacts, expires, wildcard, err := s.readContacts(req)
	if err != nil {
		s.refuse(req, tx, nil, err)
		return
	}
	binds, err := s.binds.update(aor, contacts, expires, wildcard, now)
	if err != nil {
		s.refuse(req, tx, nil, reject(503, "Service Unavailable", err))
		return
	}
	if c := s.wsConn(req.Source()); c != nil {
		for _, e := range expires {
			c.keepUntil(now.Add(e))
		}
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	for _, b := range binds {
		res.AppendHeader(sip.NewHeader("Contact", "<"+b.Contact+">;expires="+strconv.Itoa(int(b.Expires/time.Second))))
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	s.log.Debug("sip registration", zap.String("aor", aor), zap.Int("bindings", len(binds)), zap.String("source", req.Source()))
	_ = tx.Respond(res)
}

// readContacts reads a REGISTER's contacts and the lifetime each asks
// for: its expires parameter, else the Expires header, else an hour;
// capped at MaxExpires, and refused with 423 under MinExpires (RFC 3261
// §10.3 step 7). A wildcard must stand alone with Expires: 0.
func (s *Server) readContacts(req *sip.Request) (contacts []string, expires []time.Duration, wildcard bool, err error) {
	ws := s.cfg.WebSocket
	def := defaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		if def, err = parseExpires(h.Value()); err != nil {
			return nil, nil, false, reject(400, "Bad Request", err)
		}
	}
	hdrs := req.GetHeaders("Contact")
	for _, h := range hdrs {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return nil, nil, false, reject(400, "Bad Request", errors.New("unreadable Contact"))
		}
		if c.Address.Wildcard {
			if len(hdrs) != 1 || def != 0 {
				return nil, nil, false, reject(400, "Bad Request", errors.New("a wildcard Contact stands alone, with Expires: 0"))
			}
			return nil, nil, true, nil
		}
		exp := def
		if v, ok := c.Params.Get("expires"); ok {
			if exp, err = parseExpires(v); err != nil {
				return nil, nil, false, reject(400, "Bad Request", err)
			}
		}
		if exp > 0 && exp < ws.MinExpires {
			e := reject(423, "Interval Too Brief", fmt.Errorf("expires under %v", ws.MinExpires)).(*statusError)
			e.headers = []sip.Header{sip.NewHeader("Min-Expires", strconv.Itoa(int(ws.MinExpires/time.Second)))}
			return nil, nil, false, e
		}
		contacts = append(contacts, c.Address.String())
		expires = append(expires, min(exp, ws.MaxExpires))
	}
	return contacts, expires, false, nil
}

// parseExpires reads delta-seconds (RFC 3261 §25.1): digits only; values
// past 2^32-1 are read as that (§20.19).
func parseExpires(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 20 || strings.Trim(v, "0123456789") != "" {
		return 0, fmt.Errorf("expires %q is not delta-seconds", v)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > 1<<32-1 {
		n = 1<<32 - 1
	}
	return time.Duration(n) * time.Second, nil
}
