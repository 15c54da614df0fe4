package tls

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	"golang.org/x/crypto/ocsp"
)

// The extensions that carry SCT lists (RFC 6962, 3.3): in the certificate,
// and in an OCSP response's singleExtensions.
var (
	oidEmbeddedSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
	oidOCSPSCTList     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 5}
)

// SCT sources, as they appear in CTError.
const (
	sctEmbedded = "embedded"
	sctTLS      = "tls extension"
	sctOCSP     = "ocsp staple"
)

// CTError is why a server certificate failed a CTPolicy: how many distinct
// configured logs had a valid SCT, how many were required, and what was
// wrong with every SCT that did not count.
type CTError struct {
	Required  int
	ValidLogs []string // names of the logs with a valid SCT, sorted
	Problems  []string // "source: log: why", one per SCT refused
}

func (e *CTError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "certificate transparency: %d valid SCTs from distinct configured logs, %d required", len(e.ValidLogs), e.Required)
	if len(e.ValidLogs) > 0 {
		fmt.Fprintf(&b, "; valid from %s", strings.Join(e.ValidLogs, ", "))
	}
	if len(e.Problems) == 0 {
		b.WriteString("; the server gave no SCT (none embedded, in the TLS extension or in a stapled OCSP response)")
	} else {
		fmt.Fprintf(&b, "; refused: %s", strings.Join(e.Problems, "; "))
	}
	return b.String()
}

// ChecksSCTs reports whether the verifier has a Certificate Transparency
// policy, so that a backend looks for SCTs only then. A nil verifier has
// none.
func (v *PeerVerifier) ChecksSCTs() bool { return v != nil && (v.ct != nil || v.ctErr != nil) }

// VerifySCTs applies the Certificate Transparency policy to a server
// certificate that Verify accepted: certs and chains are what Verify
// returned, tlsSCTs the SCTs of the TLS extension and ocspStaple the
// stapled OCSP response, either empty when the server sent none. Without a
// policy it accepts everything. A refusal is a *VerifyError wrapping a
// *CTError; every backend calls it with what its handshake delivered.
func (v *PeerVerifier) VerifySCTs(certs []*x509.Certificate, chains [][]*x509.Certificate, tlsSCTs [][]byte, ocspStaple []byte) error {
	if v.ctErr != nil {
		return &VerifyError{Alert: AlertBadCertificate, Err: v.ctErr}
	}
	if v.ct == nil {
		return nil
	}
	if len(certs) == 0 {
		return &VerifyError{Alert: AlertCertificateRequired, Err: ErrNoCertificate}
	}
	if err := v.ct.check(certs, chains, tlsSCTs, ocspStaple, time.Now()); err != nil {
		return &VerifyError{Alert: AlertBadCertificate, Err: err}
	}
	return nil
}

// ctCandidate is one SCT with where it came from.
type ctCandidate struct {
	source string
	raw    []byte
}

func (c *ctChecker) check(certs []*x509.Certificate, chains [][]*x509.Certificate, tlsSCTs [][]byte, ocspStaple []byte, now time.Time) error {
	leaf := certs[0]
	var issuer *x509.Certificate
	switch {
	case len(chains) > 0 && len(chains[0]) > 1:
		issuer = chains[0][1]
	case len(certs) > 1:
		issuer = certs[1]
	}
	var cands []ctCandidate
	var problems []string
	if list, ok, err := extensionSCTList(leaf.Extensions, oidEmbeddedSCTList); ok {
		if err != nil {
			problems = append(problems, sctEmbedded+": "+err.Error())
		}
		for _, raw := range list {
			cands = append(cands, ctCandidate{sctEmbedded, raw})
		}
	}
	for _, raw := range tlsSCTs {
		cands = append(cands, ctCandidate{sctTLS, raw})
	}
	if len(ocspStaple) > 0 {
		list, err := ocspSCTList(ocspStaple, leaf, issuer)
		if err != nil {
			problems = append(problems, sctOCSP+": "+err.Error())
		}
		for _, raw := range list {
			cands = append(cands, ctCandidate{sctOCSP, raw})
		}
	}

	valid := map[string]bool{}
	for _, cand := range cands {
		name, err := c.verifyOne(cand, leaf, issuer, now)
		if err != nil {
			problems = append(problems, cand.source+": "+err.Error())
			continue
		}
		valid[name] = true
	}
	if len(valid) >= c.min {
		return nil
	}
	e := &CTError{Required: c.min, Problems: problems}
	for name := range valid {
		e.ValidLogs = append(e.ValidLogs, name)
	}
	sort.Strings(e.ValidLogs)
	return e
}

