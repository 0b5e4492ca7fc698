package signalling

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/verto"
)

// conferenceBroadcast routes a client's broadcast on one of its rooms'
// channels to the live array, the chat or the moderator commands.
func (s *Session) conferenceBroadcast(channel string, data json.RawMessage) {
	c, conf, prefix := s.channelRoom(channel)
	if c == nil {
		return
	}
	switch prefix {
	case chanLiveArray:
		s.liveArrayCommand(conf, data)
	case chanChat:
		s.chatSend(c, data)
	case chanMod:
		s.modCommand(c, conf, data)
	}
}

// liveArrayCommand answers a bootstrap with bootObj, to the requester only
// (verto-spec §9.3). The snapshot is taken and queued under the room's
// lock, the same lock under which row events are numbered and queued, so
// the client's list and the events after it fit together.
func (s *Session) liveArrayCommand(conf *conference, data json.RawMessage) {
	var d struct {
		LiveArray struct {
			Command string `json:"command"`
		} `json:"liveArray"`
	}
	if json.Unmarshal(data, &d) != nil || d.LiveArray.Command != "bootstrap" {
		return // changepage, heartbeat: nothing to do, as in FreeSWITCH
	}
	conf.room.Snapshot(func(rows []room.Row) {
		pairs := make([][2]any, len(rows))
		for i, r := range rows {
			pairs[i] = [2]any{r.Key, rowJSON(r)}
		}
		boot := liveArrayEvent{Action: "bootObj", Name: conf.name, WireSerno: -1, Data: pairs}
		s.request(verto.MethodEvent, verto.Event{EventChannel: conf.la, Data: boot, Sessid: s.sessid})
	})
}

// chatSend posts a chat message from the call's member.
func (s *Session) chatSend(c *Call, data json.RawMessage) {
	var d struct {
		Action  string `json:"action"`
		Message string `json:"message"`
		Type    string `json:"type"`
	}
	if json.Unmarshal(data, &d) != nil || d.Action != "send" {
		return
	}
	msg := room.ChatMessage{From: s.user.Login + "@" + s.srv.cfg.Domain, FromDisplay: c.part().Info.Name, Message: d.Message, Type: d.Type}
	if err := c.room().Say(c.part(), msg); err != nil {
		s.log.Debug("chat refused")
	}
}

// modRequest is a conf-control command (verto-spec §9.7).
type modRequest struct {
	Application string          `json:"application"`
	Command     string          `json:"command"`
	ID          json.RawMessage `json:"id"`
	Value       json.RawMessage `json:"value"`
}

// modResponse goes to every subscriber of the moderator channel.
type modResponse struct {
	Action       string `json:"action"`
	ConfCommand  string `json:"conf-command,omitempty"`
	Response     string `json:"response,omitempty"`
	ResponseData any    `json:"responseData,omitempty"`
	Error        string `json:"error,omitempty"`
}

// modCommand runs a moderator command. The channel is refused to
// participants when they subscribe or broadcast, and room.Run checks the
// role again: knowing the channel name is not enough.
func (s *Session) modCommand(c *Call, conf *conference, data json.RawMessage) {
	var d modRequest
	if json.Unmarshal(data, &d) != nil {
		s.srv.hub.publish(conf.mod, modResponse{Action: "response", Error: "Invalid Command"})
		return
	}
	switch d.Command {
	case "list-videoLayouts", "canvasInfo":
		// confd lays out tiles in the client; it has no server canvases.
		s.srv.hub.publish(conf.mod, modResponse{Action: "response", ConfCommand: d.Command, Response: "OK", ResponseData: []any{}})
		return
	}
	cmd := room.Command{Name: d.Command, Target: parseMemberID(d.ID), Value: firstString(d.Value)}
	resp, err := c.room().Run(c.part(), cmd)
	if err != nil {
		s.srv.hub.publish(conf.mod, modResponse{Action: "response", Error: modError(err)})
		return
	}
	apiCmd := strings.TrimSpace(fmt.Sprintf("%s %s %d", conf.name, d.Command, cmd.Target))
	s.srv.hub.publish(conf.mod, modResponse{Action: "response", ConfCommand: apiCmd, Response: resp})
}

func modError(err error) string {
	if errors.Is(err, room.ErrBadCommand) {
		return "Invalid Command"
	}
	return err.Error()
}

// parseMemberID reads a member ID sent as a number or a string of digits.
func parseMemberID(raw json.RawMessage) int {
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return n
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(str))
	}
	return n
}

// firstString reads a value sent as a string, an array of strings (its
// first element) or null.
func firstString(raw json.RawMessage) string {
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str
	}
	var list []any
	if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
		if s, ok := list[0].(string); ok {
			return s
		}
	}
	return ""
}

// browserDTMF are the digits Verto Communicator sends for its own buttons:
// 0 toggles the microphone, *0 the camera; confd adds *1 for the hand.
func (c *Call) browserDTMF(digits string) bool {
	switch digits {
	case "0":
		_ = c.room().SelfMute(c.part(), !c.part().Muted())
	case "*0":
		c.room().SelfVideoMute(c.part(), !c.part().Row().VideoMuted)
	case "*1":
		c.room().RaiseHand(c.part(), !c.part().HandRaised())
	default:
		return false
	}
	return true
}

// chatHistoryChannel names confd's chat history event (docs/protocol.md).
const chatHistoryChannel = "confd.chat.history"

// sendChatHistory gives a new chat subscriber the room's recent messages,
// oldest first, in one event after its subscribe result. Plain Verto
// clients drop it: it is on a channel they did not subscribe to.
func (s *Session) sendChatHistory(conf *conference) {
	conf.room.ChatHistory(func(msgs []room.ChatMessage) {
		if len(msgs) == 0 {
			return
		}
		out := make([]chatEvent, len(msgs))
		for i, m := range msgs {
			out[i] = chatEvent{Direction: "outbound", Message: m.Message, FromDisplay: m.FromDisplay, From: m.From, Type: m.Type}
		}
		data := map[string]any{"chatChannel": conf.chat, "messages": out}
		s.request(verto.MethodEvent, verto.Event{EventChannel: chatHistoryChannel, EventType: chatHistoryChannel, Data: data, Sessid: s.sessid})
	})
}
