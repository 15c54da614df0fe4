package h1

import "bytes"

// Request is a parsed request head. Slices point into the Reader's buffer
// (see Reader). The zero value is ready; reuse one Request per connection.
type Request struct {
	Method []byte
	// Target is the request-target as received: origin-form ("/p?q"),
	// absolute-form ("http://host/p"), authority-form ("host:443", CONNECT
	// only) or "*" (OPTIONS only).
	Target []byte
	// Minor is the HTTP/1 minor version, 0 or 1.
	Minor  int
	Header Header
	// Host is the target authority: the absolute-form target's authority
	// when the target has one, otherwise the Host field (possibly empty).
	// A request whose absolute-form authority and Host field disagree is
	// refused rather than guessed at.
	Host []byte
	// ContentLength is the body length, or -1 when there is no
	// Content-Length (no body, or a chunked one).
	ContentLength int64
	Chunked       bool
	// KeepAlive reports whether the connection may carry another request
	// after this one: HTTP/1.1 unless "Connection: close", HTTP/1.0 only
	// with "Connection: keep-alive".
	KeepAlive bool
	// Upgrade is the Upgrade field's value when the request asks for a
	// protocol switch (HTTP/1.1, Upgrade present and listed in
	// Connection), else nil.
	Upgrade []byte
	// ExpectContinue is set for "Expect: 100-continue".
	ExpectContinue bool
}

// HasBody reports whether a body follows the head.
func (r *Request) HasBody() bool { return r.Chunked || r.ContentLength > 0 }

// AppendOriginForm appends the target in the form to send upstream:
// origin-form ("/path?query") for origin- and absolute-form targets (the
// authority of an absolute-form target is already in Host), the target as
// received for CONNECT and "*".
func (r *Request) AppendOriginForm(dst []byte) []byte {
	t := r.Target
	if len(t) == 0 || t[0] == '/' || string(r.Method) == "CONNECT" || string(t) == "*" {
		return append(dst, t...)
	}
	// Absolute-form was validated by checkTarget: skip "scheme://authority".
	i := bytes.Index(t, []byte("://"))
	rest := t[i+3:]
	j := 0
	for j < len(rest) && rest[j] != '/' && rest[j] != '?' && rest[j] != '#' {
		j++
	}
	rest = rest[j:]
	if len(rest) == 0 || rest[0] != '/' {
		dst = append(dst, '/')
	}
	return append(dst, rest...)
}

func (r *Request) reset() {
	r.Method, r.Target, r.Host, r.Upgrade = nil, nil, nil, nil
	r.Minor = 0
	r.Header.Reset()
	r.ContentLength = -1
	r.Chunked, r.KeepAlive, r.ExpectContinue = false, false, false
}

// Response is a parsed response head. Slices point into the Reader's
// buffer. The zero value is ready; reuse one Response per connection.
type Response struct {
	Minor  int
	Status int
	Reason []byte
	Header Header
	// ContentLength is the Content-Length value, or -1 when absent or
	// dropped because Transfer-Encoding is present (the field is then
	// deleted from Header too).
	ContentLength int64
	Chunked       bool
	// NoBody is set when the response cannot have a body whatever its
	// fields say: 1xx, 204, 304, an answer to HEAD, a tunnel.
	NoBody bool
	// BodyUntilClose is set when the body has no framing and ends when
	// the upstream closes; the connection is then not reusable.
	BodyUntilClose bool
	// KeepAlive reports whether the connection may carry another request.
	KeepAlive bool
	// Tunnel is set for 101 Switching Protocols and for a 2xx answer to
	// CONNECT: from here on the connection carries raw bytes.
	Tunnel bool
}

func (r *Response) reset() {
	r.Minor, r.Status = 0, 0
	r.Reason = nil
	r.Header.Reset()
	r.ContentLength = -1
	r.Chunked, r.NoBody, r.BodyUntilClose, r.KeepAlive, r.Tunnel = false, false, false, false, false
}

// Byte classes (RFC 9110 §5.6.2, §5.5, RFC 3986 §3.2.2).
var (
	isTchar     [256]bool
	isFieldByte [256]bool // field-content bytes plus SP/HTAB
	isHostByte  [256]bool
	isTargetByt [256]bool
)

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		isTchar[c] = alnum || bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), b) >= 0
		isFieldByte[c] = b == '\t' || (b >= 0x20 && b != 0x7f)
		isHostByte[c] = alnum || bytes.IndexByte([]byte("-._~%!$&'()*+,;=:[]"), b) >= 0
		isTargetByt[c] = b > 0x20 && b < 0x7f
	}
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTchar[c] {
			return false
		}
	}
	return true
}

