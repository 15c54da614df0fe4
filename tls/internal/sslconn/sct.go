package sslconn

import gtls "github.com/gantry-proxy/gantry/tls"

// splitSCTList unpacks the SignedCertificateTimestampList a handshake
// carried, with tls.SplitSCTList; a malformed list yields nil rather than
// part of it. Most handshakes carry none: that costs one length check.
func splitSCTList(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	list, err := gtls.SplitSCTList(b)
	if err != nil {
		return nil
	}
	return list
}
