// Package config reads Gantry's YAML configuration strictly and turns it into
// proxy.Options.
//
// Decoding walks the YAML node tree itself rather than relying on struct
// unmarshalling, so that every error — an unknown key, a bad duration, a
// missing certificate file, a route to an undefined upstream — names the
// file, the line and the dotted key (`gantry.yaml:14: listeners[0].tls.backend:
// ...`). Everything, including the certificate and CA files, is loaded and
// checked by Load before anything is served, so `gantry check` and `gantry
// serve` fail the same way.
//
// This package must never ignore a key it does not know, never turn a
// timeout off (every timeout is finite; zero or negative values are refused),
// never start listeners or dial anything, and never log secrets or key
// material.
package config
