// Command vulndb builds an offline copy of the Go vulnerability database for
// govulncheck's -db file:///… flag, from the golang.org/x/vulndb module as
// the Go module proxy serves it.
//
// The module carries one OSV JSON file per advisory under data/osv. This
// program turns that flat directory into the layout govulncheck reads
// (https://go.dev/security/vuln/database#api): index/db.json,
// index/modules.json, index/vulns.json and ID/<GO-ID>.json. It uses the
// standard library only, so the audit does not widen the module graph it
// audits.
//
// The output is a pure function of the input: entries and indexes are sorted,
// JSON is compacted, and advisories whose "modified" time the module leaves
// unset get the time of the module's pseudo-version. Two builds from the same
// module version are byte-identical; the printed digest shows it.
//
// It must never reach the network itself (the only download is `go mod
// download`, which checks the module against go.sum's database and the pinned
// -sum), and never write outside -out.
package main
