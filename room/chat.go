package room

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// ChatMessage is one message of a room's chat.
type ChatMessage struct {
	From        string // the sender's identity (login@domain, or a phone's masked number)
	FromDisplay string // the sender's display name
	Message     string
	Type        string // "message" unless the client says otherwise
}

// Chat limits: a message is bounded so a client cannot flood every member's
// socket, and late joiners get the last few messages.
const (
	MaxChatBytes   = 4096
	ChatHistoryLen = 50
)

// ErrChatTooLong means a message over MaxChatBytes.
var ErrChatTooLong = errors.New("chat message too long")

// Say posts a chat message from the member to everyone in the room.
func (r *Room) Say(p *Participant, msg ChatMessage) error {
	return r.post(p, msg)
}

// Post posts a chat message from no member (the system: an operator's
// message) to everyone in the room.
func (r *Room) Post(msg ChatMessage) error {
	return r.post(nil, msg)
}

func (r *Room) post(p *Participant, msg ChatMessage) error {
	if err := checkChat(msg.Message); err != nil {
		return err
	}
	if msg.Type == "" {
		msg.Type = "message"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case p != nil && p.left:
		return ErrNotInRoom
	case p == nil && r.closed:
		return ErrRoomClosed
	}
	r.chat = append(r.chat, msg)
	if len(r.chat) > ChatHistoryLen {
		r.chat = append(r.chat[:0], r.chat[len(r.chat)-ChatHistoryLen:]...)
	}
	if r.obs != nil {
		r.obs.Chat(r, msg)
	}
	r.reportLocked(Activity{Kind: ChatPosted, Member: refOf(p), Chat: msg})
	return nil
}

// ErrChatEmpty means a message that is empty, only spaces, or not UTF-8.
var ErrChatEmpty = errors.New("chat message is empty or not UTF-8")

// checkChat says whether text may be posted.
func checkChat(text string) error {
	if len(text) > MaxChatBytes {
		return ErrChatTooLong
	}
	if !utf8.ValidString(text) || strings.TrimSpace(text) == "" {
		return ErrChatEmpty
	}
	return nil
}

// ChatHistory calls f with the recent messages, oldest first, under the
// room's lock: messages after them go to the observer after f returns.
func (r *Room) ChatHistory(f func([]ChatMessage)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.chat)
}
