package verto

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// Regenerate with: go test ./signalling/verto/ -run TestGolden -args -update
var update = flag.Bool("update", false, "rewrite testdata/golden/*.json from the current encoders")

// Values from the examples of verto-spec.md, so that the golden files can be
// read side by side with the spec.
const (
	specSessid = "S"
	specCallID = "c6f…"
	specSDP    = "v=0\r\n…"
	specLA     = "conference-liveArray.3500@example.com"
	specChat   = "conference-chat.3500@example.com"
	specInfo   = "conference-info.3500@example.com"
	specMod    = "conference-mod.3500@example.com"
	swUUID     = "5e0ad3a4-3c5e-4d0a-9a3b-6f1c2d3e4f50"
)

func intPtr(n int) *int { return &n }

// goldenCases maps each golden file name to the frame it must hold.
var goldenCases = []struct {
	name   string
	encode func() ([]byte, error)
}{
	// §3.2 login
	{"login_auth_required", func() ([]byte, error) {
		return EncodeError(json.RawMessage(`2`), NewError(CodeAuthRequired, MsgAuthRequired))
	}},
	{"login_result", func() ([]byte, error) {
		return EncodeResult(json.RawMessage(`3`), MessageResult{Message: MsgLoggedIn}, specSessid)
	}},
	{"login_result_moderator", func() ([]byte, error) {
		r := LoginResult{Message: MsgLoggedIn, AuthExpires: 1767229200, Moderator: true, StereoAudio: true}
		return EncodeResult(json.RawMessage(`3`), r, specSessid)
	}},
	{"login_auth_failed_string_id", func() ([]byte, error) {
		return EncodeError(json.RawMessage(`"`+swUUID+`"`), NewError(CodeAuthFailed, MsgAuthFailure))
	}},
	{"parse_error_null_id", func() ([]byte, error) {
		return EncodeError(nil, NewError(CodeParseError, MsgParseError))
	}},
	// §3.2 step 5, §6, §7
	{"client_ready", func() ([]byte, error) {
		return EncodeRequest(41, MethodClientReady, ClientReady{})
	}},
	{"client_ready_reattached", func() ([]byte, error) {
		return EncodeRequest(91, MethodClientReady, ClientReady{ReattachedSessions: []string{specCallID}})
	}},
	{"punt", func() ([]byte, error) { return EncodeRequest(42, MethodPunt, Punt{}) }},
	{"attach_offer", func() ([]byte, error) {
		return EncodeRequest(90, MethodAttach, AttachOffer{
			CallID: specCallID, SDP: "v=0…", CallerIDName: "Alice", CallerIDNumber: "1000",
			CalleeIDName: "…", CalleeIDNumber: "…", DisplayDirection: "inbound",
		})
	}},
	// §4 keepalive
	{"ping", func() ([]byte, error) { return EncodeRequest(57, MethodPing, Ping{Serno: 1767225600}) }},
	{"pong_result", func() ([]byte, error) {
		return EncodeResult(json.RawMessage(`9`), MessageResult{Message: MsgPong}, specSessid)
	}},
	{"echo_result_keeps_sessid", func() ([]byte, error) {
		return EncodeResult(json.RawMessage(`4`), json.RawMessage(`{"sessid":"S","x":1}`), "other")
	}},
	// §5 calls
	{"invite_result", func() ([]byte, error) {
		return EncodeResult(json.RawMessage(`5`), NewInviteResult(specCallID), specSessid)
	}},
	{"invite_result_string_id", func() ([]byte, error) {
		return EncodeResult(json.RawMessage(`"`+swUUID+`"`), NewInviteResult(specCallID), specSessid)
	}},
	{"invite_error_callid_missing", func() ([]byte, error) {
		return EncodeError(json.RawMessage(`5`), (&InviteParams{DialogParams: &DialogParams{}}).Validate())
	}},
	{"verto_answer", func() ([]byte, error) {
		return EncodeRequest(60, MethodAnswer, AnswerEvent{CallID: specCallID, SDP: specSDP})
	}},
	{"verto_media", func() ([]byte, error) {
		return EncodeRequest(59, MethodMedia, AnswerEvent{CallID: specCallID, SDP: specSDP})
	}},
	{"verto_media_variables", func() ([]byte, error) {
		vars := map[string]any{"verto_svar_room": "3500", "verto_svar_hd": "true"}
		return EncodeRequest(59, MethodMedia, AnswerEvent{CallID: specCallID, SDP: specSDP, Variables: vars})
	}},
	{"verto_answer_after_media", func() ([]byte, error) {
		return EncodeRequest(60, MethodAnswer, AnswerEvent{CallID: specCallID})
	}},
	{"verto_display", func() ([]byte, error) {
		return EncodeRequest(61, MethodDisplay, DisplayEvent{
			CallID: specCallID, DisplayName: "FreeSWITCH Conference", DisplayNumber: "3500",
			CallerIDName: "Alice", CallerIDNumber: "1000", CalleeIDName: "…", CalleeIDNumber: "…",
			DisplayDirection: "inbound",
		})
	}},
	{"verto_bye_s2c", func() ([]byte, error) {
		return EncodeRequest(62, MethodBye, NewByeEvent(specCallID, CauseNormalClearing))
	}},
	{"verto_bye_result", func() ([]byte, error) {
		return EncodeResult(json.RawMessage(`7`), NewByeResult(specCallID, CauseNormalClearing), specSessid)
	}},
	{"verto_bye_unknown_call", func() ([]byte, error) {
		e := NewError(CodeSessionError, MsgCallNotExist).WithField("callID", specCallID)
		return EncodeError(json.RawMessage(`8`), e)
	}},
	{"info_result", func() ([]byte, error) {
		return EncodeResult(json.RawMessage(`10`), MessageResult{Message: MsgSent}, specSessid)
	}},
	{"info_result_unknown_call", func() ([]byte, error) {
		return EncodeResult(json.RawMessage(`11`), nil, specSessid)
	}},
	{"info_error_invalid_message", func() ([]byte, error) {
		return EncodeError(json.RawMessage(`11`), &Error{Message: "INVALID MESSAGE to and body params required"})
	}},
	{"verto_info_s2c", func() ([]byte, error) {
		msg := InfoMsg{From: "1001@example.com", To: "1000@example.com", Body: "hi"}
		return EncodeRequest(63, MethodInfo, InfoEvent{Msg: msg})
	}},
	{"modify_result_hold", func() ([]byte, error) {
		r := ModifyResult{CallID: specCallID, Action: ActionHold, HoldState: HoldStateHeld}
		return EncodeResult(json.RawMessage(`13`), r, specSessid)
	}},
	{"modify_result_update_media", func() ([]byte, error) {
		r := ModifyResult{CallID: specCallID, Action: ActionUpdateMedia, HoldState: HoldStateActive, SDP: specSDP}
		return EncodeResult(json.RawMessage(`14`), r, specSessid)
	}},
	// §8 event channels
	{"subscribe_result", func() ([]byte, error) {
		r := SubscribeResult{SubscribedChannels: []string{specLA}}
		return EncodeResult(json.RawMessage(`12`), r, specSessid)
	}},
	{"subscribe_result_partial", func() ([]byte, error) {
		r := SubscribeResult{SubscribedChannels: []string{specChat}, UnauthorizedChannels: []string{specMod}}
		return EncodeResult(json.RawMessage(`"`+swUUID+`"`), r, specSessid)
	}},
	{"subscribe_error_already", func() ([]byte, error) {
		r := SubscribeResult{AlreadySubscribedChannels: []string{specLA}}
		return EncodeError(json.RawMessage(`15`), r.AsError())
	}},
	{"subscribe_error_no_channel", func() ([]byte, error) {
		return EncodeError(json.RawMessage(`16`), SubscribeResult{}.AsError())
	}},
	{"unsubscribe_result", func() ([]byte, error) {
		r := UnsubscribeResult{UnsubscribedChannels: []string{specChat}}
		return EncodeResult(json.RawMessage(`17`), r, specSessid)
	}},
	{"unsubscribe_error", func() ([]byte, error) {
		r := UnsubscribeResult{NotSubscribedChannels: []string{specChat}}
		return EncodeError(json.RawMessage(`18`), r.AsError())
	}},
	{"event_pvtdata", func() ([]byte, error) {
		return EncodeRequest(95, MethodEvent, Event{
			EventChannel: specSessid, EventType: EventTypePvtData, PvtData: PvtData{
				CallID: specCallID, Action: PvtActionJoin, LaChannel: specLA, LaName: "3500",
				Role: "participant", ChatID: "conf+3500@example.com", ConferenceMemberID: "7",
				CanvasCount: 1, ChatChannel: specChat, InfoChannel: specInfo,
			},
		})
	}},
	{"event_pvtdata_moderator", func() ([]byte, error) {
		return EncodeRequest(96, MethodEvent, Event{
			EventChannel: specSessid, EventType: EventTypePvtData, PvtData: PvtData{
				CallID: specCallID, Action: PvtActionJoin, LaChannel: specLA, LaName: "3500",
				Role: "moderator", ChatID: "conf+3500@example.com", ConferenceMemberID: "7",
				CanvasCount: 1, ChatChannel: specChat, InfoChannel: specInfo, ModChannel: specMod,
			},
		})
	}},
	{"event_chat", func() ([]byte, error) {
		data := json.RawMessage(`{"direction":"outbound","message":"hello","fromDisplay":"Alice","from":"1000@example.com","type":"message"}`)
		return EncodeRequest(77, MethodEvent, Event{
			EventChannel: specChat, Data: data, EventSerno: intPtr(3), SubscribedChannel: specChat,
		})
	}},
	{"event_serno_zero", func() ([]byte, error) {
		data := json.RawMessage(`{"action":"response","error":"Invalid Command"}`)
		return EncodeRequest(78, MethodEvent, Event{
			EventChannel: specMod, Data: data, EventSerno: intPtr(0), SubscribedChannel: specMod,
		})
	}},
	{"event_bootobj_direct", func() ([]byte, error) {
		data := json.RawMessage(`{"action":"bootObj","name":"3500","wireSerno":-1,"data":[]}`)
		return EncodeRequest(101, MethodEvent, Event{EventChannel: specLA, Data: data, Sessid: specSessid})
	}},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.encode()
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			checkGolden(t, filepath.Join("testdata", "golden", tc.name+".json"), got)
		})
	}
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("frame differs from %s\n got: %s\nwant: %s", path, got, want)
	}
}

// TestGoldenFilesHaveCases fails on golden files that no case produces, so
// that a renamed case cannot leave a stale file behind.
func TestGoldenFilesHaveCases(t *testing.T) {
	names := make(map[string]bool)
	for _, tc := range goldenCases {
		names[tc.name+".json"] = true
	}
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !names[filepath.Base(f)] {
			t.Errorf("%s has no golden case", f)
		}
	}
}
