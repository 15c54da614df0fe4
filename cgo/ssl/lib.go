//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"runtime/cgo"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	gtls "github.com/gantry-proxy/gantry/tls"
)

var initErr error

func init() {
	if C.gantry_init() != 1 {
		initErr = fmt.Errorf("%s: cannot allocate ex_data indices", Flavor)
	}
}

// Version is the library's own version string, e.g. "OpenSSL 3.0.19 27 Jan
// 2026". BoringSSL reports only "BoringSSL" here; see Library.
func Version() string { return C.GoString(C.gantry_version()) }

// Library describes the linked library for `gantry backends`.
func Library() string {
	if C.gantry_is_boringssl() == 1 {
		// Debian's package has no version API beyond the API level.
		return fmt.Sprintf("%s (Debian android-libboringssl, API version %d)", Version(), int(C.gantry_api_version()))
	}
	return Version()
}

// groupNames are the library spellings of Gantry's groups.
var groupNames = map[gtls.Group]string{
	gtls.X25519MLKEM768: "X25519MLKEM768",
	gtls.X25519:         "X25519",
	gtls.P256:           "P-256",
	gtls.P384:           "P-384",
}

var (
	capsOnce sync.Once
	caps     gtls.Capabilities
)

// Capabilities probes the library once: a group is listed only if the
// library accepts it, so a Debian build without the post-quantum hybrid
// never offers it.
func Capabilities() gtls.Capabilities {
	capsOnce.Do(func() {
		caps.Versions = []uint16{gtls.VersionTLS12, gtls.VersionTLS13}
		// BoringSSL has no setting for the TLS 1.3 suites.
		caps.FixedTLS13Suites = C.gantry_is_boringssl() == 1
		for _, g := range []gtls.Group{gtls.X25519MLKEM768, gtls.X25519, gtls.P256, gtls.P384} {
			name := C.CString(groupNames[g])
			ok := C.gantry_probe_group(name) == 1
			C.free(unsafe.Pointer(name))
			if ok {
				caps.Groups = append(caps.Groups, g)
			}
		}
		for _, s := range gtls.Suites() {
			caps.CipherSuites = append(caps.CipherSuites, s.ID)
		}
	})
	return gtls.Capabilities{
		Versions:     append([]uint16(nil), caps.Versions...),
		Groups:       append([]gtls.Group(nil), caps.Groups...),
		CipherSuites: append([]uint16(nil), caps.CipherSuites...),
	}
}

// ctxOwner is the single Go owner of an SSL_CTX. The Server or Client holds
// one reference and every Conn made from it another, so the context and the
// handle its callbacks use outlive every connection that may call them.
type ctxOwner struct {
	ctx  *C.SSL_CTX
	sel  cgo.Handle // certificate selector; zero when there is none
	refs atomic.Int64
}

