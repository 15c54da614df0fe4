//go:build (openssl && !boringssl) || (boringssl && !openssl)

package ssl

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"unsafe"
)

// ctxOwner is the single Go owner of an SSL_CTX. The Context holds one
// reference and every Conn made from it another, so the SSL_CTX and the
// handle its SNI callback uses outlive every connection that may call them.
type ctxOwner struct {
	ctx  *C.SSL_CTX
	sel  cgo.Handle // the SelectFunc; zero when there is none
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

// Context is an SSL_CTX: the configuration its Conns share.
type Context struct {
	owner   *ctxOwner
	closed  atomic.Bool
	once    sync.Once
	cleanup runtime.Cleanup
}

// NewContext builds an SSL_CTX from cfg.
func NewContext(cfg *ContextConfig) (*Context, error) {
	if initErr != nil {
		return nil, initErr
	}
	o := &ctxOwner{}
	if cfg.Select != nil {
		o.sel = cgo.NewHandle(cfg.Select)
	}
	var errbuf [256]C.char
	o.ctx = C.gantry_ctx_new(cbool(cfg.Server), C.uintptr_t(o.sel), &errbuf[0], C.size_t(len(errbuf)))
	if o.ctx == nil {
		if o.sel != 0 {
			o.sel.Delete()
		}
		return nil, fmt.Errorf("%s: SSL_CTX_new: %s", Flavor, C.GoString(&errbuf[0]))
	}
	o.refs.Store(1)
	if err := build(o.ctx, cfg); err != nil {
		o.release()
		return nil, err
	}
	c := &Context{owner: o}
	c.cleanup = runtime.AddCleanup(c, (*ctxOwner).release, o)
	return c, nil
}

// build applies cfg to a fresh SSL_CTX; the error names the first step
// that failed, with the library's reason where it gives one.
func build(ctx *C.SSL_CTX, cfg *ContextConfig) error {
	c12, c13, cg := C.CString(cfg.TLS12Ciphers), C.CString(cfg.TLS13Ciphers), C.CString(cfg.Groups)
	defer C.free(unsafe.Pointer(c12))
	defer C.free(unsafe.Pointer(c13))
	defer C.free(unsafe.Pointer(cg))
	if err := libCall("set protocol versions", func() C.int {
		return C.gantry_ctx_set_versions(ctx, C.int(cfg.MinVersion), C.int(cfg.MaxVersion))
	}); err != nil {
		return err
	}
	if err := libCall("set cipher suites", func() C.int { return C.gantry_ctx_set_ciphers(ctx, c12, c13) }); err != nil {
		return err
	}
	if err := libCall("set groups", func() C.int { return C.gantry_ctx_set_groups(ctx, cg) }); err != nil {
		return err
	}
	for i, ck := range cfg.Certs {
		chain := encodeChain(ck.Chain)
		cp, cn := cbytes(chain)
		kp, kn := cbytes(ck.Key)
		if err := libCall("load certificate and key", func() C.int {
			return C.gantry_ctx_add_cert(ctx, cp, cn, kp, kn)
		}); err != nil {
			if !cfg.Server {
				return fmt.Errorf("client certificate: %w", err)
			}
			return fmt.Errorf("certificate %d: %w", i, err)
		}
		if err := setCertSCTs(ctx, cfg.Server, i, ck.SCTList); err != nil {
			return err
		}
	}
	if cfg.Server {
		for i, ck := range cfg.Certs {
			if len(ck.OCSP) == 0 {
				continue
			}
			op, on := cbytes(ck.OCSP)
			if C.gantry_ctx_set_ocsp(ctx, C.int(i), op, on) != 1 {
				return fmt.Errorf("%s: certificate %d: set OCSP staple", Flavor, i)
			}
		}
	}
	if len(cfg.ALPN) > 0 {
		wp, wn := cbytes(cfg.ALPN)
		if C.gantry_ctx_set_alpn(ctx, cbool(cfg.Server), wp, wn) != 1 {
			return fmt.Errorf("%s: set ALPN protocols", Flavor)
		}
	}
	mode := C.GANTRY_VERIFY_NONE
	switch cfg.Verify {
	case VerifyPeer:
		mode = C.GANTRY_VERIFY_PEER
	case VerifyRequire:
		mode = C.GANTRY_VERIFY_REQUIRE
	}
	C.gantry_ctx_set_verify(ctx, C.int(mode))
	if !cfg.Server {
		C.gantry_ctx_set_client_cache(ctx, cbool(cfg.ClientSessions))
		return nil
	}
	ip, in := cbytes(cfg.SessionIDContext)
	if C.gantry_ctx_set_sid_ctx(ctx, ip, in) != 1 {
		return fmt.Errorf("%s: set session id context", Flavor)
	}
	for i, der := range cfg.ClientCAs {
		dp, dn := cbytes(der)
		if C.gantry_ctx_add_client_ca(ctx, dp, dn) != 1 {
			return fmt.Errorf("%s: add client CA %d", Flavor, i)
		}
	}
	tp, _ := cbytes(cfg.TicketKeys)
	if len(cfg.TicketKeys)%TicketKeySize != 0 ||
		C.gantry_ctx_set_tickets(ctx, tp, C.int(len(cfg.TicketKeys)/TicketKeySize)) != 1 {
		return fmt.Errorf("%s: install session ticket keys", Flavor)
	}
	return nil
}

// setCertSCTs gives certificate i the SCT list it is served with.
func setCertSCTs(ctx *C.SSL_CTX, server bool, i int, list []byte) error {
	if !server || len(list) == 0 {
		return nil
	}
	lp, ln := cbytes(list)
	return libCall(fmt.Sprintf("set the SCTs of certificate %d", i), func() C.int {
		return C.gantry_ctx_set_cert_scts(ctx, C.int(i), lp, ln)
	})
}

// Close drops the Context's reference; Conns already made keep theirs.
func (c *Context) Close() {
	c.once.Do(func() {
		c.closed.Store(true)
		c.cleanup.Stop()
		c.owner.release()
	})
}
