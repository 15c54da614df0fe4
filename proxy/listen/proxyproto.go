package listen

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// The PROXY protocol (HAProxy, versions 1 and 2) lets a load balancer in
// front of the proxy pass on the client's address. Only listeners that
// enable it read it, and there it is mandatory for the trusted balancers
// and refused to everyone else: a client can neither forge a header where
// none is expected, nor skip it where one is, nor speak to the listener
// around the balancer.

// ProxyProtocol is ProxyProtocolOptions compiled.
type ProxyProtocol struct {
	trusted []netip.Prefix
}

// NewProxyProtocol compiles o; it returns nil when o is not enabled.
func NewProxyProtocol(o ProxyProtocolOptions) (*ProxyProtocol, error) {
	if !o.Enabled {
		return nil, nil
	}
	if len(o.Trusted) == 0 {
		return nil, errors.New("proxy_protocol is enabled with no trusted peers: list the load balancers' addresses; 0.0.0.0/0 and ::/0 accept any")
	}
	trusted, err := ParsePrefixes("proxy_protocol trusted", o.Trusted)
	if err != nil {
		return nil, err
	}
	return &ProxyProtocol{trusted: trusted}, nil
}

// Trusts reports whether the socket peer remote may send a PROXY header;
// a connection from any other peer is to be closed unread.
func (pp *ProxyProtocol) Trusts(remote net.Addr) bool {
	ip := addrOf(remote)
	return ip.IsValid() && containsAddr(pp.trusted, ip)
}

// ReadHeader reads the PROXY header c must start with and returns the
// connection to use from then on: bytes read past the header are replayed,
// and its RemoteAddr is the client the header names.
func (pp *ProxyProtocol) ReadHeader(c net.Conn) (net.Conn, error) { return readProxyHeader(c) }

var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

const proxyV1Max = 107 // the longest v1 line, CRLF included

// ErrProxyHeader is the error for a malformed PROXY header.
var ErrProxyHeader = errors.New("invalid PROXY protocol header")

// readProxyHeader reads a PROXY header from c and returns the conn to use
// from then on (replaying bytes read past the header) with the client
// address as its RemoteAddr.
func readProxyHeader(c net.Conn) (net.Conn, error) {
	br := bufio.NewReaderSize(c, 256)
	first, err := br.Peek(1)
	if err != nil {
		return nil, err
	}
	var remote net.Addr
	switch first[0] {
	case 'P':
		remote, err = readProxyV1(br)
	case '\r':
		remote, err = readProxyV2(br)
	default:
		err = ErrProxyHeader
	}
	if err != nil {
		return nil, err
	}
	rc := &replayConn{Conn: c, remote: remote}
	if n := br.Buffered(); n > 0 {
		rc.pre, _ = br.Peek(n)
		rc.pre = bytes.Clone(rc.pre)
	}
	return rc, nil
}

func readProxyV1(br *bufio.Reader) (net.Addr, error) {
	var line []byte
	for len(line) < proxyV1Max {
		b, err := br.ReadByte()
		if err != nil {
			return nil, err
		}
		line = append(line, b)
		if b == '\n' {
			break
		}
	}
	s, ok := strings.CutSuffix(string(line), "\r\n")
	if !ok {
		return nil, fmt.Errorf("%w: v1 line not ended by CRLF within %d bytes", ErrProxyHeader, proxyV1Max)
	}
	f := strings.Split(s, " ")
	if len(f) < 2 || f[0] != "PROXY" {
		return nil, ErrProxyHeader
	}
	if f[1] == "UNKNOWN" {
		return nil, nil
	}
	if len(f) != 6 || (f[1] != "TCP4" && f[1] != "TCP6") {
		return nil, fmt.Errorf("%w: v1 %q", ErrProxyHeader, s)
	}
	ip, err := netip.ParseAddr(f[2])
	if err != nil || (f[1] == "TCP4") != ip.Is4() {
		return nil, fmt.Errorf("%w: v1 source %q", ErrProxyHeader, f[2])
	}
	port, err := strconv.ParseUint(f[4], 10, 16)
	if err != nil || (len(f[4]) > 1 && f[4][0] == '0') {
		return nil, fmt.Errorf("%w: v1 source port %q", ErrProxyHeader, f[4])
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))), nil
}

func readProxyV2(br *bufio.Reader) (net.Addr, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, err
	}
	if !bytes.Equal(hdr[:12], proxyV2Sig) || hdr[12]>>4 != 2 {
		return nil, fmt.Errorf("%w: v2 signature or version", ErrProxyHeader)
	}
	cmd, fam := hdr[12]&0x0f, hdr[13]
	n := int(binary.BigEndian.Uint16(hdr[14:]))
	if n > 4096 {
		return nil, fmt.Errorf("%w: v2 length %d", ErrProxyHeader, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return nil, err
	}
	switch cmd {
	case 0: // LOCAL: a health check from the balancer itself
		return nil, nil
	case 1: // PROXY
	default:
		return nil, fmt.Errorf("%w: v2 command %d", ErrProxyHeader, cmd)
	}
	switch fam {
	case 0x11: // TCP over IPv4
		if n < 12 {
			return nil, fmt.Errorf("%w: v2 IPv4 block too short", ErrProxyHeader)
		}
		ip := netip.AddrFrom4([4]byte(body[0:4]))
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, binary.BigEndian.Uint16(body[8:10]))), nil
	case 0x21: // TCP over IPv6
		if n < 36 {
			return nil, fmt.Errorf("%w: v2 IPv6 block too short", ErrProxyHeader)
		}
		ip := netip.AddrFrom16([16]byte(body[0:16]))
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, binary.BigEndian.Uint16(body[32:34]))), nil
	case 0x00: // UNSPEC
		return nil, nil
	}
	return nil, fmt.Errorf("%w: v2 family 0x%02x", ErrProxyHeader, fam)
}

// replayConn is a connection whose first bytes were read already, with the
// client address a PROXY header gave.
type replayConn struct {
	net.Conn
	pre    []byte
	remote net.Addr // nil: keep the socket's
}

// NetConn returns the socket; only reads are replayed, writes go straight
// to it.
func (c *replayConn) NetConn() net.Conn { return c.Conn }

func (c *replayConn) Read(b []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(b, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

func (c *replayConn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}
