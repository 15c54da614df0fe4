package tls_test

import (
	"crypto/x509"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

func TestServerVerifier(t *testing.T) {
	p := tlstest.NewPKI(t)
	roots := p.Roots()
	tests := []struct {
		name       string
		cfg        tls.ClientConfig
		chain      [][]byte
		serverName string
		alert      tls.Alert // zero: accepted
		chainLen   int       // of the first verified chain; zero: none
	}{
		{"Trusted", tls.ClientConfig{RootCAs: roots}, p.ServerECDSA.Chain, tlstest.NameECDSA, 0, 2},
		{"TrustedRSA", tls.ClientConfig{RootCAs: roots}, p.ServerRSA.Chain, tlstest.NameRSA, 0, 2},
		{"IntermediateFromPeer", tls.ClientConfig{RootCAs: roots}, p.ServerChain.Chain, tlstest.NameChain, 0, 3},
		{"IntermediateMissing", tls.ClientConfig{RootCAs: roots}, p.ServerChain.Chain[:1], tlstest.NameChain, tls.AlertUnknownCA, 0},
		{"IPv4", tls.ClientConfig{RootCAs: roots}, p.ServerECDSA.Chain, "127.0.0.1", 0, 2},
		{"IPv6Bracketed", tls.ClientConfig{RootCAs: roots}, p.ServerECDSA.Chain, "[::1]", 0, 2},
		{"IPv6Long", tls.ClientConfig{RootCAs: roots}, p.ServerECDSA.Chain, "0:0:0:0:0:0:0:1", 0, 2},
		{"IPNotInSAN", tls.ClientConfig{RootCAs: roots}, p.ServerECDSA.Chain, "10.0.0.1", tls.AlertBadCertificate, 0},
		{"UnknownCA", tls.ClientConfig{RootCAs: roots}, p.ServerUntrusted.Chain, tlstest.NameUntrusted, tls.AlertUnknownCA, 0},
		{"Expired", tls.ClientConfig{RootCAs: roots}, p.ServerExpired.Chain, tlstest.NameExpired, tls.AlertCertificateExpired, 0},
		{"WrongName", tls.ClientConfig{RootCAs: roots}, p.ServerECDSA.Chain, tlstest.NameWrong, tls.AlertBadCertificate, 0},
		{"EmptyNameNeverSkipsTheCheck", tls.ClientConfig{RootCAs: roots}, p.ServerECDSA.Chain, "", tls.AlertBadCertificate, 0},
		{"ClientCertAsServer", tls.ClientConfig{RootCAs: roots, DisableVerifyHostname: true}, p.ClientECDSA.Chain, "", tls.AlertUnsupportedCert, 0},
		{"NoCertificate", tls.ClientConfig{RootCAs: roots}, nil, tlstest.NameECDSA, tls.AlertCertificateRequired, 0},
		{"GarbageDER", tls.ClientConfig{RootCAs: roots}, [][]byte{{0x30, 0x03, 1, 2, 3}}, tlstest.NameECDSA, tls.AlertBadCertificate, 0},
		{"NoHostname/WrongName", tls.ClientConfig{RootCAs: roots, DisableVerifyHostname: true}, p.ServerECDSA.Chain, tlstest.NameWrong, 0, 2},
		{"NoHostname/EmptyName", tls.ClientConfig{RootCAs: roots, DisableVerifyHostname: true}, p.ServerECDSA.Chain, "", 0, 2},
		{"NoHostname/UnknownCA", tls.ClientConfig{RootCAs: roots, DisableVerifyHostname: true}, p.ServerUntrusted.Chain, "", tls.AlertUnknownCA, 0},
		{"NoVerify/UnknownCA", tls.ClientConfig{RootCAs: roots, DisableVerifyCert: true}, p.ServerUntrusted.Chain, tlstest.NameWrong, 0, 0},
		{"NoVerify/Expired", tls.ClientConfig{DisableVerifyCert: true}, p.ServerExpired.Chain, "", 0, 0},
		{"NoVerify/StillNeedsACertificate", tls.ClientConfig{DisableVerifyCert: true}, nil, "", tls.AlertCertificateRequired, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, chains, err := tls.NewServerVerifier(&tt.cfg).Verify(tt.chain, tt.serverName)
			if tt.alert != 0 {
				var verr *tls.VerifyError
				require.ErrorAs(t, err, &verr)
				assert.Equal(t, tt.alert, verr.Alert, "%v", verr)
				assert.Regexp(t, "^tls: peer certificate refused: ", verr.Error())
				assert.Empty(t, chains)
				return
			}
			require.NoError(t, err)
			assert.Len(t, certs, len(tt.chain))
			if tt.chainLen == 0 {
				assert.Empty(t, chains, "nothing was verified")
				return
			}
			require.NotEmpty(t, chains)
			assert.Len(t, chains[0], tt.chainLen)
		})
	}
}

