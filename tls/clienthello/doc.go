// Package clienthello reads a TLS ClientHello off a connection before any
// TLS library sees it, so that Gantry can judge the client (server name
// allow-lists, JA4 fingerprints) with the same code whichever backend then
// runs the handshake.
//
// It is a parser and nothing more: it never answers the client, never
// decrypts or verifies anything, and never allocates more than its caller's
// limit for one hello. Whatever it read is handed back verbatim so the
// caller can replay it to the real handshake. It is pure Go and must stay
// so (no cgo, no unsafe): it parses bytes from anyone on the network.
package clienthello
