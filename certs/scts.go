package certs

import (
	"encoding/base64"
	"fmt"
	"strings"

	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// loadSCTs reads the SCT file of a key pair, if it names one: a
// SignedCertificateTimestampList in its TLS encoding, raw or as base64
// text. Each SCT in it must parse; whether it verifies is for clients.
func loadSCTs(errs *fieldErrors, field, file string) ([][]byte, bool) {
	if file == "" {
		return nil, true
	}
	data, err := readFile(file)
	if err != nil {
		errs.add(field, err)
		return nil, false
	}
	list, err := gantrytls.SplitSCTList(data)
	if err != nil {
		text := strings.Join(strings.Fields(string(data)), "")
		if raw, b64err := base64.StdEncoding.DecodeString(text); b64err == nil {
			list, err = gantrytls.SplitSCTList(raw)
		}
	}
	if err == nil {
		err = gantrytls.CheckSCTs(list)
	}
	if err != nil {
		errs.add(field, fmt.Errorf("%s: %w (want one SignedCertificateTimestampList, RFC 6962 section 3.3, raw or base64)", file, err))
		return nil, false
	}
	return list, true
}
