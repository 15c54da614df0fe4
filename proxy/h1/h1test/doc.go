// Package h1test holds test data for the HTTP/1.1 codec that other packages'
// tests reuse: a corpus of requests a strict proxy must refuse. It is test
// support only and must never be imported by production code.
package h1test
