// Package mtls is Gantry's client-certificate policy: which verified
// client certificates may connect to a listener or reach a route (Rules,
// compiled into a Policy), who the client is (Identity), and how that
// identity is told to the upstream (Forward: RFC 9440 Client-Cert and
// Client-Cert-Chain, Envoy-style X-Forwarded-Client-Cert).
//
// It only judges certificates that were already verified: chain building,
// expiry and revocation are the TLS layer's (tls.PeerVerifier). A Policy
// must never be used on an unverified certificate, since anyone can put any
// name in a certificate they sign themselves; the proxy refuses a config
// that asks for rules or forwarding on a listener whose client_auth mode
// does not verify.
//
// The package must never log, and never put a certificate, a key or a
// refusal's detail anywhere a client can read it: a refusal is a Reason
// from a fixed set, fit for a metric label, and the caller decides where it
// goes (the operational log and metrics, never a response body). It knows
// nothing of HTTP beyond the text of the header values it builds.
package mtls
