package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/confd/confd/peer"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling"
)

// Config is confd's configuration file. Every key is optional; see the
// README for the reference.
type Config struct {
	Listen   ListenConfig  `yaml:"listen"`
	TLS      TLSConfig     `yaml:"tls"`
	DataDir  string        `yaml:"data_dir"`
	Log      LogConfig     `yaml:"log"`
	Verto    VertoConfig   `yaml:"verto"`
	WebRTC   WebRTCConfig  `yaml:"webrtc"`
	Users    []UserConfig  `yaml:"users"`
	Rooms    []RoomConfig  `yaml:"rooms"`
	SIP      SIPConfig     `yaml:"sip"`
	Web      WebConfig     `yaml:"web"`
	Metrics  MetricsConfig `yaml:"metrics"`
	Shutdown time.Duration `yaml:"shutdown_timeout"`

	// The operators' interfaces (api.go).
	API      APIConfig       `yaml:"api"`
	Webhooks []WebhookConfig `yaml:"webhooks"`

	// The built-in TURN server (oneport.go).
	TURN *TURNConfig `yaml:"turn"`

	// Broadcasters and audiences (whip.go).
	WHIP WHIPConfig `yaml:"whip"`

	// Recording and the echo test (recording.go).
	Recording RecordingConfig `yaml:"recording"`
	Echo      EchoConfig      `yaml:"echo"`

	// Diagnostics, off by default (debug.go).
	Debug DebugConfig `yaml:"debug"`

	// Several nodes sharing the rooms (cluster.go).
	Cluster ClusterConfig `yaml:"cluster"`
}

// WebConfig is the web client.
type WebConfig struct {
	// EmbedOrigins are the sites allowed to frame /embed/<room> (CSP
	// frame-ancestors), as origins "https://site.example"; "*": any.
	EmbedOrigins []string `yaml:"embed_origins"`
	// PublicOrigin is the origin browsers load confd's page from when a
	// reverse proxy serves it ("https://confd.example.org"); the
	// websocket's origin check admits it. TrustedProxies are the proxies'
	// networks whose X-Forwarded-Host (or Forwarded host=) is believed.
	PublicOrigin   string   `yaml:"public_origin"`
	TrustedProxies []string `yaml:"trusted_proxies"`
	// The HTTPS port's limits on connections being sorted (netmux): the
	// time for the first bytes and the TLS handshake, and how many at once
	// in all and from one address.
	HandshakeTimeout   time.Duration `yaml:"handshake_timeout"`
	MaxHandshakes      int           `yaml:"max_handshakes"`
	MaxHandshakesPerIP int           `yaml:"max_handshakes_per_ip"`
}

// ListenConfig holds the listen addresses ("" disables one). SIP's are
// here too, so that a file naming its own listeners (as the tests do)
// opens no SIP port it did not ask for.
type ListenConfig struct {
	HTTPS  string `yaml:"https"`
	HTTP   string `yaml:"http"`
	SIPUDP string `yaml:"sip_udp"`
	SIPTCP string `yaml:"sip_tcp"`
	SIPTLS string `yaml:"sip_tls"` // used only with a certificate
}

// TLSConfig names a certificate; empty means a self-signed one in DataDir.
type TLSConfig struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// LogConfig sets the log level (debug, info, warn, error) and format (console, json).
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// VertoConfig is the Verto endpoint.
type VertoConfig struct {
	Domain          string        `yaml:"domain"`
	AllowGuests     *bool         `yaml:"allow_guests"`
	TokenSecret     string        `yaml:"token_secret"`
	AllowedOrigins  []string      `yaml:"allowed_origins"`
	MaxMessageBytes int           `yaml:"max_message_bytes"`
	MessageRate     float64       `yaml:"message_rate"`
	MessageBurst    int           `yaml:"message_burst"`
	AttachWindow    time.Duration `yaml:"attach_window"`
	PingInterval    time.Duration `yaml:"ping_interval"`
	WriteTimeout    time.Duration `yaml:"write_timeout"`
	// ReleaseMemoryAfter: see signalling.Config.MemoryRelease; negative
	// turns it off.
	ReleaseMemoryAfter time.Duration `yaml:"release_memory_after"`
	// MaxNameLength, MaxIDBytes and MaxUserVariablesBytes bound what a
	// client stores (docs/protocol.md, Limits); 0 is the default.
	MaxNameLength         int `yaml:"max_name_length"`
	MaxIDBytes            int `yaml:"max_id_bytes"`
	MaxUserVariablesBytes int `yaml:"max_user_variables_bytes"`
}