func validHost(b []byte) bool {
	for _, c := range b {
		if !isHostByte[c] {
			return false
		}
	}
	return true
}

// framing collects what the fields say about framing and connection
// handling, before the start line's version is applied.
type framing struct {
	clCount, teCount, hostCount int
	cl                          int64
	clBad                       bool
	te, host, upgrade           []byte
	connClose, connKeepAlive    bool
	connUpgrade, expectContinue bool
	// lookalike is set for Content_Length or Transfer_Encoding: some
	// servers (CGI-style environments) read "_" as "-", so forwarding such
	// a field would give the next hop framing the proxy never saw.
	lookalike bool
}

// parseFields parses the field lines of a head or trailer section (block
// ends just before the empty line), appending to h and, if fr is not nil,
// recording framing fields.
func parseFields(block []byte, h *Header, fr *framing, lim *Limits, fail func(string) *Error) *Error {
	for len(block) > 0 {
		i := bytes.IndexByte(block, '\n')
		// readSection guaranteed every line ends in CRLF.
		line := block[: i-1 : i-1]
		block = block[i+1:]
		if line[0] == ' ' || line[0] == '\t' {
			return fail("obsolete line folding")
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return fail("field line without colon")
		}
		if colon == 0 {
			return fail("empty field name")
		}
		name := line[:colon:colon]
		for _, c := range name {
			if !isTchar[c] {
				if c == ' ' || c == '\t' {
					return fail("whitespace before colon")
				}
				return fail("invalid byte in field name")
			}
		}
		value := trimOWS(line[colon+1:])
		for _, c := range value {
			if !isFieldByte[c] {
				return fail("invalid byte in field value")
			}
		}
		if len(h.Fields) >= lim.MaxHeaderCount {
			return &Error{Status: statusHeaderTooLarge, Reason: "too many header fields"}
		}
		h.Fields = append(h.Fields, Field{Name: name, Value: value})
		if fr != nil {
			fr.note(name, value)
		}
	}
	return nil
}

func (fr *framing) note(name, value []byte) {
	switch len(name) {
	case 4:
		if equalFoldString(name, "host") {
			fr.hostCount++
			fr.host = value
		}
	case 6:
		if equalFoldString(name, "expect") && equalFoldString(value, "100-continue") {
			fr.expectContinue = true
		}
	case 7:
		if equalFoldString(name, "upgrade") {
			fr.upgrade = value
		}
	case 10:
		if equalFoldString(name, "connection") {
			forEachListElement(value, func(tok []byte) bool {
				switch {
				case equalFoldString(tok, "close"):
					fr.connClose = true
				case equalFoldString(tok, "keep-alive"):
					fr.connKeepAlive = true
				case equalFoldString(tok, "upgrade"):
					fr.connUpgrade = true
				}
				return true
			})
		}
	case 14:
		if equalFoldDash(name, "content-length") && !equalFoldString(name, "content-length") {
			fr.lookalike = true
		}
		if equalFoldString(name, "content-length") {
			fr.clCount++
			v, ok := ParseContentLength(value)
			if !ok {
				fr.clBad = true
			}
			fr.cl = v
		}
	case 17:
		if equalFoldDash(name, "transfer-encoding") && !equalFoldString(name, "transfer-encoding") {
			fr.lookalike = true
		}
		if equalFoldString(name, "transfer-encoding") {
			fr.teCount++
			fr.te = value
		}
	}
}

// equalFoldDash is equalFoldString with "_" in b read as "-".
func equalFoldDash(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '_' {
			c = '-'
		}
		if lower(c) != lower(s[i]) {
			return false
		}
	}
	return true
}

