// Package h1 is Gantry's own HTTP/1.1 codec: a strict parser for request and
// response heads and bodies, and writers for heads and chunked bodies. The
// proxy's downstream server loop and its pooled upstream client are built on
// it.
//
// # Strict by construction
//
// Anything whose framing could be read two ways is refused before a body
// byte is read (RFC 9112 §2.2, §3, §5, §6, §7; RFC 9110 §5.5): both
// Content-Length and Transfer-Encoding; a Content-Length that is not plain
// digits, repeated (even with equal values) or a list; a Transfer-Encoding
// other than exactly "chunked" (a single unknown coding is 501, anything
// list- or chunked-shaped 400), or on HTTP/1.0; obs-fold; whitespace before
// a colon; Content_Length or Transfer_Encoding (servers that read "_" as "-"
// would see framing the proxy did not); invalid name or value bytes; lines
// not ended by CRLF; malformed request lines; HTTP versions other than 1.0
// and 1.1 (505); a missing, repeated or invalid Host; malformed chunk sizes
// and extensions (more than 16 hex digits, or whitespace in a chunk line, is
// refused too: the grammar's BWS there is read differently by other
// parsers). Requests get an *Error with the status to answer before closing
// (400, 414, 431, 501, 505). Empty lines before a request line are skipped
// (RFC 9112 §2.2).
//
// An absolute-form target ("GET http://a/ HTTP/1.1") is accepted for http
// and https; its authority becomes Request.Host, and a Host field that
// disagrees with it (case-insensitively, byte for byte otherwise) is
// refused, so the proxy and the upstream cannot route the request to two
// different places.
//
// Responses from upstreams are checked the same way, with every refusal a
// 502; their Transfer-Encoding must be exactly "chunked", and a
// Content-Length beside it is dropped from the header (RFC 9112 §6.3).
//
// # Buffers and lifetimes
//
// A Reader owns one buffer per connection (4 KiB, growing up to
// Limits.MaxHeaderBytes for a large head). Everything a parsed head holds
// (Method, Target, Host, header fields, Reason, trailers) points into it and
// stays valid, unchanged, until the next ReadRequest, ReadResponse or Reset;
// reading the body never moves it. Reusing one Request or Response and one
// Reader per connection makes reading a typical request allocate nothing.
//
// A body must be read to io.EOF (or dropped with Reader.Discard) before the
// next message is read, or the connection closed. Body bytes are read
// straight into the caller's slice when nothing is buffered, and never past
// the end of the message.
//
// A proxy forwards a chunked body by decoding it here and encoding it again
// with ChunkedWriter, never by copying chunk lines through, and forwards an
// absolute-form target with Request.AppendOriginForm.
//
// For a tunnel (CONNECT, or Upgrade after 101), Reader.TakeBuffered hands
// over the bytes already read from the connection; after that the Reader is
// only reused through Reset.
//
// # Never
//
// This package never allocates per message on the hot path, never accepts a
// head it would have to guess the framing of, never writes a head whose
// fields contain CR, LF or other controls (AppendRequestHead and
// AppendResponseHead check every byte), never reads without a limit, and
// never logs or keeps message contents beyond the lifetimes above. It knows
// nothing of TLS, connections or timeouts: callers set deadlines on their
// conns.
package h1
