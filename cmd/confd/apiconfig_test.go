package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOperatorsConfig: api and webhooks are read from the file; a short
// key, a webhook without a secret or an unknown event type stop confd at
// load, with an error that shows neither key nor secret.
func TestOperatorsConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, path, `
listen: {http: "127.0.0.1:0"}
api:
  keys: [{name: ops, key: "0123456789abcdef0123"}]
  max_body_bytes: 8192
  max_rooms: 5
  max_event_streams: 4
  event_buffer: 64
webhooks:
  - url: https://hooks.example.org/confd
    secret: whsec-1
    events: [participant_joined, chat]
    queue: 10
    retry_for: 1m
    backoff: 2s
    timeout: 3s
`)
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.API.Keys) != 1 || c.API.Keys[0].Name != "ops" || c.API.MaxRooms != 5 || c.API.EventBuffer != 64 {
		t.Errorf("api %+v", c.API)
	}
	w := c.Webhooks[0]
	if w.URL != "https://hooks.example.org/confd" || len(w.Events) != 2 || w.Queue != 10 || w.RetryFor != time.Minute || w.Backoff != 2*time.Second || w.Timeout != 3*time.Second {
		t.Errorf("webhook %+v", w)
	}
	for name, mutate := range map[string]func(*Config){
		"a short key":          func(c *Config) { c.API.Keys[0].Key = "short-secret" },
		"a webhook, no secret": func(c *Config) { c.Webhooks[0].Secret = "" },
		"an unknown event":     func(c *Config) { c.Webhooks[0].Events = []string{"participantJoined"} },
		"a bad url":            func(c *Config) { c.Webhooks[0].URL = "hooks.example.org" },
	} {
		bad := c
		bad.API.Keys = append([]APIKeyConfig(nil), c.API.Keys...)
		bad.Webhooks = append([]WebhookConfig(nil), c.Webhooks...)
		mutate(&bad)
		err := bad.validate()
		if err == nil {
			t.Errorf("%s: the config is accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "short-secret") || strings.Contains(err.Error(), "whsec") {
			t.Errorf("%s: the error shows a secret: %v", name, err)
		}
	}
}

// TestREADMEOperatorsConfig: the README's api and webhooks example loads.
func TestREADMEOperatorsConfig(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Operators' API")
	_, block, ok2 := strings.Cut(section, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("no yaml example in the README's Operators' API section")
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, path, block)
	c, err := loadConfig(path)
	if err != nil {
		t.Fatalf("the README's example: %v", err)
	}
	if len(c.API.Keys) != 1 || len(c.Webhooks) != 1 {
		t.Errorf("api %+v, webhooks %+v", c.API, c.Webhooks)
	}
}
