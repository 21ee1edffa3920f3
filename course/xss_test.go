package course

import (
	"regexp"
	"strings"
	"testing"
)

// xssCorpus are attacks through Markdown: none may survive rendering.
var xssCorpus = []string{
	`<script>alert(1)</script>`,
	`<SCRIPT SRC=//evil.example/x.js></SCRIPT>`,
	`<img src=x onerror=alert(1)>`,
	`<svg onload=alert(1)>`,
	`<svg><script>alert(1)</script></svg>`,
	`<body onload=alert(1)>`,
	`<iframe src="javascript:alert(1)"></iframe>`,
	`<a href="javascript:alert(1)">x</a>`,
	`[x](javascript:alert(1))`,
	`[x](JavaScript:alert(1))`,
	`[x](javascript&colon;alert(1))`,
	`[x](javascript&#58;alert(1))`,
	`[x](javascript&#x3A;alert(1))`,
	`[x](  javascript:alert(1))`,
	"[x](java\tscript:alert(1))",
	`[x](jav&#x09;ascript:alert(1))`,
	`[x](vbscript:msgbox(1))`,
	`[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`,
	`![x](javascript:alert(1))`,
	`![x](data:image/svg+xml,<svg onload=alert(1)>)`,
	`<javascript:alert(1)>`,
	`[x](<javascript:alert(1)>)`,
	`[x]: javascript:alert(1)` + "\n\n[x]",
	`[x](https://example.fi "title\" onmouseover=\"alert(1))`,
	`<a href="https://example.fi" onclick="alert(1)">x</a>`,
	`<div style="background:url(javascript:alert(1))">x</div>`,
	`<object data="x.swf"></object>`,
	`<embed src="x.swf">`,
	`<form action="javascript:alert(1)"><button>x</button></form>`,
	`<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`,
	`<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`,
	`<base href="javascript:alert(1)//">`,
	`::kuva[x]{src="javascript:alert(1)" alt="x"}`,
	`::kuva[x" onerror="alert(1)]{src="kuvat/kaavio.svg" alt="x\" onerror=\"alert(1)"}`,
	`::video[<img src=x onerror=alert(1)>]{#m-video}`,
	`:::tehtava[</h3><script>alert(1)</script>]{vastaus}` + "\nx\n:::",
	`:::info[<svg onload=alert(1)>]` + "\nx\n:::",
	`:::tehtava[x]{#"><script>alert(1)</script>}` + "\nx\n:::",
	`[x](sanasto:"><script>alert(1)</script>)`,
	`[x](laki:612/2021#"><script>)`,
	"```html\n<script>alert(1)</script>\n```",
	`<!-- --><script>alert(1)</script><!-- -->`,
	`<![CDATA[<script>alert(1)</script>]]>`,
	`&lt;script&gt;alert(1)&lt;/script&gt;`,
}

var (
	scriptTag    = regexp.MustCompile(`(?i)<\s*(script|iframe|object|embed|form|meta|base|style|svg|math|body)\b`)
	eventAttr    = regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`)
	dangerousURL = regexp.MustCompile(`(?i)(href|src)\s*=\s*"\s*(javascript|vbscript|data|file):`)
	styleAttr    = regexp.MustCompile(`(?i)<[^>]*\sstyle\s*=`)
)

// unsafe reports what in rendered HTML could run script.
func unsafe(h string) string {
	for _, re := range []*regexp.Regexp{scriptTag, eventAttr, dangerousURL, styleAttr} {
		if m := re.FindString(h); m != "" {
			return m
		}
	}
	return ""
}

func TestXSSCorpus(t *testing.T) {
	if len(xssCorpus) < 30 {
		t.Fatalf("corpus has %d payloads, want at least 30", len(xssCorpus))
	}
	for _, payload := range xssCorpus {
		for _, src := range []string{payload, "Teksti " + payload + " jatkuu.", "- " + payload, "> " + payload, "| a |\n|---|\n| " + payload + " |"} {
			r, _ := Render([]byte(src), testEnv())
			if bad := unsafe(r.HTML); bad != "" {
				t.Errorf("payload %q survived as %q in:\n%s", payload, bad, r.HTML)
			}
			if strings.Contains(strings.ToLower(r.HTML), "javascript:") && strings.Contains(r.HTML, "href=") &&
				regexp.MustCompile(`(?i)href="[^"]*javascript:`).MatchString(r.HTML) {
				t.Errorf("payload %q left a javascript: link:\n%s", payload, r.HTML)
			}
		}
	}
}

// Frontmatter values reach pages through html/template, which escapes
// them; Markdown fields of course.yaml go through the same pipeline as the
// sections. Both are checked with the whole corpus in a loaded course.
func TestXSSThroughFrontmatter(t *testing.T) {
	for _, payload := range xssCorpus[:12] {
		fsys := fixtureWith(t, map[string]string{
			"course.yaml": strings.Replace(readFixture(t, "course.yaml"), "what: |\n  Testikurssi kertoo *testaamisesta*.", "what: |\n  "+strings.ReplaceAll(payload, "\n", " "), 1),
		})
		c, _ := Load(fsys)
		if bad := unsafe(c.FrontHTML["what"]); bad != "" {
			t.Errorf("payload %q in course.yaml survived as %q", payload, bad)
		}
	}
}

func TestSafeURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://kela.fi": true, "http://x.fi/a?b=c": true, "mailto:a@b.fi": true, "/sanasto": true, "../x.md": true, "#ankkuri": true,
		"javascript:alert(1)": false, "JAVASCRIPT:alert(1)": false, "vbscript:x": false, "data:text/html,x": false, "file:///etc/passwd": false,
		"ftp://x": false, "java\nscript:x": false,
	} {
		if got := safeURL(u); got != want {
			t.Errorf("safeURL(%q) = %v, want %v", u, got, want)
		}
	}
}
