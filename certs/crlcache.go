package certs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// crlCacheFile names the copy of the CRL of rawURL in dir by a hash of the
// URL: URLs have characters and lengths no file name can hold.
func crlCacheFile(dir, rawURL string) string {
	sum := sha256.Sum256([]byte(rawURL))
	return filepath.Join(dir, hex.EncodeToString(sum[:16])+".crl")
}

// readCachedCRL reads a copy written by writeCachedCRL. Its signature is
// checked where it is used, against the issuer of the certificate at hand,
// as a fetched list's is.
func readCachedCRL(file string, maxBytes int64) (*gantrytls.FetchedCRL, error) {
	fh, err := os.Open(file) // #nosec G304 -- a name made by crlCacheFile in the configured directory
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxBytes {
		return nil, errors.New("larger than crl_fetch.max_bytes")
	}
	list, err := parseCRLBody(data)
	if err != nil {
		return nil, err
	}
	return gantrytls.NewFetchedCRL(list), nil
}

// writeCachedCRL replaces file with der, mode 0600, atomically.
func writeCachedCRL(file string, der []byte) error { return WriteFileAtomic(file, der, 0o600) }
