// A deliberately vulnerable module for the audit's self-test (make
// audit-selftest): it pins golang.org/x/net below the fix for GO-2024-2687
// (HTTP/2 CONTINUATION flood) and calls the vulnerable code, so govulncheck
// with the offline database must report it. It lives under testdata so that
// it is never part of the main module's build.
module example.com/gantry/vulnerable

go 1.22

require golang.org/x/net v0.22.0

require golang.org/x/text v0.14.0 // indirect
