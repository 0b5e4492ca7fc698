package turnserver

import (
	"encoding/binary"
	"net/netip"

	"github.com/pion/stun/v4"
)

// filter looks at every frame a client sends before pion does. It lets
// data (ChannelData, Send indications) through untouched, and answers
// itself the authenticated requests that must fail, with the codes the
// RFCs name where pion answers otherwise:
//
//   - a wrong, malformed or (for Allocate) expired credential: 401
//     (RFC 8489 §9.2.4; pion says 400);
//   - CreatePermission or ChannelBind to a peer that is not confd's
//     media: 403 (RFC 8656 §9.1, §11.2; pion says 401 for ChannelBind);
//   - an Allocate for anything but a UDP relay: 442 (RFC 8656 §7.2).
//
// Requests without MESSAGE-INTEGRITY go on to pion, which challenges them
// with a 401 carrying its NONCE and REALM. A filter belongs to one
// reading goroutine (the UDP socket's, or a TCP connection's): it reuses
// its messages, so its reply is valid until its next call.
type filter struct {
	s   *Server
	in  stun.Message
	out stun.Message
}

// The TURN methods that carry credentials (RFC 8656 §17).
const (
	methodAllocate         = stun.MethodAllocate
	methodRefresh          = stun.MethodRefresh
	methodCreatePermission = stun.MethodCreatePermission
	methodChannelBind      = stun.MethodChannelBind
	protoUDP               = 17 // REQUESTED-TRANSPORT (RFC 8656 §18.13)
	magicCookie            = 0x2112A442
)

// inspect decides on one frame: pass it on to pion, or drop it, with
// reply (when not nil) to send back to the client first.
func (f *filter) inspect(frame []byte) (reply []byte, pass bool) {
	if len(frame) == 0 {
		return nil, false
	}
	switch c := frame[0]; {
	case c >= 0x40 && c <= 0x4F: // ChannelData, channels 0x4000–0x4FFF (RFC 8656 §12)
		return nil, true
	case c > 3 || len(frame) < 20: // neither STUN nor ChannelData (RFC 7983)
		f.s.n.garbage.Add(1)
		return nil, false
	}
	var t stun.MessageType
	t.ReadValue(binary.BigEndian.Uint16(frame[0:2]))
	if t.Class != stun.ClassRequest {
		return nil, true // a Send indication: pion checks its permission
	}
	switch t.Method {
	case methodAllocate, methodRefresh, methodCreatePermission, methodChannelBind:
	default:
		return nil, true // Binding, and what pion refuses itself
	}
	f.in.Raw = append(f.in.Raw[:0], frame...)
	if f.in.Decode() != nil || !f.in.Contains(stun.AttrMessageIntegrity) {
		return nil, true // pion answers: 400, or its 401 challenge
	}
	return f.authenticated()
}

// authenticated checks the credential of f.in and what it asks for.
func (f *filter) authenticated() ([]byte, bool) {
	var (
		user  stun.Username
		realm stun.Realm
		nonce stun.Nonce
	)
	if user.GetFrom(&f.in) != nil || realm.GetFrom(&f.in) != nil || nonce.GetFrom(&f.in) != nil {
		return nil, true // pion answers 400
	}
	key, ok := f.key(user.String(), realm.String())
	if !ok || key.Check(&f.in) != nil {
		f.s.n.unauthorized.Add(1)
		return f.reply(stun.CodeUnauthorized, nil, stun.NewRealm(f.s.cfg.Realm), nonce), false
	}
	switch f.in.Type.Method {
	case methodAllocate:
		if v, err := f.in.Get(stun.AttrRequestedTransport); err == nil && len(v) >= 1 && v[0] != protoUDP {
			return f.reply(stun.CodeUnsupportedTransProto, key), false
		}
	case methodCreatePermission, methodChannelBind:
		if !f.peersOwn() {
			f.s.n.forbidden.Add(1)
			return f.reply(stun.CodeForbidden, key), false
		}
	}
	return nil, true
}

// key is the long-term key (RFC 8489 §9.2.2) of a credential confd
// minted, if it is one and may be used for this request.
func (f *filter) key(username, realm string) (stun.MessageIntegrity, bool) {
	if realm != f.s.cfg.Realm {
		return nil, false
	}
	_, password, err := f.s.creds.check(username, f.in.Type.Method != methodAllocate)
	if err != nil {
		return nil, false
	}
	return stun.NewLongTermIntegrity(username, realm, password), true
}

// peersOwn reports whether every XOR-PEER-ADDRESS of f.in is one of
// confd's media IPs (a malformed one is left to pion, which answers 400).
func (f *filter) peersOwn() bool {
	for _, a := range f.in.Attributes {
		if a.Type != stun.AttrXORPeerAddress {
			continue
		}
		ip, ok := xorPeerIP(a.Value, f.in.TransactionID)
		if ok && !f.s.cfg.Policy.OwnIP(ip) {
			return false
		}
	}
	return true
}

// xorPeerIP reads the IP of an XOR-PEER-ADDRESS value (RFC 8489 §14.2):
// the family, the port and the address XORed with the magic cookie (and,
// for IPv6, the transaction ID).
func xorPeerIP(v []byte, txid [stun.TransactionIDSize]byte) (netip.Addr, bool) {
	var mask [16]byte
	binary.BigEndian.PutUint32(mask[0:4], magicCookie)
	copy(mask[4:], txid[:])
	switch {
	case len(v) == 8 && v[1] == 0x01:
		var ip [4]byte
		for i := range ip {
			ip[i] = v[4+i] ^ mask[i]
		}
		return netip.AddrFrom4(ip), true
	case len(v) == 20 && v[1] == 0x02:
		var ip [16]byte
		for i := range ip {
			ip[i] = v[4+i] ^ mask[i]
		}
		return netip.AddrFrom16(ip).Unmap(), true
	}
	return netip.Addr{}, false
}

// reply builds an error response to f.in, authenticated with key when the
// request was.
func (f *filter) reply(code stun.ErrorCode, key stun.MessageIntegrity, attrs ...stun.Setter) []byte {
	m := &f.out
	m.Reset()
	m.TransactionID = f.in.TransactionID
	m.Type = stun.NewType(f.in.Type.Method, stun.ClassErrorResponse)
	m.WriteHeader()
	_ = code.AddTo(m)
	for _, a := range attrs {
		_ = a.AddTo(m)
	}
	if key != nil {
		_ = key.AddTo(m)
	}
	return m.Raw
}
