package signalling

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/verto"
)

// hub routes verto.event deliveries to subscribed sessions. Its lock is held
// while a subscribe result is queued and while an event is queued to every
// subscriber, so a client always gets its subscribe result before the first
// event on that channel (verto-spec §8.1); queueing never blocks.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[*Session]*int // channel → session → next eventSerno
}

func newHub() *hub { return &hub{subs: map[string]map[*Session]*int{}} }

// subscribe adds the allowed channels and queues the reply under the lock;
// it returns the channels newly subscribed.
func (h *hub) subscribe(s *Session, id json.RawMessage, channels []string, allowed func(string) bool) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var res verto.SubscribeResult
	for _, ch := range channels {
		switch {
		case !allowed(ch):
			res.UnauthorizedChannels = append(res.UnauthorizedChannels, ch)
		case h.subs[ch][s] != nil:
			res.AlreadySubscribedChannels = append(res.AlreadySubscribedChannels, ch)
		default:
			if h.subs[ch] == nil {
				h.subs[ch] = map[*Session]*int{}
			}
			h.subs[ch][s] = new(int)
			res.SubscribedChannels = append(res.SubscribedChannels, ch)
		}
	}
	if len(res.SubscribedChannels) == 0 {
		s.sendError(id, res.AsError())
		return nil
	}
	s.reply(id, res)
	return res.SubscribedChannels
}

func (h *hub) unsubscribe(s *Session, channels []string) verto.UnsubscribeResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	var res verto.UnsubscribeResult
	for _, ch := range channels {
		if h.subs[ch][s] == nil {
			res.NotSubscribedChannels = append(res.NotSubscribedChannels, ch)
			continue
		}
		h.removeLocked(ch, s)
		res.UnsubscribedChannels = append(res.UnsubscribedChannels, ch)
	}
	return res
}

func (h *hub) unsubscribeAll(s *Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch, m := range h.subs {
		if m[s] != nil {
			h.removeLocked(ch, s)
		}
	}
}

func (h *hub) removeLocked(ch string, s *Session) {
	delete(h.subs[ch], s)
	if len(h.subs[ch]) == 0 {
		delete(h.subs, ch)
	}
}

// publish delivers data on channel to its subscribers and to subscribers of
// the channel's prefix before the first '.', each copy numbered per
// subscription (verto-spec §8.2).
func (h *hub) publish(channel string, data any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliverLocked(channel, channel, data)
	if prefix, _, ok := strings.Cut(channel, "."); ok {
		h.deliverLocked(prefix, channel, data)
	}
}

func (h *hub) deliverLocked(sub, channel string, data any) {
	for s, serno := range h.subs[sub] {
		n := *serno
		*serno++
		s.request(verto.MethodEvent, verto.Event{EventChannel: channel, Data: data, EventSerno: &n, SubscribedChannel: sub})
	}
}

// Conference channel prefixes (verto-spec §9.1).
const (
	chanLiveArray = "conference-liveArray"
	chanChat      = "conference-chat"
	chanMod       = "conference-mod"
	chanInfo      = "conference-info"
)

// mayReceive says whether the session may subscribe to channel: its own
// call IDs, and the channels of rooms it has a call in (the moderator
// channel for moderators only).
func (s *Session) mayReceive(channel string) bool {
	if s.calls[channel] != nil {
		return true
	}
	prefix, rest, ok := strings.Cut(channel, ".")
	if !ok {
		return false
	}
	number := strings.TrimSuffix(rest, "@"+s.srv.cfg.Domain)
	if !s.inRoom(number) {
		return false
	}
	switch prefix {
	case chanLiveArray, chanChat, chanInfo:
		return true
	case chanMod:
		return s.user.Role == room.RoleModerator
	}
	return false
}

func (s *Session) inRoom(number string) bool {
	for _, c := range s.calls {
		if c.room().Number() == number {
			return true
		}
	}
	return false
}

func (s *Session) handleSubscribe(req *request) (any, *verto.Error) {
	var p verto.SubscribeParams
	if err := verto.DecodeParams(req.params, &p); err != nil {
		return nil, err
	}
	if len(p.EventChannel) == 0 {
		return nil, &verto.Error{}
	}
	for _, ch := range s.srv.hub.subscribe(s, req.id, p.EventChannel, s.mayReceive) {
		if c, conf, prefix := s.channelRoom(ch); c != nil && prefix == chanChat {
			s.sendChatHistory(conf)
		}
	}
	return nil, nil
}

func (s *Session) handleUnsubscribe(req *request) (any, *verto.Error) {
	var p verto.SubscribeParams
	if err := verto.DecodeParams(req.params, &p); err != nil {
		return nil, err
	}
	res := s.srv.hub.unsubscribe(s, p.EventChannel)
	if len(res.UnsubscribedChannels) == 0 {
		return nil, res.AsError()
	}
	return res, nil
}

// handleBroadcast takes a client's event for a channel: a conference's
// live array (bootstrap), chat (send) or moderator channel (conf-control).
// As in Verto, the reply is a result even on refusal.
func (s *Session) handleBroadcast(req *request) (any, *verto.Error) {
	var p verto.BroadcastParams
	if err := verto.DecodeParams(req.params, &p); err != nil {
		return nil, err
	}
	if p.EventChannel == "" {
		return broadcastRefusal{Message: "eventChannel not specified.", Code: verto.CodeSessionError}, nil
	}
	if !s.mayReceive(p.EventChannel) {
		return broadcastRefusal{Message: "Permission Denied.", Code: verto.CodeSessionError}, nil
	}
	s.conferenceBroadcast(p.EventChannel, p.Data)
	return struct{}{}, nil
}

type broadcastRefusal struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
}