func TestClientVerifier(t *testing.T) {
	p := tlstest.NewPKI(t)
	base := func(mode tls.ClientAuthMode) *tls.ServerConfig {
		return &tls.ServerConfig{Certificates: []tls.Certificate{p.ServerECDSA}, ClientAuth: mode, ClientCAs: p.Roots()}
	}
	tests := []struct {
		name     string
		mode     tls.ClientAuthMode
		chain    [][]byte
		alert    tls.Alert
		verified bool
	}{
		{"Request/None", tls.ClientAuthRequest, nil, 0, false},
		{"Request/Untrusted", tls.ClientAuthRequest, p.ClientUntrusted.Chain, 0, false},
		{"Require/None", tls.ClientAuthRequire, nil, tls.AlertCertificateRequired, false},
		{"Require/Untrusted", tls.ClientAuthRequire, p.ClientUntrusted.Chain, 0, false},
		{"VerifyIfGiven/None", tls.ClientAuthVerifyIfGiven, nil, 0, false},
		{"VerifyIfGiven/Trusted", tls.ClientAuthVerifyIfGiven, p.ClientECDSA.Chain, 0, true},
		{"VerifyIfGiven/Untrusted", tls.ClientAuthVerifyIfGiven, p.ClientUntrusted.Chain, tls.AlertUnknownCA, false},
		{"RequireAndVerify/None", tls.ClientAuthRequireAndVerify, nil, tls.AlertCertificateRequired, false},
		{"RequireAndVerify/TrustedRSA", tls.ClientAuthRequireAndVerify, p.ClientRSA.Chain, 0, true},
		{"RequireAndVerify/ServerCertAsClient", tls.ClientAuthRequireAndVerify, p.ServerECDSA.Chain, tls.AlertUnsupportedCert, false},
		{"RequireAndVerify/Expired", tls.ClientAuthRequireAndVerify, p.ServerExpired.Chain, tls.AlertCertificateExpired, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The server name is ignored for clients: a wrong one changes nothing.
			_, chains, err := tls.NewClientVerifier(base(tt.mode)).Verify(tt.chain, tlstest.NameWrong)
			if tt.alert != 0 {
				var verr *tls.VerifyError
				require.ErrorAs(t, err, &verr)
				assert.Equal(t, tt.alert, verr.Alert, "%v", verr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.verified, len(chains) > 0)
		})
	}
}

func TestVerifyErrorWraps(t *testing.T) {
	p := tlstest.NewPKI(t)
	_, _, err := tls.NewServerVerifier(&tls.ClientConfig{}).Verify(nil, "x")
	assert.ErrorIs(t, err, tls.ErrNoCertificate)
	assert.Equal(t, "tls: peer certificate refused: peer sent no certificate", err.Error())

	_, _, err = tls.NewServerVerifier(&tls.ClientConfig{RootCAs: p.Roots()}).Verify(p.ServerUntrusted.Chain, tlstest.NameUntrusted)
	var unknown x509.UnknownAuthorityError
	assert.True(t, errors.As(err, &unknown), "the x509 reason stays reachable: %v", err)

	// The same chain gives the same words every time: backends rely on it.
	_, _, again := tls.NewServerVerifier(&tls.ClientConfig{RootCAs: p.Roots()}).Verify(p.ServerUntrusted.Chain, tlstest.NameUntrusted)
	assert.Equal(t, err.Error(), again.Error())
}

func TestVerifierSystemRoots(t *testing.T) {
	// With no RootCAs the system pool is used, which never holds the
	// suite's private CA.
	p := tlstest.NewPKI(t)
	_, _, err := tls.NewServerVerifier(&tls.ClientConfig{}).Verify(p.ServerECDSA.Chain, tlstest.NameECDSA)
	var verr *tls.VerifyError
	require.ErrorAs(t, err, &verr)
}
