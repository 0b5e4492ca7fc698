package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/confd/confd/dialin"
	"github.com/confd/confd/mixer"
	"github.com/confd/confd/room"
)

// SIPConfig is the phone dial-in (the listen addresses are in listen:).
type SIPConfig struct {
	TLS          TLSConfig         `yaml:"tls"` // for sip_tls; default: the top-level tls certificate
	RTPIP        string            `yaml:"rtp_ip"`
	RTPPortMin   uint16            `yaml:"rtp_port_min"`
	RTPPortMax   uint16            `yaml:"rtp_port_max"`
	Codecs       string            `yaml:"codecs"`
	Trunks       []string          `yaml:"trunks"`
	AllowGuests  bool              `yaml:"allow_guests"`
	Realm        string            `yaml:"realm"`
	InviteRate   float64           `yaml:"invite_rate"`
	InviteBurst  int               `yaml:"invite_burst"`
	PINAttempts  int               `yaml:"pin_attempts"`
	PINLockout   time.Duration     `yaml:"pin_lockout"`
	ShowCallerID bool              `yaml:"show_caller_id"`
	Phonebook    map[string]string `yaml:"phonebook"`
	DIDs         map[string]string `yaml:"dids"`
	RTPTimeout   time.Duration     `yaml:"rtp_timeout"`
	Ring         time.Duration     `yaml:"ring"`

	PINTrunkAttempts int `yaml:"pin_trunk_attempts"`
	// WebSocket takes SIP over WebSocket (RFC 7118, JsSIP and SIP.js) on
	// the web listeners (default true).
	WebSocket *bool `yaml:"websocket"`
	SIPLimits `yaml:",inline"`
}

// SIPLimits bound what one peer may make the SIP server hold (dialin.Limits;
// zero takes the default).
type SIPLimits struct {
	MaxMessageBytes     int           `yaml:"max_message_bytes"`
	MaxHeaderBytes      int           `yaml:"max_header_bytes"`
	MaxHeaders          int           `yaml:"max_headers"`
	ReadTimeout         time.Duration `yaml:"tcp_read_timeout"`
	IdleTimeout         time.Duration `yaml:"tcp_idle_timeout"`
	TLSHandshakeTimeout time.Duration `yaml:"tls_handshake_timeout"`
	WriteTimeout        time.Duration `yaml:"tcp_write_timeout"`
	MaxConnsPerAddress  int           `yaml:"tcp_connections_per_address"`
	MaxConns            int           `yaml:"tcp_connections"`
}

func (l SIPLimits) validate() error {
	for name, v := range map[string]int{"max_message_bytes": l.MaxMessageBytes, "max_header_bytes": l.MaxHeaderBytes,
		"max_headers": l.MaxHeaders, "tcp_connections_per_address": l.MaxConnsPerAddress, "tcp_connections": l.MaxConns} {
		if v < 0 {
			return fmt.Errorf("sip.%s: %d is negative", name, v)
		}
	}
	for name, v := range map[string]time.Duration{"tcp_read_timeout": l.ReadTimeout, "tcp_idle_timeout": l.IdleTimeout,
		"tls_handshake_timeout": l.TLSHandshakeTimeout, "tcp_write_timeout": l.WriteTimeout} {
		if v < 0 {
			return fmt.Errorf("sip.%s: %v is negative", name, v)
		}
	}
	if l.MaxMessageBytes > dialin.MaxMessageBytes {
		return fmt.Errorf("sip.max_message_bytes: %d is over %d, the most confd reads of one message", l.MaxMessageBytes, dialin.MaxMessageBytes)
	}
	if l.MaxHeaderBytes > 0 && l.MaxMessageBytes > 0 && l.MaxHeaderBytes > l.MaxMessageBytes {
		return errors.New("sip: max_header_bytes is above max_message_bytes")
	}
	return nil
}

func (l SIPLimits) dialin() dialin.Limits {
	return dialin.Limits{
		MaxMessageBytes: l.MaxMessageBytes, MaxHeaderBytes: l.MaxHeaderBytes, MaxHeaders: l.MaxHeaders,
		ReadTimeout: l.ReadTimeout, IdleTimeout: l.IdleTimeout, TLSHandshakeTimeout: l.TLSHandshakeTimeout,
		WriteTimeout: l.WriteTimeout, MaxConnsPerAddress: l.MaxConnsPerAddress, MaxConns: l.MaxConns,
	}
}

// defaultTrunks lets a softphone on this machine call without an account.
var defaultTrunks = []string{"127.0.0.0/8", "::1/128"}

