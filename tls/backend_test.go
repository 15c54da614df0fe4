package tls_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-proxy/gantry/tls"
	_ "github.com/gantry-proxy/gantry/tls/gostd" // the registry always has gostd
)

// fakeBackend only has a name; the registry never calls anything else.
type fakeBackend struct{ name string }

func (f fakeBackend) Name() string                   { return f.name }
func (f fakeBackend) Library() string                { return "fake" }
func (f fakeBackend) Capabilities() tls.Capabilities { return tls.Capabilities{} }
func (f fakeBackend) NewServer(*tls.ServerConfig) (tls.Server, error) {
	return nil, errors.New("fake")
}
func (f fakeBackend) NewClient(*tls.ClientConfig) (tls.Client, error) {
	return nil, errors.New("fake")
}

func TestRegistry(t *testing.T) {
	// Names sort before and after "gostd" to show gostd still comes first.
	tls.Register(fakeBackend{"aaa-registry-test"})
	tls.Register(fakeBackend{"zzz-registry-test"})

	b, err := tls.Lookup("aaa-registry-test")
	require.NoError(t, err)
	assert.Equal(t, "aaa-registry-test", b.Name())

	names := tls.Names()
	require.GreaterOrEqual(t, len(names), 3)
	assert.Equal(t, "gostd", names[0], "gostd is listed first")
	assert.IsIncreasing(t, names[1:], "the others by name")
	assert.Len(t, tls.Backends(), len(names))

	assert.Panics(t, func() { tls.Register(fakeBackend{"aaa-registry-test"}) }, "a second registration is a bug")
}

func TestLookupErrors(t *testing.T) {
	_, err := tls.Lookup("wolfssl")
	assert.ErrorContains(t, err, `unknown backend "wolfssl"`)
	assert.ErrorContains(t, err, "gostd", "the error lists what is compiled in")

	// This test binary never links the cgo backends.
	for _, name := range []string{"openssl", "boringssl"} {
		_, err := tls.Lookup(name)
		assert.ErrorContains(t, err, "build with -tags "+name)
	}
}

// TestLookupEmptyIsDefault: a config that names no backend gets the
// default, through the one lookup every caller uses.
func TestLookupEmptyIsDefault(t *testing.T) {
	b, err := tls.Lookup("")
	require.NoError(t, err)
	assert.Equal(t, tls.DefaultBackend, b.Name())
}
