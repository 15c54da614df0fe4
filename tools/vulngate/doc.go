// Command vulngate decides whether a govulncheck run fails the audit.
//
// It reads govulncheck's -format json stream and fails when a vulnerability
// is reachable (a finding with a call trace down to a vulnerable function)
// unless the accept file lists that advisory for that module, with a reason.
// Acceptances are per module: accepting GO-2026-6617 for "stdlib" does not
// accept the same advisory in golang.org/x/net. Findings that are only
// imported or required, not called, are listed but never fail the audit.
//
// It must never accept a finding that the accept file does not name, and
// never treat unreadable input as a clean result.
package main
