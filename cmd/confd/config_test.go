package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/confd/confd/room"
)

func TestDefaultsNeedNoFile(t *testing.T) {
	c, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen.HTTPS != ":8443" || c.Listen.HTTP != "127.0.0.1:8080" {
		t.Errorf("listen = %+v, want :8443 and 127.0.0.1:8080", c.Listen)
	}
	if len(c.Rooms) != 1 || c.Rooms[0].Number != "3500" {
		t.Errorf("rooms = %+v, want the default room 3500", c.Rooms)
	}
	if vc := c.vertoConfig(); !vc.AllowGuests {
		t.Error("the default room must be open to guests")
	}
}

func TestConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, path, `
verto:
  domain: example.org
  attach_window: 30s
users:
  - {login: "1000", password: "secret", name: Alice, role: moderator}
rooms:
  - {number: "4000", name: Board, pin: "1234", max_members: 5, tones: always}
webrtc:
  public_ips: [203.0.113.7]
  udp_port_min: 20000
  udp_port_max: 20100
  ice_servers:
    - urls: ["turn:turn.example.org:3478"]
      username: u
      credential: p
`)
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	vc := c.vertoConfig()
	if vc.Domain != "example.org" || vc.AttachWindow.Seconds() != 30 || len(vc.Users) != 1 || vc.Users[0].Role.String() != "moderator" {
		t.Errorf("verto config = %+v", vc)
	}
	if rc := c.roomConfigs(); len(rc) != 2 || rc[0].Number != "4000" || rc[0].MaxMembers != 5 || rc[0].Tones != room.TonesAlways || !rc[1].Echo {
		t.Errorf("rooms = %+v", rc)
	}
	if mc := c.mediaConfig(); len(mc.PublicIPs) != 1 || mc.UDPPortMin != 20000 || !mc.IncludeLoopback {
		t.Errorf("media config = %+v", mc)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, body := range map[string]string{
		"unknown key":          "listne:\n  http: x\n",
		"user without secret":  "users:\n  - {login: a}\n",
		"bad role":             "users:\n  - {login: a, password: b, role: admin}\n",
		"cert without key":     "tls:\n  cert: a.pem\n",
		"not yaml":             "rooms: [",
		"wrong type for a key": "verto:\n  message_rate: fast\n",
		"bad metrics network":  "metrics:\n  allow: [10.0.0.0/40]\n",
		"unknown tones":        "rooms:\n  - {number: \"3500\", tones: sometimes}\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			writeFile(t, path, body)
			if _, err := loadConfig(path); err == nil {
				t.Fatalf("loadConfig accepted %q", body)
			}
		})
	}
}

func TestSelfSignedCertificateIsMadeOnceAndKept(t *testing.T) {
	c := Config{DataDir: t.TempDir()}
	first, fresh, err := certificate(&c)
	if err != nil || !fresh {
		t.Fatalf("first start: fresh=%v err=%v", fresh, err)
	}
	second, fresh, err := certificate(&c)
	if err != nil || fresh {
		t.Fatalf("second start: fresh=%v err=%v", fresh, err)
	}
	if !bytes.Equal(first.Certificate[0], second.Certificate[0]) {
		t.Error("the certificate changed between starts")
	}
}
