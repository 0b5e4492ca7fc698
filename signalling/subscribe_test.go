package signalling

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// eventParams is the params of a verto.event delivered on a subscription.
type eventParams struct {
	EventChannel      string          `json:"eventChannel"`
	Data              json.RawMessage `json:"data"`
	EventSerno        *int            `json:"eventSerno"`
	SubscribedChannel string          `json:"subscribedChannel"`
}

// TestSubscribeResultBeforeEvents: while the hub publishes on a live array
// channel in a tight loop, a member subscribes to it; the subscribe result
// must come before the first event on the channel, and the events are
// numbered from 0 by 1. Channel permissions, double subscriptions and
// unsubscribing are checked too.
func TestSubscribeResultBeforeEvents(t *testing.T) {
	env := startServer(t, nil)
	ctx := testCtx(t, 30*time.Second)
	la := "conference-liveArray.3500@" + testDomain
	chat := "conference-chat.3500@" + testDomain
	mod := "conference-mod.3500@" + testDomain
	info := "conference-info.3500@" + testDomain

	member := dialRaw(ctx, t, env.url, "sessid-member")
	member.login(ctx, userLogin, userPasswd)
	call := member.invite(ctx, "3500", 1)

	// Publish until this many events have gone to the subscriber: fewer
	// than the session's outbound queue holds, so a slow reader is not
	// disconnected.
	const delivered = 300
	sess := sessionOf(env.srv, "sessid-member")
	stop := make(chan struct{})
	published := make(chan int, 1)
	go func() {
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			env.srv.hub.publish(la, map[string]any{"n": n})
			env.srv.hub.mu.Lock()
			serno := -1
			if p := env.srv.hub.subs[la][sess]; p != nil {
				serno = *p
			}
			env.srv.hub.mu.Unlock()
			if serno >= delivered {
				published <- serno
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop) })

	id := member.send("verto.subscribe", map[string]any{"eventChannel": la, "subParams": map[string]any{"callID": call.id}})
	gotResult := false
	next, lastN := 0, -1
	for next < delivered {
		f := member.next(ctx)
		switch {
		case f.isResponse():
			if string(f.ID) != string(id) {
				t.Fatalf("unexpected reply %s", f)
			}
			jsonEq(t, "subscribe result", f.Result, fmt.Sprintf(`{"subscribedChannels":[%q],"sessid":"sessid-member"}`, la))
			gotResult = true
		case f.Method == "verto.event":
			var p eventParams
			if err := json.Unmarshal(f.Params, &p); err != nil {
				t.Fatal(err)
			}
			if p.EventChannel != la {
				continue // e.g. confd.slots
			}
			if !gotResult {
				t.Fatalf("event before the subscribe result: %s", f)
			}
			if p.EventSerno == nil || *p.EventSerno != next || p.SubscribedChannel != la {
				t.Fatalf("event %d: eventSerno %v, subscribedChannel %q: %s", next, p.EventSerno, p.SubscribedChannel, f)
			}
			var d struct{ N int }
			if err := json.Unmarshal(p.Data, &d); err != nil || d.N <= lastN {
				t.Fatalf("event %d: data %s after n=%d", next, p.Data, lastN)
			}
			lastN = d.N
			next++
		}
	}
	select {
	case n := <-published:
		if n != delivered {
			t.Fatalf("publisher stopped after %d", n)
		}
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}

	// Subscribing again: nothing new, so an error without a code.
	jsonEq(t, "second subscribe", member.failure(ctx, "verto.subscribe", map[string]any{"eventChannel": la}),
		fmt.Sprintf(`{"alreadySubscribedChannels":[%q]}`, la))
	// A mix: a result listing each kind. The mod channel is moderators' only.
	res := member.result(ctx, "verto.subscribe", map[string]any{"eventChannel": []string{la, chat, info, mod, "conference-liveArray.3600@" + testDomain}})
	jsonEq(t, "mixed subscribe", res, fmt.Sprintf(`{"subscribedChannels":[%q,%q],"unauthorizedChannels":[%q,%q],"alreadySubscribedChannels":[%q],"sessid":"sessid-member"}`,
		chat, info, mod, "conference-liveArray.3600@"+testDomain, la))
	jsonEq(t, "mod channel", member.failure(ctx, "verto.subscribe", map[string]any{"eventChannel": mod}), fmt.Sprintf(`{"unauthorizedChannels":[%q]}`, mod))
	// A channel named by one's own call is allowed.
	jsonEq(t, "own call channel", member.result(ctx, "verto.subscribe", map[string]any{"eventChannel": call.id}),
		fmt.Sprintf(`{"subscribedChannels":[%q],"sessid":"sessid-member"}`, call.id))

	// Unsubscribe: the result lists the channel and no event follows.
	jsonEq(t, "unsubscribe", member.result(ctx, "verto.unsubscribe", map[string]any{"eventChannel": la}),
		fmt.Sprintf(`{"unsubscribedChannels":[%q],"sessid":"sessid-member"}`, la))
	env.srv.hub.publish(la, map[string]any{"n": -1})
	env.srv.hub.publish(chat, map[string]any{"chat": true})
	echo := member.send("echo", map[string]any{"after": "unsubscribe"})
	for {
		f := member.next(ctx)
		if f.isResponse() {
			if string(f.ID) != string(echo) {
				t.Fatalf("unexpected reply %s", f)
			}
			break
		}
		var p eventParams
		_ = json.Unmarshal(f.Params, &p)
		switch {
		case f.Method != "verto.event":
		case p.EventChannel == la:
			t.Fatalf("event after unsubscribe: %s", f)
		case p.EventChannel == chat:
			if p.EventSerno == nil || *p.EventSerno != 0 || p.SubscribedChannel != chat {
				t.Fatalf("chat event: %s", f)
			}
		}
	}
	jsonEq(t, "unsubscribe again", member.failure(ctx, "verto.unsubscribe", map[string]any{"eventChannel": la}),
		fmt.Sprintf(`{"notSubscribedChannels":[%q]}`, la))

	// A session with no call in the room is refused every channel of it.
	outsider := dialRaw(ctx, t, env.url, "sessid-outsider")
	outsider.login(ctx, modLogin, modPasswd)
	jsonEq(t, "outsider", outsider.failure(ctx, "verto.subscribe", map[string]any{"eventChannel": []string{la, mod}}),
		fmt.Sprintf(`{"unauthorizedChannels":[%q,%q]}`, la, mod))
	// Once the moderator has a call in the room, the mod channel is allowed.
	outsider.invite(ctx, "3500", 0)
	jsonEq(t, "moderator", outsider.result(ctx, "verto.subscribe", map[string]any{"eventChannel": []string{la, mod}}),
		fmt.Sprintf(`{"subscribedChannels":[%q,%q],"sessid":"sessid-outsider"}`, la, mod))
	// Another member's call is not one's own channel.
	jsonEq(t, "other's call", outsider.failure(ctx, "verto.subscribe", map[string]any{"eventChannel": call.id}),
		fmt.Sprintf(`{"unauthorizedChannels":[%q]}`, call.id))
}

// sessionOf is the logged-in session holding sessid, or nil.
func sessionOf(srv *Server, sessid string) *Session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.sessions[sessid]
}
