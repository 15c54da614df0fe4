// Package certs is where Gantry's certificates come from: the files a TLS
// server or client reads (certificate chains, private keys, CA bundles,
// session ticket keys), loaded into the TLS seam's types, and recompiled
// and swapped in when they change.
//
// ServerFiles and ClientFiles are the YAML side of those files. Their Load
// reports every problem at once, each as a *tls.FieldError naming the key
// that set the file, so that a config reader can point at the line. Server
// and Client hold a compiled gantrytls.Server or Client and replace it
// atomically on Reload; a reload that fails changes nothing.
//
// NewECHKey makes an Encrypted ClientHello key and its ECHConfig, and
// ParseECHKeyPEM / WriteECHKeyFile read and write the PEM file that holds
// both (`gantry certs ech`); ServerFiles.ECH loads such files as private
// keys.
// A Server staples OCSP responses with the certificates that have an OCSP
// source (a file, or the certificate's responder), keeps fetched ones in a
// cache directory, and refreshes them in the background at half their
// validity, recompiling with the new staples; Close stops that.
//
// NewDevCA makes a development certificate authority in memory that issues
// server and client certificates, for the embedded default config (`gantry
// serve` with no file), for `gantry certs dev`, and for tests that need a
// real chain. It is for development only, never for production: its key
// lives in process memory, it is not persisted (so it cannot be revoked or
// audited), and whatever trusts it trusts anything it issued.
//
// This package must never:
//   - log, print or put into an error the contents of a key, a ticket key,
//     an ECH key or a certificate file (errors name files, and certificates by
//     subject, nothing more);
//   - serve a half-loaded set: a load either yields everything the files
//     name, checked, or an error and nothing, and a reload that fails
//     leaves the previous set serving;
//   - read or write a private key anywhere but the files a caller names,
//     or write one with permissions wider than 0600;
//   - close what connections still use: a connection accepted before a
//     reload keeps working with the certificates it was accepted with;
//   - staple an OCSP response it has not checked against the certificate
//     and its issuer, or one that is expired, revoked or about another
//     certificate;
//   - fetch from anything but the http:// responder a certificate names,
//     or leave a refresher running after Close.
package certs
