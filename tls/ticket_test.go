package tls_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/gantry-proxy/gantry/tls"
)

func TestTicketKeyExpand(t *testing.T) {
	var a, b tls.SessionTicketKey
	for i := range a {
		a[i], b[i] = byte(i), byte(i)
	}
	b[31] ^= 1
	ea := a.Expand()
	assert.Equal(t, ea, a.Expand(), "expansion is deterministic, so a fleet shares tickets")
	eb := b.Expand()
	assert.NotEqual(t, ea.Name, eb.Name, "one bit of key changes the name")
	assert.NotEqual(t, ea.AESKey, eb.AESKey)
	assert.NotEqual(t, ea.HMACKey, eb.HMACKey)
	assert.NotEqual(t, ea.AESKey, ea.HMACKey, "the parts are independent")
	assert.NotEqual(t, ea.AESKey[:16], ea.Name[:], "the name does not reveal the key")
	assert.NotEqual(t, [32]byte(a), ea.AESKey, "the key is derived, not used as is")
}