func (s *SIPConfig) validate() error {
	if _, err := parseCodecs(s.Codecs); err != nil {
		return err
	}
	if _, err := parsePrefixes(s.Trunks); err != nil {
		return err
	}
	if s.RTPIP != "" {
		if _, err := netip.ParseAddr(s.RTPIP); err != nil {
			return fmt.Errorf("sip.rtp_ip: %w", err)
		}
	}
	if s.RTPPortMin > s.RTPPortMax {
		return errors.New("sip: rtp_port_min is above rtp_port_max")
	}
	if (s.TLS.Cert == "") != (s.TLS.Key == "") {
		return errors.New("sip.tls: cert and key go together")
	}
	if s.PINTrunkAttempts < 0 {
		return errors.New("sip.pin_trunk_attempts is negative")
	}
	return s.SIPLimits.validate()
}

// parseCodecs reads a FreeSWITCH-style codec string: "PCMA,PCMU".
func parseCodecs(s string) ([]mixer.Codec, error) {
	var out []mixer.Codec
	for _, name := range strings.Split(s, ",") {
		switch strings.ToUpper(strings.TrimSpace(name)) {
		case "":
		case "PCMU":
			out = append(out, mixer.CodecPCMU)
		case "PCMA":
			out = append(out, mixer.CodecPCMA)
		default:
			return nil, fmt.Errorf("sip.codecs: %q is not PCMU or PCMA", name)
		}
	}
	return out, nil
}

func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("sip.trunks: %w", err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (c *Config) sipEnabled() bool {
	return c.Listen.SIPUDP != "" || c.Listen.SIPTCP != "" || c.sipTLSFiles() != (TLSConfig{}) && c.Listen.SIPTLS != ""
}

// sipWebSocket reports whether the web listeners take SIP over WebSocket.
func (c *Config) sipWebSocket() bool {
	return (c.SIP.WebSocket == nil || *c.SIP.WebSocket) && (c.Listen.HTTP != "" || c.Listen.HTTPS != "")
}

// sipTLSFiles is the certificate for SIP over TLS, if any.
func (c *Config) sipTLSFiles() TLSConfig {
	if c.SIP.TLS.Cert != "" {
		return c.SIP.TLS
	}
	return c.TLS
}

// sipConfig builds the dial-in's configuration (validated already).
func (c *Config) sipConfig() (dialin.Config, error) {
	s := c.SIP
	codecs, _ := parseCodecs(s.Codecs)
	trunks := s.Trunks
	if trunks == nil {
		trunks = defaultTrunks
	}
	prefixes, _ := parsePrefixes(trunks)
	dc := dialin.Config{
		UDP: c.Listen.SIPUDP, TCP: c.Listen.SIPTCP,
		RTPPortMin: s.RTPPortMin, RTPPortMax: s.RTPPortMax, Codecs: codecs,
		Trunks: prefixes, Realm: s.Realm, AllowGuests: s.AllowGuests,
		InviteRate: s.InviteRate, InviteBurst: s.InviteBurst,
		PINAttempts: s.PINAttempts, PINTrunkAttempts: s.PINTrunkAttempts, PINLockout: s.PINLockout,
		ShowCallerID: s.ShowCallerID, Phonebook: s.Phonebook, DIDs: s.DIDs,
		RTPTimeout: s.RTPTimeout, Ring: s.Ring, Limits: s.SIPLimits.dialin(),
	}
	if s.RTPIP != "" {
		dc.RTPIP = netip.MustParseAddr(s.RTPIP)
	}
	for _, ip := range c.WebRTC.PublicIPs {
		if a, err := netip.ParseAddr(ip); err == nil {
			dc.PublicIPs = append(dc.PublicIPs, a)
		}
	}
	dc.Users = c.sipUsers()
	return dc, c.sipTLS(&dc)
}

func (c *Config) sipTLS(dc *dialin.Config) error {
	files := c.sipTLSFiles()
	if c.Listen.SIPTLS == "" || files.Cert == "" {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		return fmt.Errorf("sip tls: %w", err)
	}
	dc.TLS = c.Listen.SIPTLS
	dc.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return nil
}

// sipUsers are the accounts (users:) that may authenticate with digest.
func (c *Config) sipUsers() []dialin.User {
	var out []dialin.User
	for _, u := range c.Users {
		role := room.RoleParticipant
		if strings.EqualFold(u.Role, "moderator") {
			role = room.RoleModerator
		}
		out = append(out, dialin.User{Login: u.Login, Password: u.Password, Name: u.Name, Role: role})
	}
	return out
}
