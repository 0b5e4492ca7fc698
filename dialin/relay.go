package dialin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/confd/confd/room"
)

// The headers of an INVITE one node proxies to another: the caller as the
// first node admitted it, and a MAC over them (and the call) with the
// cluster's secret, so that the room's node admits the call without
// asking the phone again.
const (
	relayMACHeader    = "X-Confd-Relay"
	relayUserHeader   = "X-Confd-Relay-User"
	relaySourceHeader = "X-Confd-Relay-Source"
)

// relayTimeout bounds a proxied INVITE, from sending it to its final
// response (a phone that rings... confd answers at once, so this is long).
const relayTimeout = 60 * time.Second

var errBadRelay = errors.New("a relayed INVITE with a wrong cluster MAC")

// Relay is how the endpoint works in a cluster of nodes.
type Relay struct {
	// Route says where a room lives: "" when here, else the SIP address
	// (host:port, UDP) of the node that holds it. Its error is the cause
	// a call is refused with.
	Route func(ctx context.Context, room string) (addr string, err error)
	// Secret keys the MAC of proxied INVITEs; never logged.
	Secret string
}

// SetRelay makes the endpoint part of a cluster; call it before Start.
func (s *Server) SetRelay(r Relay) { s.relay = r }

func (s *Server) relayMAC(req *sip.Request, user, source string) string {
	m := hmac.New(sha256.New, []byte(s.relay.Secret))
	from := ""
	if f := req.From(); f != nil {
		from, _ = f.Params.Get("tag")
	}
	for _, part := range []string{req.CallID().Value(), from, user, source} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

// admission admits an INVITE: one relayed by another node with the
// caller that node admitted (and the phone's own address), any other
// through the guard.
func (s *Server) admission(req *sip.Request, src netip.AddrPort, now time.Time) (caller, netip.AddrPort, error) {
	h := req.GetHeader(relayMACHeader)
	if h == nil || s.relay.Secret == "" {
		who, err := s.guard.admit(req, src.Addr(), now)
		return who, src, err
	}
	user, source := headerValue(req, relayUserHeader), headerValue(req, relaySourceHeader)
	if !hmac.Equal([]byte(h.Value()), []byte(s.relayMAC(req, user, source))) {
		return caller{src: src.Addr()}, src, reject(403, "Forbidden", errBadRelay)
	}
	if ap, err := netip.ParseAddrPort(source); err == nil {
		src = ap
	}
	who := caller{src: src.Addr()}
	if user != "" {
		who.user = s.guard.user(user)
	}
	return who, src, nil
}

func headerValue(req *sip.Request, name string) string {
	if h := req.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// proxyInvite sends an INVITE for a room that lives on another node
// there, and relays its responses back, until the final one. It adds a
// Via but no Record-Route: the dialog's requests (ACK, BYE, re-INVITE) go
// straight to the room's node's Contact. handled is false when the room
// is here; err, when the call could not be proxied (nothing was sent on).
func (s *Server) proxyInvite(req *sip.Request, tx sip.ServerTransaction, r *room.Room, who caller, src netip.AddrPort) (handled bool, err error) {
	if s.relay.Route == nil || req.GetHeader(relayMACHeader) != nil || r.Echo() { // every node has its own echo test
		return false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	addr, err := s.relay.Route(ctx, r.Number())
	cancel()
	if err != nil {
		return true, &statusError{code: 503, reason: "Service Unavailable", err: err,
			headers: []sip.Header{sip.NewHeader("Warning", `399 confd "`+strings.ReplaceAll(err.Error(), `"`, `'`)+`"`)}}
	}
	if addr == "" {
		return false, nil
	}
	out := req.Clone()
	for _, name := range []string{relayMACHeader, relayUserHeader, relaySourceHeader} {
		out.RemoveHeader(name)
	}
	user := ""
	if who.user != nil {
		user = who.user.Login
	}
	out.AppendHeader(sip.NewHeader(relayUserHeader, user))
	out.AppendHeader(sip.NewHeader(relaySourceHeader, src.String()))
	out.AppendHeader(sip.NewHeader(relayMACHeader, s.relayMAC(out, user, src.String())))
	// The phone's credentials were for this node; the room's node trusts
	// the MAC instead.
	out.RemoveHeader("Authorization")
	out.SetDestination(addr)
	out.SetTransport("UDP")
	return true, s.relayTransaction(req, tx, out, addr)
}

// relayTransaction runs the proxied INVITE's client transaction: each
// response (but 100, which is hop by hop) goes back to the phone without
// the Via this node added; a CANCEL from the phone is sent on.
func (s *Server) relayTransaction(req *sip.Request, tx sip.ServerTransaction, out *sip.Request, addr string) error {
	_ = tx.Respond(sip.NewResponseFromRequest(req, 100, "Trying", nil))
	ctx, cancel := context.WithTimeout(context.Background(), relayTimeout)
	defer cancel()
	ctxTx, err := s.client.TransactionRequest(ctx, out, sipgo.ClientRequestAddVia)
	if err != nil {
		return relayUnreachable(addr, err)
	}
	defer ctxTx.Terminate()
	cancelled := make(chan struct{})
	tx.OnCancel(func(*sip.Request) {
		select {
		case <-cancelled:
		default:
			close(cancelled)
		}
	})
	s.log.Info("sip call proxied to the room's node", zap.String("node", addr), zap.String("call", req.CallID().Value()))
	cancelledAt := cancelled
	for {
		select {
		case res, ok := <-ctxTx.Responses():
			if !ok {
				return relayUnreachable(addr, errors.New("the transaction ended"))
			}
			if res.StatusCode == 100 {
				continue
			}
			res = res.Clone()
			res.RemoveHeader("Via")
			res.SetDestination(req.Source())
			if err := tx.Respond(res); err != nil {
				s.log.Info("a proxied response could not be relayed", zap.Error(err))
			}
			if res.StatusCode >= 200 {
				return nil
			}
		case <-cancelledAt:
			cancelledAt = nil
			c := newCancelRequest(out)
			if _, err := s.client.TransactionRequest(ctx, c, func(*sipgo.Client, *sip.Request) error { return nil }); err != nil {
				s.log.Info("a CANCEL could not be relayed", zap.Error(err))
			}
		case <-ctxTx.Done():
			return relayUnreachable(addr, ctxTx.Err())
		case <-ctx.Done():
			return reject(408, "Request Timeout", ctx.Err())
		}
	}
}

func relayUnreachable(addr string, err error) error {
	return &statusError{code: 503, reason: "Service Unavailable", err: err,
		headers: []sip.Header{sip.NewHeader("Warning", `399 confd "the room's node (`+addr+`) cannot be reached"`)}}
}

// newCancelRequest is the CANCEL of a proxied INVITE (RFC 3261 §9.1): its
// Request-URI, top Via, From, To, Call-ID and CSeq number.
func newCancelRequest(inv *sip.Request) *sip.Request {
	c := sip.NewRequest(sip.CANCEL, inv.Recipient)
	c.SipVersion = inv.SipVersion
	if v := inv.Via(); v != nil {
		c.AppendHeader(v.Clone())
	}
	mf := sip.MaxForwardsHeader(70)
	c.AppendHeader(&mf)
	for _, name := range []string{"From", "To", "Call-ID"} {
		if h := inv.GetHeader(name); h != nil {
			c.AppendHeader(sip.HeaderClone(h))
		}
	}
	if cs := inv.CSeq(); cs != nil {
		c.AppendHeader(&sip.CSeqHeader{SeqNo: cs.SeqNo, MethodName: sip.CANCEL})
	}
	c.SetTransport(inv.Transport())
	c.SetDestination(inv.Destination())
	return c
}