// verifyOne checks one SCT and returns the name of the log that signed it.
func (c *ctChecker) verifyOne(cand ctCandidate, leaf, issuer *x509.Certificate, now time.Time) (string, error) {
	var sct ct.SignedCertificateTimestamp
	rest, err := cttls.Unmarshal(cand.raw, &sct)
	if err != nil || len(rest) > 0 {
		return "", errors.New("malformed SCT")
	}
	if sct.SCTVersion != ct.V1 {
		return "", fmt.Errorf("SCT version %d is not v1", sct.SCTVersion)
	}
	log, ok := c.logs[sct.LogID.KeyID]
	if !ok {
		return "", fmt.Errorf("SCT from log ID %s, which is not configured", base64.StdEncoding.EncodeToString(sct.LogID.KeyID[:]))
	}
	if sct.Timestamp > uint64(now.UnixMilli()) { // #nosec G115 -- a time after 1970
		return "", fmt.Errorf("log %q: SCT timestamp %s is in the future", log.name, time.UnixMilli(int64(sct.Timestamp)).UTC().Format(time.RFC3339)) // #nosec G115 -- compared with now just above
	}
	var mtl *ct.MerkleTreeLeaf
	if cand.source == sctEmbedded {
		if issuer == nil {
			return "", fmt.Errorf("log %q: no issuer certificate to rebuild the precertificate an embedded SCT signs", log.name)
		}
		// The fork's Certificate carries only the raw fields the leaf is
		// built from; nothing is parsed or verified by it.
		chain := []*ctx509.Certificate{{RawTBSCertificate: leaf.RawTBSCertificate}, {RawSubjectPublicKeyInfo: issuer.RawSubjectPublicKeyInfo}}
		mtl, err = ct.MerkleTreeLeafForEmbeddedSCT(chain, sct.Timestamp)
	} else {
		mtl, err = ct.MerkleTreeLeafFromChain([]*ctx509.Certificate{{Raw: leaf.Raw}}, ct.X509LogEntryType, sct.Timestamp)
	}
	if err != nil {
		return "", fmt.Errorf("log %q: %w", log.name, err)
	}
	if err := log.sv.VerifySCTSignature(sct, ct.LogEntry{Leaf: *mtl}); err != nil {
		return "", fmt.Errorf("log %q: SCT signature does not verify", log.name)
	}
	return log.name, nil
}

// extensionSCTList finds the extension oid and splits the SCT list its
// OCTET STRING holds; ok says the extension is present.
func extensionSCTList(exts []pkix.Extension, oid asn1.ObjectIdentifier) (list [][]byte, ok bool, err error) {
	for _, ext := range exts {
		if !ext.Id.Equal(oid) {
			continue
		}
		var inner []byte
		if rest, err := asn1.Unmarshal(ext.Value, &inner); err != nil || len(rest) > 0 {
			return nil, true, errors.New("SCT list extension is not an OCTET STRING")
		}
		list, err := SplitSCTList(inner)
		return list, true, err
	}
	return nil, false, nil
}

// ocspSCTList takes the SCT list out of the single response for leaf.
func ocspSCTList(staple []byte, leaf, issuer *x509.Certificate) ([][]byte, error) {
	resp, err := ocsp.ParseResponseForCert(staple, leaf, issuer)
	if err != nil {
		return nil, fmt.Errorf("stapled OCSP response unusable: %w", err)
	}
	list, _, err := extensionSCTList(resp.Extensions, oidOCSPSCTList)
	return list, err
}

// SplitSCTList unpacks a SignedCertificateTimestampList (RFC 6962, 3.3):
// a 16-bit length, then 16-bit length-prefixed SCTs.
func SplitSCTList(b []byte) ([][]byte, error) {
	var list ctx509.SignedCertificateTimestampList
	rest, err := cttls.Unmarshal(b, &list)
	if err != nil || len(rest) > 0 {
		return nil, errors.New("malformed SCT list")
	}
	out := make([][]byte, len(list.SCTList))
	for i, s := range list.SCTList {
		out[i] = s.Val
	}
	return out, nil
}

// JoinSCTList is SplitSCTList's inverse, for serving SCTs in the TLS
// extension on a backend that takes the list whole.
func JoinSCTList(scts [][]byte) ([]byte, error) {
	list := ctx509.SignedCertificateTimestampList{SCTList: make([]ctx509.SerializedSCT, len(scts))}
	for i, s := range scts {
		list.SCTList[i].Val = s
	}
	b, err := cttls.Marshal(list)
	if err != nil {
		return nil, fmt.Errorf("encode SCT list: %w", err)
	}
	return b, nil
}

// CheckSCTs checks SCTs a server is to serve: at least one, each a
// well-formed v1 SCT, and all of them fitting in the extension. Whether
// they verify is for the clients and their logs.
func CheckSCTs(scts [][]byte) error {
	if len(scts) == 0 {
		return errors.New("the SCT list is empty")
	}
	for i, raw := range scts {
		var sct ct.SignedCertificateTimestamp
		rest, err := cttls.Unmarshal(raw, &sct)
		if err != nil || len(rest) > 0 {
			return fmt.Errorf("SCT %d is malformed", i)
		}
		if sct.SCTVersion != ct.V1 {
			return fmt.Errorf("SCT %d has version %d (want v1)", i, sct.SCTVersion)
		}
	}
	_, err := JoinSCTList(scts)
	return err
}
