package tlstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"

	"github.com/gantry-proxy/gantry/tls"
)

// CTLog is a Certificate Transparency log made for a test: an ECDSA P-256
// key that signs SCTs (RFC 6962, 3.2) for whatever certificate it is given.
// It submits nothing anywhere; the SCTs are minted in memory.
type CTLog struct {
	Name string
	key  *ecdsa.PrivateKey
	spki []byte
}

// NewCTLog makes a log with a fresh key.
func NewCTLog(name string) (*CTLog, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	return &CTLog{Name: name, key: key, spki: spki}, nil
}

// PublicKeyBase64 is the log's key as log lists publish it.
func (l *CTLog) PublicKeyBase64() string { return base64.StdEncoding.EncodeToString(l.spki) }

// PublicKeyPEM is the log's key as a PEM PUBLIC KEY block.
func (l *CTLog) PublicKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: l.spki})
}

// Config is the log as a CTPolicy names it.
func (l *CTLog) Config() tls.CTLog { return tls.CTLog{Name: l.Name, Key: l.PublicKeyBase64()} }

// SCTForCert is a serialized SCT for the final certificate der, as a log
// returns for add-chain and as servers send in the TLS extension or a
// stapled OCSP response.
func (l *CTLog) SCTForCert(der []byte) ([]byte, error) {
	leaf, err := ct.MerkleTreeLeafFromChain([]*ctx509.Certificate{{Raw: der}}, ct.X509LogEntryType, l.timestamp())
	if err != nil {
		return nil, err
	}
	return l.sign(leaf)
}

// SCTForPrecert is a serialized SCT for a precertificate: tbs is the final
// certificate's TBSCertificate without the SCT list extension, issuerSPKI
// the DER public key of its issuer.
func (l *CTLog) SCTForPrecert(tbs, issuerSPKI []byte) ([]byte, error) {
	leaf := &ct.MerkleTreeLeaf{
		Version:  ct.V1,
		LeafType: ct.TimestampedEntryLeafType,
		TimestampedEntry: &ct.TimestampedEntry{
			EntryType: ct.PrecertLogEntryType,
			Timestamp: l.timestamp(),
			PrecertEntry: &ct.PreCert{
				IssuerKeyHash:  sha256.Sum256(issuerSPKI),
				TBSCertificate: tbs,
			},
		},
	}
	return l.sign(leaf)
}

// timestamp is a second ago: an SCT from the future is refused.
func (l *CTLog) timestamp() uint64 {
	return uint64(time.Now().Add(-time.Second).UnixMilli()) // #nosec G115 -- after 1970
}

// sign builds the digitally-signed struct of RFC 6962, 3.2 over leaf and
// returns the SCT in its TLS encoding.
func (l *CTLog) sign(leaf *ct.MerkleTreeLeaf) ([]byte, error) {
	sct := ct.SignedCertificateTimestamp{
		SCTVersion: ct.V1,
		LogID:      ct.LogID{KeyID: sha256.Sum256(l.spki)},
		Timestamp:  leaf.TimestampedEntry.Timestamp,
	}
	input, err := ct.SerializeSCTSignatureInput(sct, ct.LogEntry{Leaf: *leaf})
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(input)
	sig, err := l.key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	sct.Signature = ct.DigitallySigned{
		Algorithm: cttls.SignatureAndHashAlgorithm{Hash: cttls.SHA256, Signature: cttls.ECDSA},
		Signature: sig,
	}
	return cttls.Marshal(sct)
}

// SCTListExtension is the certificate extension (OID 1.3.6.1.4.1.11129.2.4.2)
// that embeds scts; the same encoding, under 1.3.6.1.4.1.11129.2.4.5, goes
// into an OCSP response.
func SCTListExtension(oid asn1.ObjectIdentifier, scts ...[]byte) (pkix.Extension, error) {
	list, err := tls.JoinSCTList(scts)
	if err != nil {
		return pkix.Extension{}, err
	}
	val, err := asn1.Marshal(list)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oid, Value: val}, nil
}

// The OIDs of SCT lists in a certificate and in an OCSP response.
var (
	OIDEmbeddedSCTs = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
	OIDOCSPSCTs     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 5}
)

// LeafWithEmbeddedSCTs issues a server certificate for names by the
// suite's ECDSA root, with an SCT from each of logs embedded, as a CA does
// after submitting the precertificate: the SCTs sign the TBSCertificate as
// it is without the SCT list extension, which is what a verifier rebuilds.
func (p *PKI) LeafWithEmbeddedSCTs(names []string, logs ...*CTLog) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	sn, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: names[0]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
	tmpl.DNSNames = names
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	// The signature is random; only the TBS matters for the SCTs.
	pre, err := x509.CreateCertificate(rand.Reader, tmpl, p.ECDSACA, key.Public(), p.issuerOfECDSACA().key)
	if err != nil {
		return tls.Certificate{}, err
	}
	preCert, err := x509.ParseCertificate(pre)
	if err != nil {
		return tls.Certificate{}, err
	}
	var scts [][]byte
	for _, l := range logs {
		sct, err := l.SCTForPrecert(preCert.RawTBSCertificate, p.ECDSACA.RawSubjectPublicKeyInfo)
		if err != nil {
			return tls.Certificate{}, err
		}
		scts = append(scts, sct)
	}
	ext, err := SCTListExtension(OIDEmbeddedSCTs, scts...)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl.ExtraExtensions = []pkix.Extension{ext}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ECDSACA, key.Public(), p.issuerOfECDSACA().key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue certificate with SCTs: %w", err)
	}
	return tls.NewCertificate([][]byte{der}, key)
}
