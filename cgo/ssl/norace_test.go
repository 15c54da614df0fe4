//go:build !race && ((openssl && !boringssl) || (boringssl && !openssl))

package ssl

const raceEnabled = false
