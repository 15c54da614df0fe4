package certs

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// fixture is a directory of files made by a development CA.
type fixture struct {
	t   *testing.T
	dir string
	ca  *DevCA
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ca, err := NewDevCA()
	require.NoError(t, err)
	f := &fixture{t: t, dir: t.TempDir(), ca: ca}
	f.write("ca.pem", ca.CertPEM())
	return f
}

func (f *fixture) path(name string) string { return filepath.Join(f.dir, name) }

func (f *fixture) write(name string, data []byte) string {
	f.t.Helper()
	p := f.path(name)
	require.NoError(f.t, os.WriteFile(p, data, 0o600))
	return p
}

// server issues a server certificate for localhost and writes it to
// NAME.pem and NAME-key.pem, replacing what is there.
func (f *fixture) server(name string) (*Issued, KeyPair) {
	f.t.Helper()
	is, err := f.ca.IssueServer("localhost", "127.0.0.1")
	require.NoError(f.t, err)
	return is, f.writePair(name, is)
}

// client issues a client certificate for cn and writes it as server does.
func (f *fixture) client(name, cn string) (*Issued, KeyPair) {
	f.t.Helper()
	is, err := f.ca.IssueClient(cn)
	require.NoError(f.t, err)
	return is, f.writePair(name, is)
}

func (f *fixture) writePair(name string, is *Issued) KeyPair {
	f.t.Helper()
	kp := KeyPair{Cert: f.path(name + ".pem"), Key: f.path(name + "-key.pem")}
	require.NoError(f.t, is.WriteFiles(kp.Cert, kp.Key))
	return kp
}

// assertFields checks that err joins exactly one FieldError per entry of
// want, in order, each holding its text.
func assertFields(t *testing.T, err error, want [][2]string) {
	t.Helper()
	require.Error(t, err)
	joined, ok := err.(interface{ Unwrap() []error })
	require.True(t, ok, "Load joins its errors: %v", err)
	var got [][2]string
	for _, e := range joined.Unwrap() {
		var fe *gantrytls.FieldError
		require.True(t, errors.As(e, &fe), "not a FieldError: %v", e)
		got = append(got, [2]string{fe.Field, fe.Err.Error()})
	}
	require.Len(t, got, len(want), "errors: %q", got)
	for i := range want {
		assert.Equal(t, want[i][0], got[i][0], "error %d: %s", i, got[i][1])
		assert.Contains(t, got[i][1], want[i][1], "error %d at %s", i, got[i][0])
	}
}