// WebRTCConfig is how browsers' media reaches confd.
type WebRTCConfig struct {
	PublicIPs       []string          `yaml:"public_ips"`
	PublicIPsMode   string            `yaml:"public_ips_mode"` // srflx (default) or replace
	UDPPortMin      uint16            `yaml:"udp_port_min"`
	UDPPortMax      uint16            `yaml:"udp_port_max"`
	UDPMux          string            `yaml:"udp_mux"`
	ICETCP          string            `yaml:"ice_tcp"`
	IncludeLoopback *bool             `yaml:"include_loopback"`
	LoopbackOnly    bool              `yaml:"loopback_only"`
	ICEServers      []ICEServerConfig `yaml:"ice_servers"`
	// ICEDisconnected and ICEFailed: how long a browser's media may be
	// silent before its connection counts as disconnected, then failed
	// (the call is hung up).
	ICEDisconnected time.Duration `yaml:"ice_disconnected_timeout"`
	ICEFailed       time.Duration `yaml:"ice_failed_timeout"`
}

// ICEServerConfig is a STUN or TURN server handed to browsers.
type ICEServerConfig struct {
	URLs       []string `yaml:"urls" json:"urls"`
	Username   string   `yaml:"username" json:"username,omitempty"`
	Credential string   `yaml:"credential" json:"credential,omitempty"`
}

// UserConfig is an account.
type UserConfig struct {
	Login    string `yaml:"login"`
	Password string `yaml:"password"`
	Name     string `yaml:"name"`
	Role     string `yaml:"role"`
}

// RoomConfig is a room.
type RoomConfig struct {
	Number       string `yaml:"number"`
	Name         string `yaml:"name"`
	PIN          string `yaml:"pin"`
	ModeratorPIN string `yaml:"moderator_pin"`
	MaxMembers   int    `yaml:"max_members"`
	Speakers     int    `yaml:"speakers"`
	RequireToken bool   `yaml:"require_token"`
	Present      string `yaml:"present"`
	Lobby        bool   `yaml:"lobby"`
	Tones        string `yaml:"tones"`  // phones (default), always or never
	Record       bool   `yaml:"record"` // record every meeting (needs recording.dir)
	// StreamKey lets a WHIP broadcaster publish with it as its bearer token.
	StreamKey string `yaml:"stream_key"`
	// WHEP: who may watch over WHEP: token (default), open or off.
	WHEP string `yaml:"whep"`
}

// loadConfig reads path (none: every default). Unknown keys are errors, so
// a typo does not silently fall back to a default.
func loadConfig(path string) (Config, error) {
	var c Config
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return c, err
		}
		defer f.Close()
		dec := yaml.NewDecoder(f)
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("%s: %w", path, err)
		}
	}
	c.defaults()
	return c, c.validate()
}

