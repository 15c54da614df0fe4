package proxy

import (
	"errors"
	"net"
	"time"

	"github.com/gantry-proxy/gantry/proxy/listen"
	"github.com/gantry-proxy/gantry/tls/clienthello"
)

// compileHello sets up what the listener does with the ClientHello before
// its backend's handshake: read it (inspect_hello, on by default), judge
// its server name, and let the filter judge its fingerprint.
func (l *listener) compileHello(o *ListenerTLS, f *listen.Filter) error {
	l.inspect = o.InspectHello == nil || *o.InspectHello
	sni, err := listen.NewSNIPolicy(o.SNI)
	if err != nil {
		return errors.New("tls.sni." + err.Error())
	}
	if !l.inspect && (sni != nil || f.JudgesHello()) {
		return errors.New("tls.inspect_hello is false, but tls.sni or server.filter.ja4 judge the ClientHello")
	}
	l.sni = sni
	return nil
}

// unrecognizedName is the fatal unrecognized_name alert (RFC 8446, 6.2:
// level 2, description 112) in a plaintext record, what a server sends
// when it has no certificate for the name asked.
var unrecognizedName = []byte{21, 3, 3, 0, 2, 2, 112}

// inspectHello reads the ClientHello off conn and judges it. It returns
// the connection the backend must handshake on, the bytes read replayed
// in front of it, or nil when the hello is refused (logged, counted, and
// answered with an alert when the name was refused).
func (p *Proxy) inspectHello(l *listener, c *trackedConn, conn net.Conn) net.Conn {
	hello, raw, err := clienthello.Read(conn, clienthello.DefaultLimit)
	if err != nil {
		reason := listen.ReasonHelloBad
		switch {
		case errors.Is(err, clienthello.ErrTooLarge):
			reason = listen.ReasonHelloTooLarge
		case errors.Is(err, clienthello.ErrTooManyRecords):
			reason = listen.ReasonHelloRecords
		case errors.Is(err, clienthello.ErrNotTLS):
			reason = listen.ReasonHelloNotTLS
		case len(raw) == 0:
			return nil // closed or timed out before a byte: nothing to count
		}
		p.refuseHello(l, c, reason, "", err)
		return nil
	}
	ja4 := hello.JA4()
	c.ja4 = ja4
	if reason := l.sni.Check(hello.ServerName, hello.HasServerName); reason != "" {
		// Counted first, so whoever reads the alert finds it counted.
		p.refuseHello(l, c, reason, ja4, nil, "sni", hello.ServerName)
		// Before any certificate: the client learns nothing about which
		// names are served.
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = conn.Write(unrecognizedName)
		return nil
	}
	if reason := p.filter.AdmitJA4(ja4); reason != "" {
		p.refuseHello(l, c, reason, ja4, nil)
		return nil
	}
	return clienthello.Replay(conn, raw)
}

// refuseHello logs and counts a connection refused on its ClientHello.
func (p *Proxy) refuseHello(l *listener, c net.Conn, reason, ja4 string, err error, extra ...any) {
	if m, ok := p.metrics.(HelloMetrics); ok {
		m.ClientHelloRefused(l.name, reason)
	}
	args := append([]any{"listener", l.name, "client", c.RemoteAddr().String(), "reason", reason}, extra...)
	if ja4 != "" {
		args = append(args, "ja4", ja4)
	}
	if err != nil {
		args = append(args, "err", err)
		// Malformed hellos are what scanners send all day: debug, not
		// warn, so they cannot flood the log.
		p.log.Debug("ClientHello refused", args...)
		return
	}
	p.log.Info("ClientHello refused", args...)
}
