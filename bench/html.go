package bench

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// WriteHTML writes report.html: one self-contained file (no scripts,
// styles or images from elsewhere) with the chart inline and the table,
// for attaching to an issue or opening from a CI artefact. The tables are
// converted from table.md's own text, so the two can never disagree.
func WriteHTML(w io.Writer, r *Report, tableMD, chartSVG string) error {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gantry benchmarks</title>
<style>
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; max-width: 1100px; margin: 1.5em auto; padding: 0 1em; color: #111; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f2f2f2; }
.chart svg { max-width: 100%; height: auto; }
</style></head><body>
<h1>Gantry benchmarks</h1>
`)
	fmt.Fprintf(&b, "<p>Started %s on %s; %s.</p>\n", html.EscapeString(r.Started), html.EscapeString(r.Host), html.EscapeString(r.Go))
	b.WriteString("<div class=\"chart\">\n")
	// The SVG's XML prolog is not allowed inside HTML.
	svg := chartSVG
	if i := strings.Index(svg, "<svg"); i > 0 {
		svg = svg[i:]
	}
	b.WriteString(svg)
	b.WriteString("\n</div>\n")
	b.WriteString(markdownToHTML(tableMD))
	b.WriteString("</body></html>\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("bench: write HTML report: %w", err)
	}
	return nil
}

// markdownToHTML converts the subset of Markdown WriteTable emits: pipe
// tables (the first row a header, the second the separator), "- " lists
// and paragraphs.
func markdownToHTML(md string) string {
	var b strings.Builder
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "":
		case strings.HasPrefix(line, "|"):
			b.WriteString("<table>\n")
			header := true
			for ; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
				cells := strings.Split(strings.Trim(strings.TrimSpace(lines[i]), "|"), "|")
				if strings.Trim(strings.Join(cells, ""), "-: ") == "" {
					continue // the separator row
				}
				tag := "td"
				if header {
					tag = "th"
					b.WriteString("<thead>")
				}
				b.WriteString("<tr>")
				for _, c := range cells {
					fmt.Fprintf(&b, "<%s>%s</%s>", tag, html.EscapeString(strings.TrimSpace(c)), tag)
				}
				b.WriteString("</tr>")
				if header {
					b.WriteString("</thead>")
					header = false
				}
				b.WriteString("\n")
			}
			i--
			b.WriteString("</table>\n")
		case strings.HasPrefix(line, "- "):
			b.WriteString("<ul>\n")
			for ; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "- "); i++ {
				fmt.Fprintf(&b, "<li>%s</li>\n", html.EscapeString(strings.TrimPrefix(strings.TrimSpace(lines[i]), "- ")))
			}
			i--
			b.WriteString("</ul>\n")
		default:
			fmt.Fprintf(&b, "<p>%s</p>\n", html.EscapeString(line))
		}
	}
	return b.String()
}