// ParseContentLength accepts 1*DIGIT that fits an int64, nothing else: no
// sign, no inner whitespace, no list. It is the one reading of a
// content-length Gantry has, for HTTP/1.1 and HTTP/2 requests alike.
func ParseContentLength[T ~string | ~[]byte](v T) (int64, bool) {
	if len(v) == 0 || len(v) > 19 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// checkTransferEncoding classifies a single Transfer-Encoding value: only
// exactly "chunked" is accepted; a single unknown coding is 501 (RFC 9112
// §6.1); anything list-shaped or chunked-looking is refused as smuggling.
func checkTransferEncoding(te []byte) *Error {
	if equalFoldString(te, "chunked") {
		return nil
	}
	if isToken(te) && !containsFold(te, "chunked") {
		return &Error{Status: statusNotImplemented, Reason: "unsupported transfer coding"}
	}
	return badRequest("invalid Transfer-Encoding")
}

func containsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if equalFoldString(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}

// parseVersion reads "HTTP/1.0" or "HTTP/1.1". Another well-formed version
// is 505, anything else 400.
func parseVersion(v []byte) (minor int, err *Error) {
	if len(v) == 8 && string(v[:7]) == "HTTP/1." && (v[7] == '0' || v[7] == '1') {
		return int(v[7] - '0'), nil
	}
	if len(v) == 8 && string(v[:5]) == "HTTP/" && isDigit(v[5]) && v[6] == '.' && isDigit(v[7]) {
		return 0, &Error{Status: statusVersionNotSupp, Reason: "HTTP version not supported"}
	}
	return 0, badRequest("malformed HTTP version")
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func parseRequest(head []byte, req *Request, lim *Limits) error {
	req.reset()
	if len(head) <= 2 {
		return badRequest("empty request line")
	}
	i := bytes.IndexByte(head, '\n')
	line := head[: i-1 : i-1]
	rest := head[i+1 : len(head)-2]

	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return badRequest("malformed request line")
	}
	method := line[:sp1:sp1]
	if !isToken(method) {
		return badRequest("invalid method")
	}
	rem := line[sp1+1:]
	sp2 := bytes.IndexByte(rem, ' ')
	if sp2 <= 0 {
		return badRequest("malformed request line")
	}
	target := rem[:sp2:sp2]
	for _, c := range target {
		if !isTargetByt[c] {
			return badRequest("invalid byte in request target")
		}
	}
	minor, verr := parseVersion(rem[sp2+1:])
	if verr != nil {
		return verr
	}
	req.Method, req.Target, req.Minor = method, target, minor

	var fr framing
	if err := parseFields(rest, &req.Header, &fr, lim, badRequest); err != nil {
		return err
	}

	if fr.lookalike {
		return badRequest("underscore in a framing field name")
	}
	if fr.teCount > 0 {
		if minor == 0 {
			return badRequest("Transfer-Encoding in HTTP/1.0 request")
		}
		if fr.clCount > 0 {
			return badRequest("both Content-Length and Transfer-Encoding")
		}
		if fr.teCount > 1 {
			return badRequest("repeated Transfer-Encoding")
		}
		if err := checkTransferEncoding(fr.te); err != nil {
			return err
		}
		req.Chunked = true
	}
	if fr.clCount > 1 {
		return badRequest("repeated Content-Length")
	}
	if fr.clBad {
		return badRequest("invalid Content-Length")
	}
	if fr.clCount == 1 {
		req.ContentLength = fr.cl
	}

	if fr.hostCount > 1 {
		return badRequest("repeated Host")
	}
	if fr.hostCount == 0 && minor == 1 {
		return badRequest("missing Host")
	}
	if !validHost(fr.host) {
		return badRequest("invalid Host")
	}
	req.Host = fr.host

	if err := checkTarget(req, &fr); err != nil {
		return err
	}

	req.ExpectContinue = fr.expectContinue && minor == 1
	if minor == 1 {
		req.KeepAlive = !fr.connClose
		if fr.connUpgrade && fr.upgrade != nil {
			req.Upgrade = fr.upgrade
		}
	} else {
		req.KeepAlive = fr.connKeepAlive && !fr.connClose
	}
	return nil
}

// checkTarget validates the request-target's form against the method and,
// for absolute-form, takes its authority as Host (RFC 9112 §3.2.2), refusing
// a Host field that disagrees.
func checkTarget(req *Request, fr *framing) *Error {
	t := req.Target
	// RFC 9112 section 3.2 has no fragment in any target form. Refusing '#'
	// keeps what we parse and what an origin parses from drifting apart.
	if bytes.IndexByte(t, '#') >= 0 {
		return badRequest("fragment in request target")
	}
	connect := string(req.Method) == "CONNECT"
	switch {
	case connect:
		// authority-form: host ":" port, nothing else.
		colon := bytes.LastIndexByte(t, ':')
		if colon <= 0 || colon == len(t)-1 || !validHost(t) || bytes.IndexByte(t, '@') >= 0 {
			return badRequest("CONNECT target must be host:port")
		}
		for _, c := range t[colon+1:] {
			if !isDigit(c) {
				return badRequest("CONNECT target must be host:port")
			}
		}
		if fr.hostCount == 1 && !equalFold(fr.host, t) {
			return badRequest("CONNECT target and Host disagree")
		}
		req.Host = t
	case t[0] == '/':
		return nil
	case len(t) == 1 && t[0] == '*':
		if string(req.Method) != "OPTIONS" {
			return badRequest("asterisk-form target outside OPTIONS")
		}
	default:
		var rest []byte
		switch {
		case len(t) > 7 && equalFoldString(t[:7], "http://"):
			rest = t[7:]
		case len(t) > 8 && equalFoldString(t[:8], "https://"):
			rest = t[8:]
		default:
			return badRequest("invalid request target")
		}
		end := len(rest)
		for i, c := range rest {
			if c == '/' || c == '?' || c == '#' {
				end = i
				break
			}
		}
		auth := rest[:end:end]
		if len(auth) == 0 || !validHost(auth) {
			return badRequest("invalid authority in request target")
		}
		if fr.hostCount == 1 && !equalFold(fr.host, auth) {
			return badRequest("request target authority and Host disagree")
		}
		req.Host = auth
	}
	return nil
}

// parseResponse parses a response head; every refusal is a 502 for the
// proxy's client.
func parseResponse(head []byte, resp *Response, method []byte, lim *Limits) error {
	resp.reset()
	if len(head) <= 2 {
		return badGateway("empty status line")
	}
	i := bytes.IndexByte(head, '\n')
	line := head[: i-1 : i-1]
	rest := head[i+1 : len(head)-2]

	// status-line = HTTP-version SP 3DIGIT SP [reason]; the SP before an
	// empty reason is often missing in the wild and is not needed to frame.
	if len(line) < 12 || line[8] != ' ' {
		return badGateway("malformed status line")
	}
	minor, verr := parseVersion(line[:8])
	if verr != nil {
		return badGateway("unsupported HTTP version in response")
	}
	code := line[9:12]
	if !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) {
		return badGateway("malformed status code")
	}
	status := int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if status < 100 || status > 599 {
		return badGateway("status code out of range")
	}
	var reason []byte
	if len(line) > 12 {
		if line[12] != ' ' {
			return badGateway("malformed status line")
		}
		reason = line[13:]
		for _, c := range reason {
			if !isFieldByte[c] {
				return badGateway("invalid byte in reason phrase")
			}
		}
	}
	resp.Minor, resp.Status, resp.Reason = minor, status, reason

	var fr framing
	if err := parseFields(rest, &resp.Header, &fr, lim, badGateway); err != nil {
		if err.Status == statusHeaderTooLarge {
			return badGateway(err.Reason)
		}
		return err
	}

	switch {
	case fr.lookalike:
		return badGateway("underscore in a framing field name")
	case fr.teCount > 0:
		if minor == 0 {
			return badGateway("Transfer-Encoding in HTTP/1.0 response")
		}
		if fr.teCount > 1 || !equalFoldString(fr.te, "chunked") {
			return badGateway("unsupported Transfer-Encoding in response")
		}
		resp.Chunked = true
		if fr.clCount > 0 {
			// RFC 9112 §6.3: Transfer-Encoding overrides; forwarding both
			// would hand the next hop the same ambiguity.
			resp.Header.Del("Content-Length")
		}
	case fr.clCount > 1:
		return badGateway("repeated Content-Length in response")
	case fr.clBad:
		return badGateway("invalid Content-Length in response")
	case fr.clCount == 1:
		resp.ContentLength = fr.cl
	}

	head1xx := status < 200
	switch {
	case status == 101:
		resp.Tunnel = true
	case string(method) == "CONNECT" && status < 300 && status >= 200:
		resp.Tunnel = true
	}
	resp.NoBody = head1xx || resp.Tunnel || status == 204 || status == 304 || string(method) == "HEAD"
	if resp.NoBody {
		resp.Chunked = false
	} else if !resp.Chunked && fr.clCount == 0 {
		resp.BodyUntilClose = true
	}

	switch {
	case resp.Tunnel || resp.BodyUntilClose:
		resp.KeepAlive = false
	case minor == 1:
		resp.KeepAlive = !fr.connClose
	default:
		resp.KeepAlive = fr.connKeepAlive && !fr.connClose
	}
	return nil
}
