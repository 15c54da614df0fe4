//go:build !asan && ((openssl && !boringssl) || (boringssl && !openssl))

package ssl

const asanEnabled = false