func (o *ctxOwner) acquire() bool {
	for {
		r := o.refs.Load()
		if r <= 0 {
			return false
		}
		if o.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

func (o *ctxOwner) release() {
	if o.refs.Add(-1) != 0 {
		return
	}
	C.gantry_ctx_free(o.ctx)
	o.ctx = nil
	if o.sel != 0 {
		o.sel.Delete()
	}
}

// releaser drops one reference exactly once, from Close or from the
// cleanup that runs when its holder is collected unclosed.
type releaser struct {
	once  sync.Once
	owner *ctxOwner
	then  func()
}

func (r *releaser) release() {
	r.once.Do(func() {
		if r.then != nil {
			r.then()
		}
		r.owner.release()
	})
}

func newCtx(server bool, sel cgo.Handle) (*ctxOwner, error) {
	if initErr != nil {
		return nil, initErr
	}
	var errbuf [256]C.char
	ctx := C.gantry_ctx_new(cbool(server), C.uintptr_t(sel), &errbuf[0], C.size_t(len(errbuf)))
	if ctx == nil {
		return nil, fmt.Errorf("%s: SSL_CTX_new: %s", Flavor, C.GoString(&errbuf[0]))
	}
	o := &ctxOwner{ctx: ctx, sel: sel}
	o.refs.Store(1)
	return o, nil
}

// libErr drains the thread's error queue. The queue is per OS thread, so
// callers lock the goroutine to its thread around the failing call and this
// one (see lockThread).
func libErr(what string) error {
	var buf [C.GANTRY_ERR_LEN]C.char
	C.gantry_errors(&buf[0], C.size_t(len(buf)), nil)
	msg := C.GoString(&buf[0])
	if msg == "" {
		msg = "failed"
	}
	return fmt.Errorf("%s: %s: %s", Flavor, what, msg)
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// cbytes returns a C view of a Go byte slice for the duration of one call.
func cbytes(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// encodeChain frames DER certificates the way shim.c's blob reader expects.
func encodeChain(ders [][]byte) []byte {
	n := 0
	for _, d := range ders {
		n += 4 + len(d)
	}
	out := make([]byte, 0, n)
	for _, d := range ders {
		out = binary.BigEndian.AppendUint32(out, uint32(len(d)))
		out = append(out, d...)
	}
	return out
}

func decodeChain(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errors.New("truncated certificate chain")
		}
		n := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(n) > uint64(len(b)) {
			return nil, errors.New("truncated certificate chain")
		}
		out = append(out, b[:n:n])
		b = b[n:]
	}
	return out, nil
}

// lockThread keeps the goroutine on one OS thread so that a library error
// and the libErr call reading it see the same thread-local error queue.
func lockThread() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

// configure applies resolved policy parameters to a context.
func configure(o *ctxOwner, p gtls.Params, client bool) error {
	defer lockThread()()
	C.gantry_clear_errors()
	if C.gantry_ctx_set_versions(o.ctx, C.int(p.MinVersion), C.int(p.MaxVersion)) != 1 {
		return libErr("set protocol versions")
	}
	var tls12, tls13 []string
	for _, s := range p.TLS12Suites {
		tls12 = append(tls12, s.OpenSSLName)
	}
	for _, s := range p.TLS13Suites {
		tls13 = append(tls13, s.Name)
	}
	if C.gantry_is_boringssl() == 1 && len(tls13) > 0 && len(tls13) != countTLS13() {
		return fmt.Errorf("%s: TLS 1.3 cipher suites cannot be narrowed: BoringSSL always enables all of them", Flavor)
	}
	c12, c13 := C.CString(strings.Join(tls12, ":")), C.CString(strings.Join(tls13, ":"))
	ok := C.gantry_ctx_set_ciphers(o.ctx, c12, c13) == 1
	C.free(unsafe.Pointer(c12))
	C.free(unsafe.Pointer(c13))
	if !ok {
		return libErr("set cipher suites")
	}
	var groups []string
	for _, g := range p.Groups {
		groups = append(groups, groupNames[g])
	}
	if client && p.MinVersion <= gtls.VersionTLS12 {
		// In TLS 1.2 an ECDSA certificate must be on a curve the client
		// lists among its groups (RFC 8422): OpenSSL servers and BoringSSL
		// clients enforce it, so a client narrowed to X25519 could never
		// use a P-256 certificate. The
		// certificate curves go last: the server still picks the key
		// exchange from the configured groups first.
		for _, g := range []gtls.Group{gtls.P256, gtls.P384} {
			if !slices.Contains(p.Groups, g) {
				groups = append(groups, groupNames[g])
			}
		}
	}
	cg := C.CString(strings.Join(groups, ":"))
	ok = C.gantry_ctx_set_groups(o.ctx, cg) == 1
	C.free(unsafe.Pointer(cg))
	if !ok {
		return libErr("set groups")
	}
	return nil
}

func countTLS13() int {
	n := 0
	for _, s := range gtls.Suites() {
		if s.TLS13 {
			n++
		}
	}
	return n
}

func addCert(o *ctxOwner, cert gtls.Certificate) error {
	key, err := x509.MarshalPKCS8PrivateKey(cert.Key)
	if err != nil {
		return fmt.Errorf("%s: encode private key: %w", Flavor, err)
	}
	chain := encodeChain(cert.Chain)
	defer lockThread()()
	C.gantry_clear_errors()
	cp, cn := cbytes(chain)
	kp, kn := cbytes(key)
	ok := C.gantry_ctx_add_cert(o.ctx, cp, cn, kp, kn) == 1
	clear(key)
	if !ok {
		return libErr("load certificate and key")
	}
	return nil
}

func setALPN(o *ctxOwner, server bool, protos []string) error {
	if len(protos) == 0 {
		return nil
	}
	var wire []byte
	for _, p := range protos {
		wire = append(wire, byte(len(p)))
		wire = append(wire, p...)
	}
	wp, wn := cbytes(wire)
	if C.gantry_ctx_set_alpn(o.ctx, cbool(server), wp, wn) != 1 {
		return fmt.Errorf("%s: set ALPN protocols", Flavor)
	}
	return nil
}

func setTickets(o *ctxOwner, disabled bool, keys []gtls.SessionTicketKey) error {
	if disabled {
		C.gantry_ctx_set_tickets(o.ctx, nil, 0)
		return nil
	}
	if len(keys) == 0 {
		// A random key per Server: tickets survive only as long as it does,
		// which is what "no keys configured" promises.
		var k gtls.SessionTicketKey
		if _, err := rand.Read(k[:]); err != nil {
			return fmt.Errorf("%s: session ticket key: %w", Flavor, err)
		}
		keys = []gtls.SessionTicketKey{k}
	}
	material := make([]byte, 0, 80*len(keys))
	for _, k := range keys {
		m := k.Expand()
		material = append(material, m.Name[:]...)
		material = append(material, m.AESKey[:]...)
		material = append(material, m.HMACKey[:]...)
	}
	mp, _ := cbytes(material)
	ok := C.gantry_ctx_set_tickets(o.ctx, mp, C.int(len(keys))) == 1
	clear(material)
	if !ok {
		return fmt.Errorf("%s: install session ticket keys", Flavor)
	}
	return nil
}

// cHeapInUse is glibc's count of live malloc'd bytes, for the leak test.
func cHeapInUse() int64 { return int64(C.gantry_c_heap_in_use()) }