func TestServerFilesLoadErrors(t *testing.T) {
	f := newFixture(t)
	_, good := f.server("good")
	_, other := f.server("other")
	mismatched := KeyPair{Cert: good.Cert, Key: other.Key}
	missing := f.path("missing.pem")
	garbage := f.write("garbage.pem", []byte("not PEM at all"))
	ticket := f.write("ticket.key", make([]byte, 32))
	short := f.write("short.key", []byte("too short"))
	no := false
	yes := true

	tests := []struct {
		name  string
		files ServerFiles
		want  [][2]string
	}{
		{"NoCertificates", ServerFiles{}, [][2]string{{"certificates", "at least one {cert, key} pair is required"}}},
		{"EmptyNames", ServerFiles{Certificates: []KeyPair{{}}}, [][2]string{
			{"certificates[0].cert", "is required"}, {"certificates[0].key", "is required"}}},
		{"MissingCert", ServerFiles{Certificates: []KeyPair{{Cert: missing, Key: good.Key}}}, [][2]string{
			{"certificates[0].cert", "file " + missing + " does not exist"}}},
		{"KeyIsADirectory", ServerFiles{Certificates: []KeyPair{{Cert: good.Cert, Key: f.dir}}}, [][2]string{
			{"certificates[0].key", f.dir + " is a directory, not a file"}}},
		{"BothMissing", ServerFiles{Certificates: []KeyPair{good, {Cert: missing, Key: missing + "-key"}}}, [][2]string{
			{"certificates[1].cert", "does not exist"}, {"certificates[1].key", "does not exist"}}},
		{"Mismatch", ServerFiles{Certificates: []KeyPair{good, mismatched}}, [][2]string{
			{"certificates[1]", "private key does not match"}}},
		{"MismatchNamesFiles", ServerFiles{Certificates: []KeyPair{mismatched}}, [][2]string{
			{"certificates[0]", "(certificate " + good.Cert + ", key " + other.Key + ")"}}},
		{"CertNotPEM", ServerFiles{Certificates: []KeyPair{{Cert: garbage, Key: good.Key}}}, [][2]string{
			{"certificates[0]", "no CERTIFICATE block"}}},
		{"CAWithModeNone", ServerFiles{Certificates: []KeyPair{good}, ClientAuth: ClientAuthFiles{CA: f.path("ca.pem")}}, [][2]string{
			{"client_auth.ca", "a CA is set but mode is none, so client certificates are never asked for (set mode, e.g. require-and-verify)"}}},
		{"VerifyWithoutCA", ServerFiles{Certificates: []KeyPair{good}, ClientAuth: ClientAuthFiles{Mode: gantrytls.ClientAuthRequireAndVerify}}, [][2]string{
			{"client_auth.ca", "mode require-and-verify verifies client certificates and needs a ca file"}}},
		{"CAMissing", ServerFiles{Certificates: []KeyPair{good}, ClientAuth: ClientAuthFiles{Mode: gantrytls.ClientAuthRequire, CA: missing}}, [][2]string{
			{"client_auth.ca", "file " + missing + " does not exist"}}},
		{"CANotPEM", ServerFiles{Certificates: []KeyPair{good}, ClientAuth: ClientAuthFiles{Mode: gantrytls.ClientAuthVerifyIfGiven, CA: garbage}}, [][2]string{
			{"client_auth.ca", garbage + ": tls: no CERTIFICATE block found"}}},
		{"InvalidMode", ServerFiles{Certificates: []KeyPair{good}, ClientAuth: ClientAuthFiles{Mode: 9}}, [][2]string{
			{"client_auth.mode", "invalid client auth mode 9"}}},
		{"KeysButTicketsOff", ServerFiles{Certificates: []KeyPair{good}, SessionTickets: TicketFiles{Enabled: &no, KeyFiles: []string{ticket}}}, [][2]string{
			{"session_tickets.key_files", "key files are set but session tickets are disabled"}}},
		{"BadTicketKeys", ServerFiles{Certificates: []KeyPair{good}, SessionTickets: TicketFiles{Enabled: &yes, KeyFiles: []string{ticket, short, missing, ""}}}, [][2]string{
			{"session_tickets.key_files[1]", "ticket key file " + short + " must hold exactly 32 bytes (raw, 64 hex digits or base64); make one with `openssl rand 32 > FILE`"},
			{"session_tickets.key_files[2]", "does not exist"},
			{"session_tickets.key_files[3]", "is empty"}}},
		{"EverythingAtOnce", ServerFiles{
			Certificates:   []KeyPair{mismatched, {Cert: missing}},
			ClientAuth:     ClientAuthFiles{Mode: gantrytls.ClientAuthVerifyIfGiven},
			SessionTickets: TicketFiles{KeyFiles: []string{short}},
		}, [][2]string{
			{"certificates[0]", "does not match"},
			{"certificates[1].key", "is required"},
			{"client_auth.ca", "needs a ca file"},
			{"session_tickets.key_files[0]", "32 bytes"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := tt.files.Load()
			assertFields(t, err, tt.want)
			assert.Zero(t, set, "a failed load yields nothing, never part of the set")
		})
	}
}

func TestServerFilesLoad(t *testing.T) {
	f := newFixture(t)
	first, a := f.server("a")
	second, b := f.server("b")
	var key gantrytls.SessionTicketKey
	_, err := rand.Read(key[:])
	require.NoError(t, err)
	keyFile := f.write("ticket.key", []byte(hex.EncodeToString(key[:])+"\n"))

	set, err := ServerFiles{
		Certificates:   []KeyPair{a, b},
		ClientAuth:     ClientAuthFiles{Mode: gantrytls.ClientAuthRequireAndVerify, CA: f.path("ca.pem")},
		SessionTickets: TicketFiles{KeyFiles: []string{keyFile}},
	}.Load()
	require.NoError(t, err)
	require.Len(t, set.Certificates, 2)
	assert.True(t, set.Certificates[0].Leaf.Equal(first.Cert))
	assert.True(t, set.Certificates[1].Leaf.Equal(second.Cert))
	assert.Equal(t, gantrytls.ClientAuthRequireAndVerify, set.ClientAuth)
	require.Len(t, set.ClientCAs, 1)
	assert.True(t, set.ClientCAs[0].Equal(f.ca.Certificate()))
	assert.Equal(t, []gantrytls.SessionTicketKey{key}, set.SessionTicketKeys)
	assert.False(t, set.DisableSessionTickets)

	base := gantrytls.ServerConfig{Policy: gantrytls.PolicyModern, ALPN: []string{"h2"}, ClientAuth: gantrytls.ClientAuthRequest}
	cfg := set.Apply(base)
	assert.Equal(t, gantrytls.PolicyModern, cfg.Policy, "Apply keeps what does not come from files")
	assert.Equal(t, []string{"h2"}, cfg.ALPN)
	assert.Equal(t, gantrytls.ClientAuthRequireAndVerify, cfg.ClientAuth, "and sets what does")
	assert.Len(t, cfg.Certificates, 2)
	assert.Equal(t, gantrytls.ClientAuthRequest, base.ClientAuth, "Apply returns a copy")
	require.NoError(t, cfg.Validate())

	no := false
	set, err = ServerFiles{Certificates: []KeyPair{a}, SessionTickets: TicketFiles{Enabled: &no}}.Load()
	require.NoError(t, err)
	assert.True(t, set.Apply(gantrytls.ServerConfig{}).DisableSessionTickets)
	assert.Equal(t, gantrytls.ClientAuthNone, set.ClientAuth)
}

func TestClientFilesLoad(t *testing.T) {
	f := newFixture(t)
	alice, kp := f.client("alice", "alice")
	_, other := f.client("other", "other")
	ca := f.path("ca.pem")
	missing := f.path("missing.pem")

	set, err := ClientFiles{CA: ca, Cert: kp.Cert, Key: kp.Key}.Load()
	require.NoError(t, err)
	require.NotNil(t, set.Certificate)
	assert.True(t, set.Certificate.Leaf.Equal(alice.Cert))
	require.Len(t, set.RootCAs, 1)
	cfg := set.Apply(gantrytls.ClientConfig{Policy: gantrytls.PolicyIntermediate})
	assert.Equal(t, set.RootCAs, cfg.RootCAs)
	assert.Same(t, set.Certificate, cfg.Certificate)
	assert.Equal(t, gantrytls.PolicyIntermediate, cfg.Policy)

	set, err = ClientFiles{}.Load()
	require.NoError(t, err)
	assert.Nil(t, set.RootCAs, "no CA file: the system roots")
	assert.Nil(t, set.Certificate)

	tests := []struct {
		name  string
		files ClientFiles
		want  [][2]string
	}{
		{"CertWithoutKey", ClientFiles{Cert: kp.Cert}, [][2]string{{"key", "cert is set, so key is required"}}},
		{"KeyWithoutCert", ClientFiles{Key: kp.Key}, [][2]string{{"cert", "key is set, so cert is required"}}},
		{"MissingCA", ClientFiles{CA: missing}, [][2]string{{"ca", "file " + missing + " does not exist"}}},
		{"CAIsADirectory", ClientFiles{CA: f.dir}, [][2]string{{"ca", "is a directory"}}},
		{"MissingKey", ClientFiles{Cert: kp.Cert, Key: missing}, [][2]string{{"key", "does not exist"}}},
		{"Mismatch", ClientFiles{Cert: kp.Cert, Key: other.Key}, [][2]string{{"cert", "does not match"}}},
		{"All", ClientFiles{CA: kp.Key, Cert: missing, Key: kp.Key}, [][2]string{
			{"ca", "no CERTIFICATE block"}, {"cert", "does not exist"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := tt.files.Load()
			assertFields(t, err, tt.want)
			assert.Zero(t, set)
		})
	}
}

func TestLoadKeyPair(t *testing.T) {
	f := newFixture(t)
	is, kp := f.server("server")
	c, err := LoadKeyPair(kp.Cert, kp.Key)
	require.NoError(t, err)
	assert.True(t, c.Leaf.Equal(is.Cert))

	missing := f.path("missing.pem")
	_, err = LoadKeyPair(missing, kp.Key)
	assert.EqualError(t, err, "certs: file "+missing+" does not exist")
	_, err = LoadKeyPair(kp.Cert, f.dir)
	assert.EqualError(t, err, "certs: "+f.dir+" is a directory, not a file")
	_, err = LoadKeyPair(kp.Cert, "")
	assert.ErrorContains(t, err, "needs both")

	_, other := f.server("other")
	_, err = LoadKeyPair(kp.Cert, other.Key)
	assert.ErrorContains(t, err, "does not match")
	assert.ErrorContains(t, err, kp.Cert, "the error names the files")
	assert.ErrorContains(t, err, other.Key)
	keyPEM, rerr := os.ReadFile(other.Key)
	require.NoError(t, rerr)
	assert.NotContains(t, err.Error(), string(keyPEM[30:60]), "and never what is in them")

	require.NoError(t, os.Chmod(kp.Key, 0))
	if _, rerr := os.ReadFile(kp.Key); rerr != nil { // not when running as root
		_, err = LoadKeyPair(kp.Cert, kp.Key)
		assert.ErrorContains(t, err, kp.Key)
		assert.ErrorIs(t, err, os.ErrPermission)
	}
}

func TestLoadCAs(t *testing.T) {
	f := newFixture(t)
	other, err := NewDevCA()
	require.NoError(t, err)
	bundle := f.write("bundle.pem", append(f.ca.CertPEM(), other.CertPEM()...))
	cas, err := LoadCAs(bundle)
	require.NoError(t, err)
	require.Len(t, cas, 2)
	assert.True(t, cas[1].Equal(other.Certificate()))

	_, err = LoadCAs(f.path("none.pem"))
	assert.EqualError(t, err, "certs: file "+f.path("none.pem")+" does not exist")
	empty := f.write("empty.pem", nil)
	_, err = LoadCAs(empty)
	assert.EqualError(t, err, "certs: "+empty+": tls: no CERTIFICATE block found")
}

func TestLoadTicketKey(t *testing.T) {
	f := newFixture(t)
	var want gantrytls.SessionTicketKey
	_, err := rand.Read(want[:])
	require.NoError(t, err)
	for name, data := range map[string][]byte{
		"raw":          want[:],
		"hex":          []byte(hex.EncodeToString(want[:])),
		"hexNewline":   []byte(hex.EncodeToString(want[:]) + "\n"),
		"base64":       []byte(base64.StdEncoding.EncodeToString(want[:])),
		"base64Spaces": []byte("  " + base64.StdEncoding.EncodeToString(want[:]) + "\r\n"),
	} {
		got, err := LoadTicketKey(f.write(name, data))
		require.NoError(t, err, name)
		assert.Equal(t, want, got, name)
	}
	for name, data := range map[string][]byte{
		"short":     want[:31],
		"long":      append(want[:], 0),
		"hexShort":  []byte(hex.EncodeToString(want[:31])),
		"base64Big": []byte(base64.StdEncoding.EncodeToString(make([]byte, 36))),
	} {
		file := f.write(name, data)
		_, err := LoadTicketKey(file)
		assert.ErrorContains(t, err, "certs: ticket key file "+file+" must hold exactly 32 bytes", name)
		assert.ErrorContains(t, err, "openssl rand 32 > FILE", name)
	}
	_, err = LoadTicketKey(f.path("nope"))
	assert.ErrorContains(t, err, "does not exist")
}

func TestResolve(t *testing.T) {
	on := true
	sf := ServerFiles{
		Certificates:   []KeyPair{{Cert: "a.pem", Key: "/abs/a-key.pem"}, {Cert: "", Key: "sub/k.pem"}},
		ClientAuth:     ClientAuthFiles{Mode: gantrytls.ClientAuthRequire, CA: "ca.pem"},
		SessionTickets: TicketFiles{Enabled: &on, KeyFiles: []string{"t1", "/t2"}},
	}
	got := sf.Resolve("/etc/gantry")
	assert.Equal(t, ServerFiles{
		Certificates:   []KeyPair{{Cert: "/etc/gantry/a.pem", Key: "/abs/a-key.pem"}, {Cert: "", Key: "/etc/gantry/sub/k.pem"}},
		ClientAuth:     ClientAuthFiles{Mode: gantrytls.ClientAuthRequire, CA: "/etc/gantry/ca.pem"},
		SessionTickets: TicketFiles{Enabled: &on, KeyFiles: []string{"/etc/gantry/t1", "/t2"}},
	}, got)
	assert.Equal(t, "a.pem", sf.Certificates[0].Cert, "Resolve copies; the original is untouched")
	assert.Equal(t, "t1", sf.SessionTickets.KeyFiles[0])
	assert.NotSame(t, sf.SessionTickets.Enabled, got.SessionTickets.Enabled)
	assert.Nil(t, ServerFiles{}.Resolve("/x").Certificates)

	assert.Equal(t, ClientFiles{CA: "/d/ca.pem", Cert: "/c.pem", Key: ""},
		ClientFiles{CA: "ca.pem", Cert: "/c.pem"}.Resolve("/d"))
	assert.Equal(t, ClientFiles{CA: "ca.pem"}, ClientFiles{CA: "ca.pem"}.Resolve(""))
}
