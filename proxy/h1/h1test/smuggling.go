package h1test

import "strings"

// Case is one raw request that must be refused.
type Case struct {
	Name string
	// Raw is the whole request as sent on the wire.
	Raw string
	// WantStatus is the status a server must answer before closing.
	WantStatus int
	// InBody is set when the defect is in the body (chunk framing): the
	// head is valid and the error only shows while the body is read, so a
	// streaming proxy may already have sent the head upstream.
	InBody bool
}

const post = "POST / HTTP/1.1\r\nHost: example.com\r\n"

// Smuggling is the corpus. Every case assumes the codec's default limits.
var Smuggling = []Case{
	// Content-Length and Transfer-Encoding together (RFC 9112 §6.1).
	{Name: "CL.TE", WantStatus: 400, Raw: post + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX"},
	{Name: "TE.CL", WantStatus: 400, Raw: post + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n"},
	{Name: "TE.CL zero length", WantStatus: 400, Raw: post + "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n"},

	// Content-Length syntax (RFC 9110 §8.6).
	{Name: "CL differing repeats", WantStatus: 400, Raw: post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
	{Name: "CL identical repeats", WantStatus: 400, Raw: post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
	{Name: "CL list", WantStatus: 400, Raw: post + "Content-Length: 5, 5\r\n\r\nhello"},
	{Name: "CL plus sign", WantStatus: 400, Raw: post + "Content-Length: +5\r\n\r\nhello"},
	{Name: "CL negative", WantStatus: 400, Raw: post + "Content-Length: -1\r\n\r\n"},
	{Name: "CL inner space", WantStatus: 400, Raw: post + "Content-Length: 1 0\r\n\r\n0123456789"},
	{Name: "CL empty", WantStatus: 400, Raw: post + "Content-Length: \r\n\r\n"},
	{Name: "CL hex", WantStatus: 400, Raw: post + "Content-Length: 0x5\r\n\r\nhello"},
	{Name: "CL overflow", WantStatus: 400, Raw: post + "Content-Length: 99999999999999999999\r\n\r\n"},
	{Name: "CL int64 overflow by one", WantStatus: 400, Raw: post + "Content-Length: 9223372036854775808\r\n\r\n"},
	{Name: "CL vertical tab", WantStatus: 400, Raw: post + "Content-Length: 5\x0b\r\n\r\nhello"},

	// Transfer-Encoding values (RFC 9112 §6.1, §7).
	{Name: "TE chunked twice in list", WantStatus: 400, Raw: post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"},
	{Name: "TE chunked in two fields", WantStatus: 400, Raw: post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{Name: "TE gzip alone", WantStatus: 501, Raw: post + "Transfer-Encoding: gzip\r\n\r\n"},
	{Name: "TE identity", WantStatus: 501, Raw: post + "Transfer-Encoding: identity\r\n\r\n"},
	{Name: "TE chunked then gzip", WantStatus: 400, Raw: post + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"},
	{Name: "TE gzip then chunked", WantStatus: 400, Raw: post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
	{Name: "TE xchunked", WantStatus: 400, Raw: post + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"},
	{Name: "TE chunked semicolon", WantStatus: 400, Raw: post + "Transfer-Encoding: chunked;\r\n\r\n0\r\n\r\n"},
	{Name: "TE quoted chunked", WantStatus: 400, Raw: post + "Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n"},
	{Name: "TE empty", WantStatus: 400, Raw: post + "Transfer-Encoding: \r\n\r\n0\r\n\r\n"},
	{Name: "TE on HTTP/1.0", WantStatus: 400, Raw: "POST / HTTP/1.0\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},

	// Field syntax (RFC 9112 §5).
	{Name: "space before colon TE", WantStatus: 400, Raw: post + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"},
	{Name: "space before colon CL", WantStatus: 400, Raw: post + "Content-Length : 5\r\n\r\nhello"},
	{Name: "tab before colon", WantStatus: 400, Raw: post + "Content-Length\t: 5\r\n\r\nhello"},
	{Name: "obs-fold TE", WantStatus: 400, Raw: post + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"},
	{Name: "obs-fold other", WantStatus: 400, Raw: "GET / HTTP/1.1\r\nHost: example.com\r\nX-A: a\r\n\tb\r\n\r\n"},
	{Name: "obs-fold first field", WantStatus: 400, Raw: "GET / HTTP/1.1\r\n Host: example.com\r\n\r\n"},
	{Name: "empty field name", WantStatus: 400, Raw: "GET / HTTP/1.1\r\nHost: example.com\r\n: x\r\n\r\n"},
	{Name: "no colon", WantStatus: 400, Raw: "GET / HTTP/1.1\r\nHost: example.com\r\nX-A\r\n\r\n"},
	{Name: "invalid name byte", WantStatus: 400, Raw: "GET / HTTP/1.1\r\nHost: example.com\r\nX(A): b\r\n\r\n"},
	{Name: "underscore TE lookalike", WantStatus: 400, Raw: post + "Transfer_Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{Name: "underscore CL lookalike", WantStatus: 400, Raw: post + "Content_Length: 5\r\n\r\nhello"},
	{Name: "vertical tab in TE name", WantStatus: 400, Raw: post + "Transfer-Encoding\x0b: chunked\r\n\r\n0\r\n\r\n"},
	{Name: "NUL in value", WantStatus: 400, Raw: "GET / HTTP/1.1\r\nHost: example.com\r\nX-A: a\x00b\r\n\r\n"},
	{Name: "DEL in value", WantStatus: 400, Raw: "GET / HTTP/1.1\r\nHost: example.com\r\nX-A: a\x7fb\r\n\r\n"},
	{Name: "bare CR in value", WantStatus: 400, Raw: "GET / HTTP/1.1\r\nHost: example.com\r\nX-A: a\rContent-Length: 5\r\n\r\nhello"},
	{Name: "bare LF everywhere", WantStatus: 400, Raw: "GET / HTTP/1.1\nHost: example.com\n\n"},
	{Name: "bare LF in one field", WantStatus: 400, Raw: "GET / HTTP/1.1\r\nHost: example.com\nContent-Length: 5\r\n\r\nhello"},
	{Name: "bare LF ends head", WantStatus: 400, Raw: "GET / HTTP/1.1\r\nHost: example.com\r\n\n"},

	// Request line (RFC 9112 §3).
	{Name: "double space", WantStatus: 400, Raw: "GET  / HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{Name: "trailing space", WantStatus: 400, Raw: "GET / HTTP/1.1 \r\nHost: example.com\r\n\r\n"},
	{Name: "tab separator", WantStatus: 400, Raw: "GET\t/ HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{Name: "HTTP/0.9 line", WantStatus: 400, Raw: "GET /\r\n\r\n"},
	{Name: "invalid method", WantStatus: 400, Raw: "G@T / HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{Name: "control in target", WantStatus: 400, Raw: "GET /a\x01b HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{Name: "non-ASCII target", WantStatus: 400, Raw: "GET /\xc3\xa9 HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{Name: "relative target", WantStatus: 400, Raw: "GET foo HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{Name: "HTTP/1.2", WantStatus: 505, Raw: "GET / HTTP/1.2\r\nHost: example.com\r\n\r\n"},
	{Name: "HTTP/2.0", WantStatus: 505, Raw: "GET / HTTP/2.0\r\nHost: example.com\r\n\r\n"},
	{Name: "lower-case version", WantStatus: 400, Raw: "GET / http/1.1\r\nHost: example.com\r\n\r\n"},
	{Name: "garbage version", WantStatus: 400, Raw: "GET / HTTP/1.1x\r\nHost: example.com\r\n\r\n"},

	// Host (RFC 9112 §3.2, §3.2.2).
	{Name: "missing Host", WantStatus: 400, Raw: "GET / HTTP/1.1\r\n\r\n"},
	{Name: "repeated Host", WantStatus: 400, Raw: "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n"},
	{Name: "Host with space", WantStatus: 400, Raw: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"},
	{Name: "Host with userinfo", WantStatus: 400, Raw: "GET / HTTP/1.1\r\nHost: user@a.example\r\n\r\n"},
	{Name: "Host with slash", WantStatus: 400, Raw: "GET / HTTP/1.1\r\nHost: a.example/evil\r\n\r\n"},
	{Name: "absolute-form disagrees with Host", WantStatus: 400, Raw: "GET http://internal.example/ HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{Name: "absolute-form with userinfo", WantStatus: 400, Raw: "GET http://user@example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{Name: "absolute-form other scheme", WantStatus: 400, Raw: "GET gopher://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{Name: "CONNECT with path", WantStatus: 400, Raw: "CONNECT /x HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{Name: "asterisk outside OPTIONS", WantStatus: 400, Raw: "GET * HTTP/1.1\r\nHost: example.com\r\n\r\n"},

	// Chunked bodies (RFC 9112 §7.1).
	{Name: "chunk size not hex", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk size 0x prefix", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk size negative", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk size overflow", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk size trailing space", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk size empty", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk size bare LF", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"},
	{Name: "chunk data without CRLF", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX0\r\n\r\n"},
	{Name: "chunk data longer than size", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk data bare LF", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n"},
	{Name: "chunk ext bad byte", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n5;a\x01b\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk ext unterminated quote", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n5;a=\"b\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk ext whitespace", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n5 ;a=b\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk size 17 digits", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk ext empty name", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n5;=b\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk ext oversized", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n5;a=" + strings.Repeat("b", 8<<10) + "\r\nhello\r\n0\r\n\r\n"},
	{Name: "trailer obs-fold", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\r\n b\r\n\r\n"},
	{Name: "trailer bare LF", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\n\r\n"},
	{Name: "trailer too large", WantStatus: 400, InBody: true, Raw: post + "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: " + strings.Repeat("a", 20<<10) + "\r\n\r\n"},

	// Request targets (RFC 9112 §3.2): no fragment in any form, so what we
	// route on and what the origin parses cannot differ.
	{Name: "fragment in absolute-form target", WantStatus: 400, Raw: "GET http://example.com#frag/x?y HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{Name: "fragment in origin-form target", WantStatus: 400, Raw: "GET /a#b HTTP/1.1\r\nHost: example.com\r\n\r\n"},

	// Limits.
	{Name: "header section too large", WantStatus: 431, Raw: "GET / HTTP/1.1\r\nHost: example.com\r\nX-Big: " + strings.Repeat("a", 70<<10) + "\r\n\r\n"},
	{Name: "too many fields", WantStatus: 431, Raw: "GET / HTTP/1.1\r\nHost: example.com\r\n" + strings.Repeat("X-A: b\r\n", 120) + "\r\n"},
	{Name: "request line too long", WantStatus: 414, Raw: "GET /" + strings.Repeat("a", 70<<10) + " HTTP/1.1\r\nHost: example.com\r\n\r\n"},
}