func (c *Config) defaults() {
	if c.Listen == (ListenConfig{}) {
		c.Listen = ListenConfig{HTTPS: ":8443", HTTP: "127.0.0.1:8080", SIPUDP: ":5060", SIPTCP: ":5060", SIPTLS: ":5061"}
	}
	if c.DataDir == "" {
		c.DataDir = "confd-data"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Verto.Domain == "" {
		c.Verto.Domain = "localhost"
	}
	if len(c.Rooms) == 0 {
		c.Rooms = []RoomConfig{{Number: "3500", Name: "Default room"}}
	}
	if c.Shutdown == 0 {
		c.Shutdown = 5 * time.Second
	}
	c.recordingDefaults()
}

func (c *Config) validate() error {
	for _, u := range c.Users {
		if u.Login == "" || u.Password == "" {
			return fmt.Errorf("user %q: login and password are required", u.Login)
		}
		if r := strings.ToLower(u.Role); r != "" && r != "moderator" && r != "participant" {
			return fmt.Errorf("user %q: role must be moderator or participant", u.Login)
		}
	}
	for _, r := range c.Rooms {
		if r.Present != "" && r.Present != "everyone" && r.Present != "moderators" {
			return fmt.Errorf("room %q: present must be everyone or moderators", r.Number)
		}
		if !room.TonePolicy(r.Tones).Valid() {
			return fmt.Errorf("room %q: tones must be phones, always or never", r.Number)
		}
		switch r.WHEP {
		case "", room.WHEPToken, room.WHEPOpen, room.WHEPOff:
		default:
			return fmt.Errorf("room %q: whep must be token, open or off", r.Number)
		}
		if r.RequireToken && c.Verto.TokenSecret == "" {
			return fmt.Errorf("room %q requires tokens but verto.token_secret is not set", r.Number)
		}
	}
	if err := c.Verto.validate(); err != nil {
		return err
	}
	for _, o := range c.Web.EmbedOrigins {
		if err := checkOrigin(o); err != nil {
			return fmt.Errorf("web.embed_origins: %w", err)
		}
	}
	if _, err := c.Metrics.allowed(); err != nil {
		return err
	}
	if w := c.WebRTC; w.ICEDisconnected < 0 || w.ICEFailed < 0 || (w.ICEFailed > 0 && w.ICEFailed < w.ICEDisconnected) {
		return errors.New("webrtc: ice_failed_timeout must not be shorter than ice_disconnected_timeout, and neither negative")
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return errors.New("tls: cert and key go together")
	}
	if err := c.validateOperators(); err != nil {
		return err
	}
	if err := c.validateOnePort(); err != nil {
		return err
	}
	if err := c.validateRecording(); err != nil {
		return err
	}
	if err := c.Cluster.validate(); err != nil {
		return err
	}
	return c.SIP.validate()
}

func (c *Config) roomConfigs() []room.Config {
	out := make([]room.Config, len(c.Rooms))
	for i, r := range c.Rooms {
		out[i] = room.Config{
			Number: r.Number, Name: r.Name, PIN: r.PIN, ModeratorPIN: r.ModeratorPIN, MaxMembers: r.MaxMembers,
			Speakers: r.Speakers, RequireToken: r.RequireToken, PresentModerators: r.Present == "moderators",
			Lobby: r.Lobby, Tones: room.TonePolicy(r.Tones), Record: r.Record, StreamKey: r.StreamKey, WHEP: r.WHEP,
		}
	}
	return append(out, c.echoRoom()...)
}

func (c *Config) vertoConfig() signalling.Config {
	v := c.Verto
	sc := signalling.Config{
		Domain: v.Domain, AllowGuests: v.AllowGuests == nil || *v.AllowGuests, TokenSecret: v.TokenSecret,
		AllowedOrigins: v.AllowedOrigins, MaxMessageBytes: v.MaxMessageBytes, PublicOrigins: publicOrigins(c.Web),
		MessageRate: v.MessageRate, MessageBurst: v.MessageBurst,
		AttachWindow: v.AttachWindow, PingInterval: v.PingInterval, WriteTimeout: v.WriteTimeout,
		MemoryRelease: v.ReleaseMemoryAfter,
		MaxNameLength: v.MaxNameLength, MaxIDBytes: v.MaxIDBytes, MaxUserVariablesBytes: v.MaxUserVariablesBytes,
	}
	for _, u := range c.Users {
		role := room.RoleParticipant
		if strings.EqualFold(u.Role, "moderator") {
			role = room.RoleModerator
		}
		name := u.Name
		if name == "" {
			name = u.Login
		}
		sc.Users = append(sc.Users, signalling.User{Login: u.Login, Password: u.Password, Name: name, Role: role})
	}
	return sc
}

func (c *Config) mediaConfig() peer.MediaConfig {
	w := c.WebRTC
	return peer.MediaConfig{
		UDPPortMin: w.UDPPortMin, UDPPortMax: w.UDPPortMax, UDPMux: w.UDPMux, ICETCP: w.ICETCP,
		PublicIPs: w.PublicIPs, PublicIPsReplace: w.PublicIPsMode == "replace", IncludeLoopback: w.IncludeLoopback == nil || *w.IncludeLoopback,
		LoopbackOnly: w.LoopbackOnly, ICEDisconnected: w.ICEDisconnected, ICEFailed: w.ICEFailed,
	}
}

func publicOrigins(w WebConfig) []string {
	if w.PublicOrigin == "" {
		return nil
	}
	return []string{w.PublicOrigin}
}

// checkOrigin accepts "*" or a bare origin: scheme and host, no path.
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin like https://site.example", o)
	}
	return nil
}

// validate refuses negative limits, which would otherwise quietly mean
// the default.
func (v *VertoConfig) validate() error {
	for _, l := range []struct {
		key string
		n   int
	}{
		{"max_message_bytes", v.MaxMessageBytes}, {"message_burst", v.MessageBurst},
		{"max_name_length", v.MaxNameLength}, {"max_id_bytes", v.MaxIDBytes},
		{"max_user_variables_bytes", v.MaxUserVariablesBytes},
	} {
		if l.n < 0 {
			return fmt.Errorf("verto.%s must not be negative", l.key)
		}
	}
	if v.MessageRate < 0 {
		return errors.New("verto.message_rate must not be negative")
	}
	return nil
}
