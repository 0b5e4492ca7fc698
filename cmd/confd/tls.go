package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certificate loads the configured certificate, or the self-signed one kept
// in the data directory, making it on first start (and again once expired).
func certificate(c *Config) (tls.Certificate, bool, error) {
	if c.TLS.Cert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.Cert, c.TLS.Key)
		return cert, false, err
	}
	certPath := filepath.Join(c.DataDir, "cert.pem")
	keyPath := filepath.Join(c.DataDir, "key.pem")
	if cert, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && stillValid(cert) {
		return cert, false, nil
	}
	if err := writeSelfSigned(certPath, keyPath); err != nil {
		return tls.Certificate{}, false, err
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	return cert, true, err
}

func stillValid(cert tls.Certificate) bool {
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	return err == nil && time.Now().Add(24*time.Hour).Before(leaf.NotAfter)
}

// writeSelfSigned makes a P-256 certificate for localhost, the loopback
// addresses and this host's name, valid for a year.
func writeSelfSigned(certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	names := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" {
		names = append(names, h)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "confd self-signed", Organization: []string{"confd"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(certPath), 0o700); err != nil {
		return err
	}
	return errors.Join(
		writePEM(keyPath, "EC PRIVATE KEY", keyDER, 0o600),
		writePEM(certPath, "CERTIFICATE", der, 0o644),
	)
}

func writePEM(path, kind string, der []byte, mode os.FileMode) error {
	data := pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
