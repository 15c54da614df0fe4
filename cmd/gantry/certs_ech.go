package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

const certsECHUsage = "gantry certs ech --public-name NAME [--out FILE] [--config-id N] [--max-name-length N] [--force]"

const certsECHAbout = `Makes an Encrypted ClientHello (ECH) key for a listener's tls.ech.keys: an
X25519 HPKE key and its ECHConfig (version 0xfe0d; HKDF-SHA256 with
AES-128-GCM or ChaCha20Poly1305). Clients that find the config in DNS
encrypt the name they want; on the wire they show only --public-name.

Writes FILE (mode 0600: it holds the private key; keep it secret) with a
PKCS #8 "PRIVATE KEY" block and an "ECHCONFIG" block, and prints the
ECHConfigList in base64 and the DNS HTTPS record to publish it with. An
existing FILE is kept unless --force.

The listener must also hold a certificate for --public-name: a client whose
ECH is rejected checks it before it retries ('gantry check' refuses a config
without one). Only the gostd backend serves ECH.

Example:
  gantry certs ech --public-name ech.example.com --out /etc/gantry/ech-2026-12.pem`

func runCertsECH(args []string, stdout, stderr io.Writer) int {
	c := newCertsCommand("ech", certsECHUsage, certsECHAbout)
	publicName := c.String("public-name", "", "the name clients show in the outer ClientHello, such as ech.example.com (required)")
	out := c.String("out", "ech.pem", "file to write the key and its config into")
	configID := c.Int("config-id", -1, "config id 0-255, to tell keys served side by side apart (default random)")
	maxName := c.Int("max-name-length", 0, "longest name served behind the key, 0-255, which clients pad the inner name to (0: unknown)")
	if code, done := c.start(args, stdout, stderr, "public-name", "out"); done {
		return code
	}
	if err := gantrytls.CheckECHPublicName(*publicName); err != nil {
		return c.fail(stderr, fmt.Errorf("--public-name: %w", err))
	}
	if *configID < -1 || *configID > 255 {
		return c.fail(stderr, errors.New("--config-id must be between 0 and 255"))
	}
	if *maxName < 0 || *maxName > 255 {
		return c.fail(stderr, errors.New("--max-name-length must be between 0 and 255"))
	}
	if *configID == -1 {
		n, err := rand.Int(rand.Reader, big.NewInt(256))
		if err != nil {
			return c.fail(stderr, err)
		}
		*configID = int(n.Int64())
	}
	if err := c.free(*out); err != nil {
		return c.fail(stderr, err)
	}
	key, err := certs.NewECHKey(certs.ECHKeyOptions{
		PublicName:    *publicName,
		ConfigID:      uint8(*configID),
		MaxNameLength: uint8(*maxName),
	})
	if err != nil {
		return c.fail(stderr, err)
	}
	list, err := certs.ECHConfigListBase64(key)
	if err != nil {
		return c.fail(stderr, err)
	}
	if err := certs.WriteECHKeyFile(*out, key); err != nil {
		return c.fail(stderr, err)
	}
	name := strings.ToLower(*publicName)
	fmt.Fprintf(stdout, "wrote ECH key: %s (mode 0600: keep it secret)\n", *out)
	fmt.Fprintf(stdout, "  config id:     %d\n", *configID)
	fmt.Fprintf(stdout, "  public name:   %s (a certificate of the listener must cover it)\n", name)
	fmt.Fprintf(stdout, "  suites:        HKDF-SHA256 with AES-128-GCM, HKDF-SHA256 with ChaCha20Poly1305\n")
	fmt.Fprintf(stdout, "  ECHConfigList: %s\n", list)
	fmt.Fprintf(stdout, "Publish it in the HTTPS record of each name served behind this key (the names\n")
	fmt.Fprintf(stdout, "clients connect to, not the public name), with the listener's ALPN, e.g.:\n")
	fmt.Fprintf(stdout, "  www.example.com. 3600 IN HTTPS 1 . alpn=h2,http/1.1 ech=%s\n", list)
	return 0
}
